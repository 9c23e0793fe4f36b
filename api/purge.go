package api

import (
	"net"
	"net/http"

	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/queue"
)

// purgeDeadLetters deletes dead letters of one of the portal's own lines for
// good. Unlike replay, an empty body is refused: deleting everything must be
// asked for by name ("all": true), never by omission.
func (s *lineAPI) purgeDeadLetters(w http.ResponseWriter, r *http.Request, p portal.Portal, body []byte) {
	l, ok := s.ownLine(w, r, p)
	if !ok {
		return
	}
	var in struct {
		IDs []int64 `json:"ids"`
		All bool    `json:"all"`
	}
	if !decode(w, body, &in) {
		return
	}
	if in.All == (len(in.IDs) > 0) {
		writeErrorFields(w, http.StatusBadRequest, "invalid", "name the dead letters to purge, or purge all of them",
			map[string]string{"ids": `give "ids" or "all": true, not both`})
		return
	}
	addr, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		addr = r.RemoteAddr
	}
	n, err := s.Outbox.PurgeDeadLetters(r.Context(), l.ID, in.IDs, queue.AuditEntry{Actor: "portal:" + p.ID, RemoteAddr: addr})
	if err != nil {
		s.internal(w, r, "purge dead letters", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"purged": n})
}
