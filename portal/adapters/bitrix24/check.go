package bitrix24

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/connector-gateway/connector/portal"
)

// Test checks the portal's stored settings against Bitrix24 without
// changing anything there: the address answers, the access token is
// accepted (renewed and stored if it expired, as for a delivery), the
// application is installed, and the connector is active on each
// configured Open Line once it has been registered.
func (a *Adapter) Test(ctx context.Context, p portal.Portal) error {
	return a.test(ctx, a.session(p))
}

// TestSettings is Test of settings about to be saved (p.Adapter): it
// calls Bitrix24 with their own address, credentials and tokens, and
// returns them with the tokens it renewed, also when a later check
// failed. The renewal spent the refresh token given, so the old pair
// must never be saved again; where the stored settings held that refresh
// token, the renewed pair is stored at once (refresh).
func (a *Adapter) TestSettings(ctx context.Context, p portal.Portal, stored map[string]string) (map[string]string, error) {
	s := a.session(p)
	s.stored = stored != nil && s.set[SettingAccessToken] == stored[SettingAccessToken] && s.set[SettingRefreshToken] == stored[SettingRefreshToken]
	err := a.test(ctx, s)
	return s.set, err
}

func (a *Adapter) test(ctx context.Context, s *session) error {
	var missing []string
	for _, k := range []string{SettingAccessToken, SettingApplicationToken} {
		if strings.TrimSpace(s.set[k]) == "" {
			missing = append(missing, k)
		}
	}
	if s.endpoint() == "" {
		missing = append(missing, SettingDomain)
	}
	if len(missing) > 0 {
		return fmt.Errorf("bitrix24: settings missing: %s", strings.Join(missing, ", "))
	}
	var app struct {
		Installed      bool   `json:"INSTALLED"`
		PaymentExpired string `json:"PAYMENT_EXPIRED"`
	}
	if err := s.call(ctx, "app.info", nil, &app); err != nil {
		var be *Error
		if errors.As(err, &be) {
			return fmt.Errorf("bitrix24: %w", err)
		}
		return fmt.Errorf("bitrix24: %s: %w", s.endpoint(), err)
	}
	if !app.Installed {
		return errors.New("bitrix24: the application is not fully installed in Bitrix24: open it once in Bitrix24 to finish the installation")
	}
	if app.PaymentExpired == "Y" {
		return errors.New("bitrix24: the application's paid or trial period has expired in Bitrix24")
	}
	if v, _, err := a.IDs.Get(ctx, s.portalID, "connector:"+s.connectorID()); err != nil || v == "" {
		return err // registered with the first message
	}
	var keys []string
	for k := range s.set {
		if k == SettingLine || strings.HasPrefix(k, SettingLinePrefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		line := s.set[k]
		var st struct {
			Status bool `json:"STATUS"`
		}
		if err := s.call(ctx, "imconnector.status", map[string]any{"CONNECTOR": s.connectorID(), "LINE": num(line)}, &st); err != nil {
			return fmt.Errorf("bitrix24: connector status on Open Line %s: %w", line, err)
		}
		if !st.Status {
			return fmt.Errorf("bitrix24: the connector %s is not active on Open Line %s (setting %s): check the Open Line in the contact centre", s.connectorID(), line, k)
		}
	}
	return nil
}
