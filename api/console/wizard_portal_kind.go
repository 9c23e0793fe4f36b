package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/portal"
)

// The portal's kind, still step 1: how the portal gets its messages, the
// gateway's own signed batches (native) or an adapter feeding an existing
// helpdesk. The form is generated from the adapter's Describer and the
// live test is its Tester, so a new adapter needs no console change.

// kindOption is one choice of portal kind.
type kindOption struct {
	Kind, Title string
	Chosen      bool
}

// kindTitles names the kinds in the choice (an adapter of another kind is
// shown by its kind).
var kindTitles = map[string]string{
	portal.KindNative:   "Native: signed batches to the portal's webhook URL",
	portal.KindChatwoot: "Chatwoot",
	portal.KindBitrix24: "Bitrix24 open lines",
	portal.KindRT:       "Request Tracker (RT 5)",
}

// kindStepView is the data of the portal-kind page.
type kindStepView struct {
	Steps  []wizardStep
	Portal portal.Portal
	Kinds  []kindOption
	// Kind is the kind the form is for.
	Kind   string
	Fields []fieldView
	Other  []string
	// Tested tells the live test ran; TestError is its plain words ("" passed).
	Tested    bool
	TestError string
	// Saved tells the kind and settings were just stored.
	Saved bool
	// Untested is the "save without the live test" box, as sent.
	Untested bool
	// RenewedStored lists the stored settings a failed live test renewed
	// and stored (Bitrix24's tokens: the old refresh token is spent).
	RenewedStored []string
	// Renewed has the values a failed live test renewed of settings given
	// in the form, which exist nowhere else: the form comes back with
	// them, secrets included, for the next attempt.
	Renewed map[string]string
	// RenewedKeys are Renewed's keys, sorted.
	RenewedKeys []string
}

func (c *wizardPages) wizardKindPage(w http.ResponseWriter, r *http.Request, s *session) {
	p, ok := c.portalParam(w, r, s, r.URL.Query().Get("portal"))
	if !ok {
		return
	}
	kind := r.URL.Query().Get("kind")
	if kind == "" {
		kind = currentKind(p)
	}
	c.showKindStep(w, r, s, http.StatusOK, p, kind, nil, nil, kindStepView{})
}

func currentKind(p portal.Portal) string {
	if p.Kind == "" {
		return portal.KindNative
	}
	return p.Kind
}

// showKindStep renders the page for kind; submitted values (not secrets)
// are shown back, else the stored ones of the portal's current kind.
func (c *wizardPages) showKindStep(w http.ResponseWriter, r *http.Request, s *session, status int, p portal.Portal, kind string, submitted map[string]string, errs portal.AdapterSettingErrors, v kindStepView) {
	if kind != portal.KindNative && c.deps.Adapters[kind] == nil {
		c.message(w, r, s, http.StatusNotFound, "No such portal kind", "This gateway has no adapter for "+kind+"; pick a kind from the list.")
		return
	}
	v.Steps, v.Portal, v.Kind = steps(1, nil), p, kind
	v.Kinds = c.kindOptions(kind)
	var stored map[string]string
	if currentKind(p) == kind {
		stored = p.Adapter
	}
	known := map[string]bool{}
	for _, st := range adapterSettings(c.deps.Adapters[kind]) {
		known[st.Key] = true
		f := fieldView{Field: connectors.Field{Key: st.Key, Label: st.Label, Help: st.Help, Required: st.Required, Type: "text"},
			ID: "k-" + kind + "-" + st.Key, Name: "s." + st.Key, Error: errs[st.Key]}
		if val, ok := v.Renewed[st.Key]; ok {
			f.Value = val
			if st.Secret {
				f.Type, f.Set = "secret", stored[st.Key] != ""
			}
		} else if st.Secret {
			f.Type, f.Set = "secret", stored[st.Key] != ""
		} else if val, ok := submitted[st.Key]; ok {
			f.Value = val
		} else {
			f.Value = stored[st.Key]
		}
		v.Fields = append(v.Fields, f)
	}
	for k, msg := range errs {
		if !known[k] {
			if k != "" {
				msg = k + ": " + msg
			}
			v.Other = append(v.Other, msg)
		}
	}
	sort.Strings(v.Other)
	c.render(w, r, status, "wizard_portal_kind", s, "wizard", v)
}

// adapterSettings are the settings the form shows: per-line keys
// ("line.<line id>", described with a placeholder) have no row of their
// own; they are set with connector portal set-kind --set, and a save
// keeps them.
func adapterSettings(d portal.Deliverer) []portal.AdapterSetting {
	desc, ok := d.(portal.Describer)
	if !ok {
		return nil
	}
	var out []portal.AdapterSetting
	for _, st := range desc.Settings() {
		if !strings.Contains(st.Key, "<") {
			out = append(out, st)
		}
	}
	return out
}

