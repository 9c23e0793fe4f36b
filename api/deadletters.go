package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/connector-gateway/connector/portal"
)

type deadLetterView struct {
	ID        int64           `json:"id"`
	EventID   string          `json:"event_id"`
	CreatedAt time.Time       `json:"created_at"`
	DiedAt    time.Time       `json:"died_at"`
	Reason    string          `json:"reason"`
	Event     json.RawMessage `json:"event"`
}

func (s *lineAPI) listDeadLetters(w http.ResponseWriter, r *http.Request, p portal.Portal, _ []byte) {
	l, ok := s.ownLine(w, r, p)
	if !ok {
		return
	}
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 500)
	dls, err := s.Outbox.DeadLetters(r.Context(), l.ID, after, limit)
	if err != nil {
		s.internal(w, r, "dead letters", err)
		return
	}
	out := make([]deadLetterView, 0, len(dls))
	for _, d := range dls {
		out = append(out, deadLetterView{ID: d.ID, EventID: d.EventID, CreatedAt: d.CreatedAt, DiedAt: d.DiedAt, Reason: d.Reason, Event: d.Payload})
	}
	writeJSON(w, http.StatusOK, map[string]any{"dead_letters": out})
}

func (s *lineAPI) replayDeadLetters(w http.ResponseWriter, r *http.Request, p portal.Portal, body []byte) {
	l, ok := s.ownLine(w, r, p)
	if !ok {
		return
	}
	var in struct {
		IDs []int64 `json:"ids"`
	}
	if !decode(w, body, &in) {
		return
	}
	n, err := s.Outbox.Replay(r.Context(), l.ID, in.IDs)
	if err != nil {
		s.internal(w, r, "replay", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"replayed": n})
}
