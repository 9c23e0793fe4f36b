package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/connector-gateway/connector/portal"
)

// lineStepView is the data of step 2.
type lineStepView struct {
	Steps  []wizardStep
	Portal portal.Portal
	Lines  []portal.Line
	Name   string
	Errors map[string]string
	Nonce  string
}

// portalParam loads the portal a wizard step names; a missing or unknown
// one sends the admin back to step 1.
func (c *base) portalParam(w http.ResponseWriter, r *http.Request, s *session, id string) (portal.Portal, bool) {
	p, err := c.deps.Records.GetPortal(r.Context(), id)
	if errors.Is(err, portal.ErrNotFound) || id == "" {
		http.Redirect(w, r, Prefix+"wizard", http.StatusSeeOther)
		return p, false
	}
	if err != nil {
		c.internal(w, r, s, "read the portal", err)
		return p, false
	}
	return p, true
}

func (c *wizardPages) wizardLinePage(w http.ResponseWriter, r *http.Request, s *session) {
	p, ok := c.portalParam(w, r, s, r.URL.Query().Get("portal"))
	if !ok {
		return
	}
	c.showLineStep(w, r, s, http.StatusOK, lineStepView{Portal: p})
}

func (c *wizardPages) showLineStep(w http.ResponseWriter, r *http.Request, s *session, status int, v lineStepView) {
	ls, err := c.deps.Records.ListLines(r.Context(), v.Portal.ID)
	if err != nil {
		c.internal(w, r, s, "list the lines", err)
		return
	}
	v.Steps = steps(2, map[int]string{1: Prefix + "wizard"})
	v.Lines, v.Nonce = ls, randomToken()
	c.render(w, r, status, "wizard_line", s, "wizard", v)
}

func (c *wizardPages) wizardCreateLine(w http.ResponseWriter, r *http.Request, s *session) {
	p, ok := c.portalParam(w, r, s, r.PostForm.Get("portal"))
	if !ok {
		return
	}
	v := lineStepView{Portal: p, Name: strings.TrimSpace(r.PostForm.Get("name")), Errors: map[string]string{}}
	switch {
	case v.Name == "":
		v.Errors["name"] = "Enter a name for the line, e.g. Support."
	case len(v.Name) > 200:
		v.Errors["name"] = "Use at most 200 characters."
	}
	if len(v.Errors) > 0 {
		c.showLineStep(w, r, s, http.StatusUnprocessableEntity, v)
		return
	}
	if !c.consumeNonce(w, r, s, "step 2, where the line is now in the list") {
		return
	}
	l, err := c.deps.Records.CreateLine(r.Context(), p.ID, v.Name)
	if err != nil {
		c.internal(w, r, s, "create the line", err)
		return
	}
	if err := c.store.audit(r.Context(), auditEntry{Actor: s.Admin.Username, Action: "line.create", Target: l.ID,
		Detail: fmt.Sprintf("line %q of portal %q (%s)", l.Name, p.Name, p.ID), RemoteAddr: remoteAddr(r)}); err != nil {
		c.internal(w, r, s, "record the change", err)
		return
	}
	http.Redirect(w, r, Prefix+"wizard/channel?line="+url.QueryEscape(l.ID), http.StatusSeeOther)
}
