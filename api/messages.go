package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/queue"
)

// accepted is the answer to an outbound request: the id its status event
// will carry.
type accepted struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// submit stores an outbound request durably and answers 202 with its id. An
// Idempotency-Key header makes a repeated call return the first id.
func (s *messageAPI) submit(w http.ResponseWriter, r *http.Request, c portal.Connection, op, chatID string, payload any) {
	raw, err := json.Marshal(payload)
	if err != nil {
		s.internal(w, r, "encode request", err)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if len(key) > 190 {
		writeErrorFields(w, http.StatusUnprocessableEntity, "invalid", "Idempotency-Key is longer than 190 characters", map[string]string{"Idempotency-Key": "at most 190 characters"})
		return
	}
	id, existing, err := s.Outbound.Submit(r.Context(), queue.OutboundRequest{
		ID: portal.NewID("req"), PortalID: c.PortalID, LineID: c.LineID, ConnectionID: c.ID,
		ChatID: chatID, Op: op, Payload: raw, IdemKey: key,
	})
	if err != nil {
		s.internal(w, r, "submit", err)
		return
	}
	state := queue.OutboundPending
	if existing {
		// A repeat answers with the first request's id and current state.
		if prev, err := s.Outbound.Get(r.Context(), c.PortalID, id); err == nil {
			state = prev.State
		}
	} else if s.WakeSender != nil {
		s.WakeSender()
	}
	writeJSON(w, http.StatusAccepted, accepted{ID: id, Status: state})
}

func (s *messageAPI) sendMessage(w http.ResponseWriter, r *http.Request, p portal.Portal, body []byte) {
	c, _, ok := s.ownConnection(w, r, p)
	if !ok {
		return
	}
	var m connectors.Outbound
	if !decode(w, body, &m) {
		return
	}
	fields := map[string]string{}
	if m.ChatID == "" {
		fields["chat_id"] = "required"
	}
	if m.Text == "" && len(m.Files) == 0 {
		fields["text"] = "text or files required"
	}
	if len(fields) > 0 {
		writeErrorFields(w, http.StatusUnprocessableEntity, "invalid", "invalid message", fields)
		return
	}
	s.submit(w, r, c, portal.OpSend, m.ChatID, m)
}

func (s *messageAPI) editMessage(w http.ResponseWriter, r *http.Request, p portal.Portal, body []byte) {
	c, conn, ok := s.ownConnection(w, r, p)
	if !ok {
		return
	}
	if _, can := conn.(connectors.Editor); !can {
		writeError(w, http.StatusUnprocessableEntity, "unsupported", c.Connector+" cannot edit messages")
		return
	}
	var e connectors.Edit
	if !decode(w, body, &e) {
		return
	}
	e.MessageID = r.PathValue("message")
	if e.ChatID == "" || e.Text == "" {
		writeErrorFields(w, http.StatusUnprocessableEntity, "invalid", "chat_id and text are required", map[string]string{"chat_id": "required", "text": "required"})
		return
	}
	s.submit(w, r, c, portal.OpEdit, e.ChatID, e)
}

func (s *messageAPI) deleteMessage(w http.ResponseWriter, r *http.Request, p portal.Portal, _ []byte) {
	c, conn, ok := s.ownConnection(w, r, p)
	if !ok {
		return
	}
	if _, can := conn.(connectors.Deleter); !can {
		writeError(w, http.StatusUnprocessableEntity, "unsupported", c.Connector+" cannot delete messages")
		return
	}
	d := connectors.Delete{ChatID: r.URL.Query().Get("chat_id"), MessageID: r.PathValue("message")}
	if d.ChatID == "" {
		writeErrorFields(w, http.StatusUnprocessableEntity, "invalid", "chat_id query parameter is required", map[string]string{"chat_id": "required"})
		return
	}
	s.submit(w, r, c, portal.OpDelete, d.ChatID, d)
}

// typing shows a typing indicator now. It is not queued: a late typing
// indicator is worse than none.
func (s *messageAPI) typing(w http.ResponseWriter, r *http.Request, p portal.Portal, body []byte) {
	c, conn, ok := s.ownConnection(w, r, p)
	if !ok {
		return
	}
	t, can := conn.(connectors.Typer)
	if !can {
		writeError(w, http.StatusUnprocessableEntity, "unsupported", c.Connector+" has no typing indicator")
		return
	}
	var in struct {
		ChatID string `json:"chat_id"`
	}
	if !decode(w, body, &in) {
		return
	}
	if in.ChatID == "" {
		writeErrorFields(w, http.StatusUnprocessableEntity, "invalid", "chat_id is required", map[string]string{"chat_id": "required"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	if err := t.Typing(ctx, s.Views.Conn(c), in.ChatID); err != nil {
		writeError(w, http.StatusBadGateway, "messenger_error", err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *messageAPI) getRequest(w http.ResponseWriter, r *http.Request, p portal.Portal, _ []byte) {
	req, err := s.Outbound.Get(r.Context(), p.ID, r.PathValue("request"))
	if errors.Is(err, queue.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no such request")
		return
	}
	if err != nil {
		s.internal(w, r, "get request", err)
		return
	}
	var ids []string
	_ = json.Unmarshal([]byte(req.Result), &ids)
	writeJSON(w, http.StatusOK, map[string]any{
		"id": req.ID, "connection": req.ConnectionID, "chat_id": req.ChatID, "operation": req.Op,
		"status": req.State, "attempts": req.Attempts, "last_error": req.LastError,
		"messenger_message_ids": ids, "created_at": req.CreatedAt,
	})
}
