package api

import (
	"errors"
	"net/http"

	"github.com/connector-gateway/connector/portal"
)

// adapterHook routes POST /adapters/{portal}/{rest...} to the helpdesk
// adapter of the portal's kind (portal.HookReceiver). An unknown portal, a
// native portal or an adapter without webhooks is 404, the same answer for
// each, so the route tells a stranger nothing.
func (h hooks) adapterHook(w http.ResponseWriter, r *http.Request) {
	p, err := h.Records.GetPortal(r.Context(), r.PathValue("portal"))
	if errors.Is(err, portal.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no such adapter hook")
		return
	}
	if err != nil {
		h.logger(r).Error("adapter hook: portal", "err", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "try again")
		return
	}
	recv, ok := h.Adapters[p.Kind].(portal.HookReceiver)
	if !ok || p.Kind == portal.KindNative {
		writeError(w, http.StatusNotFound, "not_found", "no such adapter hook")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, h.cfg.BodyLimit)
	recv.ServeHook(w, r, p)
}
