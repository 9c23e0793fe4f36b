package console

import (
	"context"
	"html/template"
	"net/http"
	"time"

	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/queue"
)

// Line states, worst first.
const (
	stateEmergency = "emergency"
	stateLocked    = "locked"
	stateRetrying  = "retrying"
	stateInactive  = "inactive"
	stateOK        = "ok"
)

// statusView is everything the status page shows.
type statusView struct {
	Portals []*portalRow
	// Emergencies repeats the lines in emergency, shown first.
	Emergencies []*lineRow
	// Problems counts the lines that need attention.
	Problems  int
	RefreshMS int64
	At        time.Time
}

type portalRow struct {
	Portal  portal.Portal
	Secrets int
	Lines   []*lineRow
	// Chart is the portal's last hour of traffic (empty without Traffic).
	Chart template.HTML
}

type lineRow struct {
	Line       portal.Line
	PortalName string
	Queue      queue.LineStatus
	Conns      []*connRow
	State      string
}

type connRow struct {
	Conn  portal.Connection
	Title string
	// Channels are the virtual channels the connection received from
	// (a Bot Framework bot: botframework.msteams, …).
	Channels []string
}

// State is the connection's state for people: "ok", "not active", "error",
// "emergency".
func (c *connRow) State() string {
	switch {
	case c.Conn.Status == portal.ConnEmergency:
		return stateEmergency
	case c.Conn.Status == portal.ConnError:
		return "error"
	case !c.Conn.Active:
		return "not active"
	}
	return stateOK
}

// collectStatus reads every portal, line and connection with its delivery
// state, in a fixed number of queries.
func (c *adminPages) collectStatus(ctx context.Context) (statusView, error) {
	v := statusView{RefreshMS: c.cfg.Refresh.Milliseconds(), At: c.cfg.Now().UTC()}
	portals, err := c.deps.Records.ListPortals(ctx)
	if err != nil {
		return v, err
	}
	lines, err := c.deps.Records.ListLines(ctx, "")
	if err != nil {
		return v, err
	}
	conns, err := c.deps.Records.ListConnections(ctx, "")
	if err != nil {
		return v, err
	}
	queues, err := c.deps.Outbox.Statuses(ctx)
	if err != nil {
		return v, err
	}
	channels, err := c.deps.Records.Channels(ctx, "")
	if err != nil {
		return v, err
	}
	byPortal := map[string]*portalRow{}
	for _, p := range portals {
		row := &portalRow{Portal: p, Secrets: len(p.Secrets)}
		if c.deps.Traffic != nil {
			row.Chart = trafficChart(p.Name, c.deps.Traffic.Series(p.ID))
		}
		v.Portals = append(v.Portals, row)
		byPortal[p.ID] = row
	}
	byLine := map[string]*lineRow{}
	for _, l := range lines {
		pr := byPortal[l.PortalID]
		if pr == nil {
			continue
		}
		q, ok := queues[l.ID]
		if !ok {
			q = queue.LineStatus{LineID: l.ID}
		}
		lr := &lineRow{Line: l, PortalName: pr.Portal.Name, Queue: q, State: lineState(l, q)}
		pr.Lines = append(pr.Lines, lr)
		byLine[l.ID] = lr
		if lr.State == stateEmergency {
			v.Emergencies = append(v.Emergencies, lr)
		}
	}
	for _, cn := range conns {
		lr := byLine[cn.LineID]
		if lr == nil {
			continue
		}
		title := cn.Connector
		if impl, ok := c.deps.Registry.Get(cn.Connector); ok {
			title = impl.Describe().Title
		}
		lr.Conns = append(lr.Conns, &connRow{Conn: cn, Title: title, Channels: channels[cn.ID]})
	}
	for _, pr := range v.Portals {
		for _, lr := range pr.Lines {
			if lr.NeedsAttention() {
				v.Problems++
			}
		}
	}
	return v, nil
}

// NeedsAttention tells whether an admin should look at the line: it is not
// delivering, has dead letters, or one of its connections failed.
func (l *lineRow) NeedsAttention() bool {
	if (l.State != stateOK && l.State != stateInactive) || l.Queue.DeadLetters > 0 {
		return true
	}
	for _, c := range l.Conns {
		if s := c.State(); s == "error" || s == stateEmergency {
			return true
		}
	}
	return false
}

func lineState(l portal.Line, q queue.LineStatus) string {
	switch {
	case l.Status == portal.LineEmergency:
		return stateEmergency
	case q.LockedUntil != nil:
		return stateLocked
	case q.Failures > 0:
		return stateRetrying
	case !l.Active:
		return stateInactive
	}
	return stateOK
}

// statusPage is the console's home: every portal, line and connection.
func (c *adminPages) statusPage(w http.ResponseWriter, r *http.Request, s *session) {
	v, err := c.collectStatus(r.Context())
	if err != nil {
		c.internal(w, r, s, "read the status", err)
		return
	}
	c.render(w, r, http.StatusOK, "status", s, "status", v)
}

// statusFragment is the status page's body alone, which the page's script
// fetches to refresh itself.
func (c *adminPages) statusFragment(w http.ResponseWriter, r *http.Request, s *session) {
	v, err := c.collectStatus(r.Context())
	if err != nil {
		c.internal(w, r, s, "read the status", err)
		return
	}
	c.renderPage(w, http.StatusOK, "status", "status_body", page{Admin: &s.Admin, CSRF: s.CSRF, Data: v})
}
