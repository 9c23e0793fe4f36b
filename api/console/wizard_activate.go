package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/portal"
)

// testStepView is the data of step 4.
type testStepView struct {
	Steps []wizardStep
	connView
	// Ran is set once the test ran; Report is its outcome.
	Ran    bool
	Report connectors.TestReport
	Failed int
}

func (c *wizardPages) connectionSteps(cur int, v connView) []wizardStep {
	id := url.QueryEscape(v.Conn.ID)
	return steps(cur, map[int]string{
		1: Prefix + "wizard",
		2: Prefix + "wizard/line?portal=" + url.QueryEscape(v.Portal.ID),
		3: Prefix + "wizard/channel?line=" + url.QueryEscape(v.Line.ID),
		4: Prefix + "wizard/test?connection=" + id,
		5: Prefix + "wizard/activate?connection=" + id,
	})
}

func (c *wizardPages) wizardTestPage(w http.ResponseWriter, r *http.Request, s *session) {
	v, _, ok := c.connectionOf(w, r, s, r.URL.Query().Get("connection"))
	if !ok {
		return
	}
	c.render(w, r, http.StatusOK, "wizard_test", s, "wizard", testStepView{Steps: c.connectionSteps(4, v), connView: v})
}

// wizardRunTest runs the connector's live test, through the same code the
// portal API's test uses, and shows each check in plain words.
func (c *wizardPages) wizardRunTest(w http.ResponseWriter, r *http.Request, s *session) {
	v, _, ok := c.connectionOf(w, r, s, r.PostForm.Get("connection"))
	if !ok {
		return
	}
	rep, err := c.deps.Lifecycle.Test(r.Context(), v.Conn)
	if err != nil {
		c.internal(w, r, s, "run the test", err)
		return
	}
	tv := testStepView{Steps: c.connectionSteps(4, v), connView: v, Ran: true, Report: rep}
	for _, ch := range rep.Checks {
		if !ch.OK {
			tv.Failed++
		}
	}
	c.render(w, r, http.StatusOK, "wizard_test", s, "wizard", tv)
}

// activateStepView is the data of step 5.
type activateStepView struct {
	Steps []wizardStep
	connView
	Activated bool
	// SinceMS is when activation began (ms since the epoch): the first
	// message check looks for messages from then on.
	SinceMS int64
	// Error says why activation failed, in the messenger's words.
	Error string
	// Took names the connection this bot was taken from (its line is in
	// emergency now); empty when the bot was bound nowhere else.
	Took string
}

func (c *wizardPages) wizardActivatePage(w http.ResponseWriter, r *http.Request, s *session) {
	v, _, ok := c.connectionOf(w, r, s, r.URL.Query().Get("connection"))
	if !ok {
		return
	}
	c.render(w, r, http.StatusOK, "wizard_activate", s, "wizard", activateStepView{Steps: c.connectionSteps(5, v), connView: v})
}

// wizardActivate starts receiving through the same code the portal API's
// activate uses, then shows the entry URL and the first message check.
func (c *wizardPages) wizardActivate(w http.ResponseWriter, r *http.Request, s *session) {
	v, _, ok := c.connectionOf(w, r, s, r.PostForm.Get("connection"))
	if !ok {
		return
	}
	since := c.cfg.Now().UnixMilli()
	cn, lost, err := c.deps.Lifecycle.Activate(r.Context(), v.Conn)
	av := activateStepView{Steps: c.connectionSteps(5, v), connView: v, SinceMS: since}
	av.Conn = cn
	if lost.ID != "" {
		// The bot was bound elsewhere: that line is in emergency now, and
		// the admin should know which one.
		av.Took = c.describeConnection(r.Context(), lost)
	}
	var ae *portal.ActivationError
	switch {
	case errors.Is(err, portal.ErrPollingUnavailable):
		av.Error = "This connection is set to receive by polling, which this gateway cannot do. Change its receive mode to webhook."
	case errors.As(err, &ae):
		av.Error = "The messenger refused: " + ae.Error()
	case err != nil:
		c.internal(w, r, s, "activate the connection", err)
		return
	default:
		av.Activated = true
	}
	action, detail := "connection.activate", "receiving"
	if av.Took != "" {
		detail += "; the bot was taken from " + av.Took + ", now in emergency"
	}
	if !av.Activated {
		action, detail = "connection.activate.failed", av.Error
	}
	if err := c.store.audit(r.Context(), auditEntry{Actor: s.Admin.Username, Action: action, Target: cn.ID, Detail: detail, RemoteAddr: remoteAddr(r)}); err != nil {
		c.internal(w, r, s, "record the change", err)
		return
	}
	status := http.StatusOK
	if !av.Activated {
		status = http.StatusBadGateway
	}
	c.render(w, r, status, "wizard_activate", s, "wizard", av)
}

// describeConnection names a connection for people: its line and portal.
func (c *wizardPages) describeConnection(ctx context.Context, cn portal.Connection) string {
	name := "connection " + cn.ID
	if l, err := c.deps.Records.GetLine(ctx, cn.LineID); err == nil {
		name = fmt.Sprintf("line “%s”", l.Name)
		if p, err := c.deps.Records.GetPortal(ctx, cn.PortalID); err == nil {
			name += " of " + p.Name
		}
	}
	return name
}
