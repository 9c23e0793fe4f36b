package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/connector-gateway/connector/portal"
)

// The wizard: 1 portal, 2 line, 3 channel, 4 test, 5 activate. Each step is
// a page; the ids chosen so far travel in the query string, so a step can be
// bookmarked or reloaded.

// wizardStep is the step indicator's state.
type wizardStep struct {
	N       int
	Title   string
	URL     string // "" when not reachable yet
	Current bool
	Done    bool
}

// steps builds the indicator for step cur; urls holds the link of each step
// reachable from here (by number).
func steps(cur int, urls map[int]string) []wizardStep {
	titles := []string{"Portal", "Line", "Channel", "Test", "Activate"}
	out := make([]wizardStep, len(titles))
	for i, t := range titles {
		n := i + 1
		out[i] = wizardStep{N: n, Title: t, URL: urls[n], Current: n == cur, Done: n < cur}
	}
	return out
}

// consumeNonce makes a create form single-use, so a double click or a
// reload does not create two portals (or lines, or connections).
func (c *base) consumeNonce(w http.ResponseWriter, r *http.Request, s *session, back string) bool {
	nonce := r.PostForm.Get("nonce")
	if nonce == "" || len(nonce) > 100 {
		c.message(w, r, s, http.StatusBadRequest, "Form not accepted", "The form is incomplete; reload the page and send it again.")
		return false
	}
	first, err := c.deps.Keys.FirstSeen(r.Context(), "console:form:"+nonce)
	if err != nil {
		c.internal(w, r, s, "check the form", err)
		return false
	}
	if !first {
		c.render(w, r, http.StatusConflict, "message", s, "wizard", messageView{Title: "Already sent",
			Text: "This form was already sent once and its work is done; it is not repeated. Continue from " + back + "."})
		return false
	}
	return true
}

// portalStepView is the data of step 1.
type portalStepView struct {
	Steps   []wizardStep
	Portals []portal.Portal
	Name    string
	URL     string
	// Kinds is the choice of how the new portal gets its messages.
	Kinds  []kindOption
	Errors map[string]string
	Nonce  string
}

func (c *wizardPages) wizardPortalPage(w http.ResponseWriter, r *http.Request, s *session) {
	c.showPortalStep(w, r, s, http.StatusOK, portalStepView{})
}

func (c *wizardPages) showPortalStep(w http.ResponseWriter, r *http.Request, s *session, status int, v portalStepView) {
	ps, err := c.deps.Records.ListPortals(r.Context())
	if err != nil {
		c.internal(w, r, s, "list the portals", err)
		return
	}
	v.Steps, v.Portals, v.Nonce = steps(1, nil), ps, randomToken()
	chosen := portal.KindNative
	for _, k := range v.Kinds {
		if k.Chosen {
			chosen = k.Kind
		}
	}
	v.Kinds = c.kindOptions(chosen)
	c.render(w, r, status, "wizard_portal", s, "wizard", v)
}

// portalCreatedView is the page that shows a new portal's secret, once.
type portalCreatedView struct {
	Steps  []wizardStep
	Portal portal.Portal
	Secret string
}

func (c *wizardPages) wizardCreatePortal(w http.ResponseWriter, r *http.Request, s *session) {
	v := portalStepView{Name: strings.TrimSpace(r.PostForm.Get("name")), URL: strings.TrimSpace(r.PostForm.Get("webhook_url")), Errors: map[string]string{}}
	switch {
	case v.Name == "":
		v.Errors["name"] = "Enter a name, e.g. the helpdesk's name."
	case len(v.Name) > 200:
		v.Errors["name"] = "Use at most 200 characters."
	}
	kind := r.PostForm.Get("kind")
	if kind == "" {
		kind = portal.KindNative
	}
	if kind != portal.KindNative && c.deps.Adapters[kind] == nil {
		v.Errors["kind"] = "Pick a kind from the list."
	}
	v.Kinds = []kindOption{{Kind: kind, Chosen: true}}
	switch {
	case v.URL == "" && kind != portal.KindNative:
		// An adapter's portal gets no batches posted: no URL needed.
	case v.URL == "":
		v.Errors["webhook_url"] = "Enter the URL your portal receives the gateway's batches at."
	case len(v.URL) > 2000:
		v.Errors["webhook_url"] = "Use at most 2000 characters."
	case portal.ValidateWebhookURL(v.URL) != nil:
		v.Errors["webhook_url"] = "Enter a full URL starting with https:// (or http://), e.g. https://helpdesk.example/gateway."
	}
	if len(v.Errors) > 0 {
		c.showPortalStep(w, r, s, http.StatusUnprocessableEntity, v)
		return
	}
	if !c.consumeNonce(w, r, s, "step 1, where the portal is now in the list") {
		return
	}
	p, secret, err := c.deps.Records.CreatePortalOfKind(r.Context(), v.Name, v.URL, kind)
	if err != nil {
		c.internal(w, r, s, "create the portal", err)
		return
	}
	if err := c.store.audit(r.Context(), auditEntry{Actor: s.Admin.Username, Action: "portal.create", Target: p.ID,
		Detail: fmt.Sprintf("name %q, kind %s, webhook URL %s", p.Name, kind, redactURL(p.WebhookURL)), RemoteAddr: remoteAddr(r)}); err != nil {
		c.internal(w, r, s, "record the change", err)
		return
	}
	if kind != portal.KindNative {
		// Next the helpdesk's URL and credentials, with the live test.
		http.Redirect(w, r, "/console/wizard/portal/kind?portal="+url.QueryEscape(p.ID)+"&kind="+url.QueryEscape(kind), http.StatusSeeOther)
		return
	}
	// Rendered in answer to the POST (never stored for a later GET): this
	// is the only time the secret is shown.
	c.render(w, r, http.StatusCreated, "wizard_portal_created", s, "wizard", portalCreatedView{
		Steps: steps(1, nil), Portal: p, Secret: secret,
	})
}