// wizardSetKind runs the adapter's live test on the settings sent and,
// when it passes (or the admin ticked "save without the test"), stores
// the kind and the settings as the test left them (Bitrix24's renewed
// tokens) with Records.ChangePortalKind. Empty secret fields keep what is
// stored; stored keys the form does not show (a line's own queue) stay.
func (c *wizardPages) wizardSetKind(w http.ResponseWriter, r *http.Request, s *session) {
	p, ok := c.portalParam(w, r, s, r.PostForm.Get("portal"))
	if !ok {
		return
	}
	kind := r.PostForm.Get("kind")
	if kind == portal.KindNative {
		if !c.saveKind(w, r, s, p, portal.KindNative, nil, "native") {
			return
		}
		p.Kind, p.Adapter = portal.KindNative, nil
		c.showKindStep(w, r, s, http.StatusOK, p, kind, nil, nil, kindStepView{Saved: true})
		return
	}
	d := c.deps.Adapters[kind]
	if d == nil || !portal.ValidKind(kind) {
		c.message(w, r, s, http.StatusNotFound, "No such portal kind", "This gateway has no adapter for "+kind+"; pick a kind from the list.")
		return
	}
	var stored map[string]string
	if currentKind(p) == kind {
		stored = p.Adapter
	}
	submitted, settings := map[string]string{}, map[string]string{}
	for k, v := range stored {
		settings[k] = v
	}
	for _, st := range adapterSettings(d) {
		val := strings.TrimSpace(r.PostForm.Get("s." + st.Key))
		if !st.Secret {
			submitted[st.Key] = val
		}
		switch {
		case val != "":
			settings[st.Key] = val
		case !st.Secret:
			delete(settings, st.Key)
		}
	}
	v := kindStepView{Untested: r.PostForm.Get("untested") != ""}
	if err := portal.CheckAdapterSettings(d, kind, settings); err != nil {
		errs, _ := err.(portal.AdapterSettingErrors)
		c.showKindStep(w, r, s, http.StatusUnprocessableEntity, p, kind, submitted, errs, v)
		return
	}
	candidate := p
	candidate.Kind, candidate.Adapter = kind, settings
	if t, ok := d.(portal.Tester); ok && !v.Untested {
		v.Tested = true
		tested, err := liveTestCandidate(r.Context(), t, candidate, stored)
		if err != nil {
			v.TestError = err.Error()
			c.testChanges(r.Context(), &v, p.ID, kind, settings, tested)
			c.showKindStep(w, r, s, http.StatusUnprocessableEntity, p, kind, submitted, nil, v)
			return
		}
		settings = tested
		candidate.Adapter = settings
	}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	detail := fmt.Sprintf("kind %s, settings %s", kind, strings.Join(keys, ", "))
	if v.Untested {
		detail += " (saved without the live test)"
	}
	if !c.saveKind(w, r, s, p, kind, settings, detail) {
		return
	}
	v.Saved = true
	c.showKindStep(w, r, s, http.StatusOK, candidate, kind, nil, nil, v)
}

// saveKind stores the change from p (the portal as read for this
// request): keys the change left alone are taken as stored now, so a
// token the dispatcher renewed meanwhile is not put back.
func (c *wizardPages) saveKind(w http.ResponseWriter, r *http.Request, s *session, p portal.Portal, kind string, settings map[string]string, detail string) bool {
	if err := c.deps.Records.ChangePortalKind(r.Context(), p, kind, settings); errors.Is(err, portal.ErrNoWebhookURL) {
		c.message(w, r, s, http.StatusUnprocessableEntity, "This portal has no webhook URL",
			"It was created to feed a helpdesk, so signed batches have nowhere to go. Create a native portal (with its webhook URL) in step 1 instead.")
		return false
	} else if errors.Is(err, portal.ErrPortalChanged) {
		c.message(w, r, s, http.StatusConflict, "The portal changed meanwhile",
			"Its kind was changed while the live test ran, so nothing was saved. Open step 1 again and repeat the change.")
		return false
	} else if err != nil {
		c.internal(w, r, s, "save the portal's kind", err)
		return false
	}
	if err := c.store.audit(r.Context(), auditEntry{Actor: s.Admin.Username, Action: "portal.kind", Target: p.ID,
		Detail: detail, RemoteAddr: remoteAddr(r)}); err != nil {
		c.internal(w, r, s, "record the change", err)
		return false
	}
	return true
}

// wizardTestKind runs the live test on the portal's stored settings.
func (c *wizardPages) wizardTestKind(w http.ResponseWriter, r *http.Request, s *session) {
	p, ok := c.portalParam(w, r, s, r.PostForm.Get("portal"))
	if !ok {
		return
	}
	kind := currentKind(p)
	v := kindStepView{}
	if t, ok := c.deps.Adapters[kind].(portal.Tester); ok {
		v.Tested = true
		if err := liveTest(r.Context(), t, p); err != nil {
			v.TestError = err.Error()
		}
	}
	c.showKindStep(w, r, s, http.StatusOK, p, kind, nil, nil, v)
}

// liveTest bounds a Tester's call: the admin is waiting for the page.
func liveTest(ctx context.Context, t portal.Tester, p portal.Portal) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	return t.Test(ctx, p)
}

// liveTestCandidate is liveTest of settings about to be saved: it returns
// them as they must be saved (portal.TestCandidate).
func liveTestCandidate(ctx context.Context, t portal.Tester, p portal.Portal, stored map[string]string) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	return portal.TestCandidate(ctx, t, p, stored)
}

// testChanges puts into v what a failed live test changed: the stored
// settings it renewed and stored, and the renewed values of settings sent
// in the form, which the form then carries.
func (c *wizardPages) testChanges(ctx context.Context, v *kindStepView, portalID, kind string, candidate, tested map[string]string) {
	var now map[string]string
	if cur, err := c.deps.Records.GetPortal(ctx, portalID); err == nil && currentKind(cur) == kind {
		now = cur.Adapter
	}
	v.RenewedStored, v.Renewed = portal.TestChanges(candidate, tested, now)
	for k := range v.Renewed {
		v.RenewedKeys = append(v.RenewedKeys, k)
	}
	sort.Strings(v.RenewedKeys)
}

// kindOptions lists native and the kinds this gateway has adapters for,
// chosen marked.
func (c *wizardPages) kindOptions(chosen string) []kindOption {
	kinds := []string{portal.KindNative}
	for k := range c.deps.Adapters {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds[1:])
	var out []kindOption
	for _, k := range kinds {
		title := kindTitles[k]
		if title == "" {
			title = k
		}
		out = append(out, kindOption{Kind: k, Title: title, Chosen: k == chosen})
	}
	return out
}
