package bitrix24

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/connector-gateway/connector/portal"
)

// install takes Bitrix24's installation callback (the local application's
// initial installation path, or its ONAPPINSTALL event): the auth fields
// become the portal's tokens, stored sealed, and the connector is
// registered and its events bound anew with the next message, since a
// (re)installation drops the old bindings. The path's secret is the
// authentication; compared in constant time.
func (a *Adapter) install(w http.ResponseWriter, r *http.Request, p portal.Portal, secret string) {
	want := p.Adapter[SettingInstallSecret]
	if want == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(want)) != 1 {
		http.Error(w, "bitrix24: not this portal's installation path", http.StatusUnauthorized)
		return
	}
	if err := r.ParseForm(); err != nil {
		if tooLarge(err) {
			http.Error(w, "bitrix24: the installation is over the body limit", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "bitrix24: the installation is not a readable form", http.StatusBadRequest)
		return
	}
	form := parseNested(r.PostForm)
	auth := form.child("auth")
	got := map[string]string{
		SettingAccessToken:      auth.get("access_token"),
		SettingRefreshToken:     auth.get("refresh_token"),
		SettingExpires:          auth.get("expires"),
		SettingApplicationToken: auth.get("application_token"),
		SettingEndpoint:         auth.get("client_endpoint"),
		SettingDomain:           auth.get("domain"),
	}
	if got[SettingAccessToken] == "" { // an application with a UI posts its install page so
		got[SettingAccessToken], got[SettingRefreshToken] = form.get("AUTH_ID"), form.get("REFRESH_ID")
		got[SettingDomain] = form.get("DOMAIN")
		if in, err := strconv.ParseInt(form.get("AUTH_EXPIRES"), 10, 64); err == nil && in > 0 {
			got[SettingExpires] = strconv.FormatInt(a.now().Unix()+in, 10)
		}
	}
	if got[SettingExpires] == "" {
		if in, err := strconv.ParseInt(auth.get("expires_in"), 10, 64); err == nil && in > 0 {
			got[SettingExpires] = strconv.FormatInt(a.now().Unix()+in, 10)
		}
	}
	if got[SettingAccessToken] == "" || got[SettingRefreshToken] == "" {
		http.Error(w, "bitrix24: the installation carries no auth[access_token] and auth[refresh_token]", http.StatusBadRequest)
		return
	}
	if err := a.storeInstall(r.Context(), p.ID, got); err != nil {
		a.log().Error("bitrix24: store the installation", slog.String("portal", p.ID), slog.Any("err", err))
		http.Error(w, "bitrix24: could not store the installation; try again", http.StatusServiceUnavailable)
		return
	}
	writeOK(w)
}

func (a *Adapter) storeInstall(ctx context.Context, portalID string, got map[string]string) error {
	a.refreshMu.Lock()
	defer a.refreshMu.Unlock()
	var next map[string]string
	err := a.Portals.UpdatePortalAdapter(ctx, portalID, func(cur portal.Portal) (string, map[string]string, error) {
		next = copySettings(cur.Adapter)
		for k, v := range got {
			if v == "" {
				continue
			}
			if k == SettingDomain && next[SettingEndpoint] != "" {
				continue // the endpoint already says where to call
			}
			next[k] = v
		}
		return portal.KindBitrix24, next, nil
	})
	if err != nil {
		return err
	}
	s := &session{a: a, portalID: portalID, set: next}
	marks := map[string]string{"connector:" + s.connectorID(): ""}
	for k, line := range next {
		if k == SettingLine || strings.HasPrefix(k, SettingLinePrefix) {
			marks["active:"+s.connectorID()+":"+line] = ""
		}
	}
	if err := a.IDs.Put(ctx, portalID, marks); err != nil {
		return fmt.Errorf("bitrix24: forget the old registration: %w", err)
	}
	return nil
}
