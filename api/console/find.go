package console

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/connector-gateway/connector/portal/traffic"
	"github.com/connector-gateway/connector/queue"
)

// findView is the "find a message" page.
type findView struct {
	Query string
	// Enabled is false when the gateway keeps no traffic window.
	Enabled  bool
	Traces   []traffic.Trace
	Requests []foundRequest
}

// foundRequest is an outbound request (a reply) found by its id.
type foundRequest struct {
	queue.OutboundRequest
	MessengerIDs []string
}

// findPage looks a message up by event, chat, batch or request id and
// shows its path: received, each batch attempt with the portal's answer,
// delivered; for a reply, the request with its attempts and messenger ids,
// and the status event that told the portal.
func (c *adminPages) findPage(w http.ResponseWriter, r *http.Request, s *session) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if len(q) > 200 {
		q = q[:200]
	}
	v := findView{Query: q, Enabled: c.deps.Traffic != nil}
	if q != "" && c.deps.Traffic != nil {
		v.Traces = c.deps.Traffic.Find(q)
	}
	if strings.HasPrefix(q, "req_") && c.deps.Outbound != nil {
		portals, err := c.deps.Records.ListPortals(r.Context())
		if err != nil {
			c.internal(w, r, s, "look the request up", err)
			return
		}
		for _, p := range portals {
			req, err := c.deps.Outbound.Get(r.Context(), p.ID, q)
			if errors.Is(err, queue.ErrNotFound) {
				continue
			}
			if err != nil {
				c.internal(w, r, s, "look the request up", err)
				return
			}
			fr := foundRequest{OutboundRequest: req}
			_ = json.Unmarshal([]byte(req.Result), &fr.MessengerIDs)
			v.Requests = append(v.Requests, fr)
		}
	}
	c.render(w, r, http.StatusOK, "find", s, "find", v)
}
