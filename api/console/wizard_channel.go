package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/portal"
)

// channelStepView is the data of step 3.
type channelStepView struct {
	Steps      []wizardStep
	Portal     portal.Portal
	Line       portal.Line
	Connectors []connectors.Description
	// Form is the chosen connector's settings form (nil until one is picked).
	Form  *formView
	Nonce string
	// Retry is set when the form came back with errors.
	Retry bool
}

// lineParam loads the line a wizard step names, with its portal.
func (c *base) lineParam(w http.ResponseWriter, r *http.Request, s *session, id string) (portal.Line, portal.Portal, bool) {
	l, err := c.deps.Records.GetLine(r.Context(), id)
	if errors.Is(err, portal.ErrNotFound) || id == "" {
		http.Redirect(w, r, Prefix+"wizard", http.StatusSeeOther)
		return l, portal.Portal{}, false
	}
	if err != nil {
		c.internal(w, r, s, "read the line", err)
		return l, portal.Portal{}, false
	}
	p, ok := c.portalParam(w, r, s, l.PortalID)
	return l, p, ok
}

func (c *wizardPages) wizardChannelPage(w http.ResponseWriter, r *http.Request, s *session) {
	l, p, ok := c.lineParam(w, r, s, r.URL.Query().Get("line"))
	if !ok {
		return
	}
	v := channelStepView{Portal: p, Line: l}
	if typ := r.URL.Query().Get("type"); typ != "" {
		impl, ok := c.deps.Registry.Get(typ)
		if !ok {
			c.message(w, r, s, http.StatusNotFound, "No such channel", "This gateway has no "+typ+" channel; pick one from the list.")
			return
		}
		f := settingsForm(impl.Describe(), nil, nil, nil)
		v.Form = &f
	}
	c.showChannelStep(w, r, s, http.StatusOK, v)
}

func (c *wizardPages) showChannelStep(w http.ResponseWriter, r *http.Request, s *session, status int, v channelStepView) {
	v.Steps = steps(3, map[int]string{1: Prefix + "wizard", 2: Prefix + "wizard/line?portal=" + url.QueryEscape(v.Portal.ID)})
	v.Connectors, v.Nonce = c.deps.Registry.Describe(), randomToken()
	c.render(w, r, status, "wizard_channel", s, "wizard", v)
}

// wizardCreateConnection validates the chosen connector's settings and
// binds it to the line (inactive until step 5).
func (c *wizardPages) wizardCreateConnection(w http.ResponseWriter, r *http.Request, s *session) {
	l, p, ok := c.lineParam(w, r, s, r.PostForm.Get("line"))
	if !ok {
		return
	}
	typ := r.PostForm.Get("type")
	impl, ok := c.deps.Registry.Get(typ)
	if !ok {
		c.message(w, r, s, http.StatusUnprocessableEntity, "No such channel", "This gateway has no "+typ+" channel; go back and pick one from the list.")
		return
	}
	d := impl.Describe()
	submitted := readSettings(r, d)
	settings, err := impl.ValidateSettings(submitted)
	var fe connectors.FieldErrors
	if err != nil && !errors.As(err, &fe) {
		fe = connectors.FieldErrors{"settings": err.Error()}
	}
	if len(fe) > 0 {
		f := settingsForm(d, submitted, nil, fe)
		c.showChannelStep(w, r, s, http.StatusUnprocessableEntity, channelStepView{Portal: p, Line: l, Form: &f, Retry: true})
		return
	}
	if !c.consumeNonce(w, r, s, "the status page, where the new connection is listed under its line") {
		return
	}
	cn, err := c.deps.Records.CreateConnection(r.Context(), l.ID, typ, settings)
	if err != nil {
		c.internal(w, r, s, "create the connection", err)
		return
	}
	shown, secrets := publicSettings(d, settings)
	var parts []string
	for _, kv := range shown {
		parts = append(parts, kv.Key+"="+kv.Value)
	}
	for _, kv := range secrets {
		parts = append(parts, kv.Key+" "+kv.Value)
	}
	if err := c.store.audit(r.Context(), auditEntry{Actor: s.Admin.Username, Action: "connection.create", Target: cn.ID,
		Detail: fmt.Sprintf("%s on line %q (%s): %s", d.Title, l.Name, l.ID, strings.Join(parts, ", ")), RemoteAddr: remoteAddr(r)}); err != nil {
		c.internal(w, r, s, "record the change", err)
		return
	}
	http.Redirect(w, r, Prefix+"wizard/test?connection="+url.QueryEscape(cn.ID), http.StatusSeeOther)
}
