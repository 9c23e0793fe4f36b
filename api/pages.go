package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/portal"
)

// page routes GET and POST /pages/{hash}/{rest...} to a connector that
// serves browser pages itself (connectors.PageServer). An unknown or
// inactive connection, or one whose connector serves no pages, is 404.
func (s *hooks) page(w http.ResponseWriter, r *http.Request) {
	conn, c, ok := s.entry(w, r)
	if !ok {
		return
	}
	ps, ok := c.(connectors.PageServer)
	if !ok {
		http.NotFound(w, r)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.BodyLimit)
	ps.ServePage(w, r, s.Views.Conn(conn), r.PathValue("rest"))
}

// conversationCall answers the portal API's conversation calls: only a
// connector with a conversation lifecycle has them, and only the gateway
// process that holds the connection's stream can serve them (503 with
// Retry-After elsewhere: a retry may land on that process).
func (s *connectionAPI) conversationCall(w http.ResponseWriter, r *http.Request, p portal.Portal, call func(connectors.Conversations, connectors.Conn) (any, error)) {
	c, impl, ok := s.ownConnection(w, r, p)
	if !ok {
		return
	}
	cv, ok := impl.(connectors.Conversations)
	if !ok {
		writeError(w, http.StatusUnprocessableEntity, "unsupported", c.Connector+" has no conversation lifecycle")
		return
	}
	if !c.Active {
		writeError(w, http.StatusConflict, "inactive", "the connection is not active")
		return
	}
	out, err := call(cv, s.Views.Conn(c))
	var pe *connectors.PermanentError
	var busy *connectors.RateLimitedError
	switch {
	case errors.As(err, &busy):
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(busy.RetryAfter.Seconds()))))
		writeError(w, http.StatusServiceUnavailable, "busy", busy.Err.Error())
	case errors.Is(err, connectors.ErrElsewhere):
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "elsewhere", "another gateway process holds this connection's stream (or is taking it over); try again")
	case errors.As(err, &pe):
		writeError(w, http.StatusUnprocessableEntity, "rejected", pe.Error())
	case err != nil:
		s.logger(r).Warn("conversation call", "connection", c.ID, "err", err)
		writeError(w, http.StatusBadGateway, "messenger_error", err.Error())
	default:
		writeJSON(w, http.StatusOK, out)
	}
}

// openConversation starts a conversation (the XMPP pool hands out a room).
func (s *connectionAPI) openConversation(w http.ResponseWriter, r *http.Request, p portal.Portal, _ []byte) {
	s.conversationCall(w, r, p, func(cv connectors.Conversations, c connectors.Conn) (any, error) {
		chat, err := cv.OpenConversation(r.Context(), c)
		return map[string]string{"chat_id": chat}, err
	})
}

// closeConversation ends the conversation of {chat}.
func (s *connectionAPI) closeConversation(w http.ResponseWriter, r *http.Request, p portal.Portal, _ []byte) {
	s.conversationCall(w, r, p, func(cv connectors.Conversations, c connectors.Conn) (any, error) {
		chat := r.PathValue("chat")
		return map[string]string{"chat_id": chat, "state": "closed"}, cv.CloseConversation(r.Context(), c, chat)
	})
}
