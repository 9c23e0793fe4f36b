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
// process that holds the connection's stream can serve them. Elsewhere the
// answer is 503 elsewhere when another live process holds the stream (a
// retry through the load balancer may land on it), else 503 unavailable: no
// process holds it now, or this one does and its stream (or what the call
// needs of it) is down; the message says which.
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
	case errors.Is(err, connectors.ErrUnsupported):
		writeError(w, http.StatusUnprocessableEntity, "unsupported", err.Error())
	case errors.As(err, &busy):
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(busy.RetryAfter.Seconds()))))
		writeError(w, http.StatusServiceUnavailable, "busy", busy.Err.Error())
	case errors.Is(err, connectors.ErrNotConnected):
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "unavailable", err.Error())
	case errors.Is(err, connectors.ErrElsewhere):
		s.notHere(w, r, c)
	case errors.As(err, &pe):
		writeError(w, http.StatusUnprocessableEntity, "rejected", pe.Error())
	case err != nil:
		s.logger(r).Warn("conversation call", "connection", c.ID, "err", err)
		writeError(w, http.StatusBadGateway, "messenger_error", err.Error())
	default:
		writeJSON(w, http.StatusOK, out)
	}
}

// notHere answers a conversation call this process cannot serve because
// it does not hold the connection's stream.
func (s *connectionAPI) notHere(w http.ResponseWriter, r *http.Request, c portal.Connection) {
	elsewhere := false
	if s.Streams != nil {
		var err error
		if elsewhere, err = s.Streams.HeldElsewhere(r.Context(), c.ID); err != nil {
			s.logger(r).Warn("conversation call: who holds the stream", "connection", c.ID, "err", err)
			// Unknown: a retry may reach the holder, if there is one.
			elsewhere = true
		}
	}
	if elsewhere {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "elsewhere", "another gateway process holds this connection's stream; try again")
		return
	}
	w.Header().Set("Retry-After", "5")
	writeError(w, http.StatusServiceUnavailable, "unavailable", "no gateway process holds this connection's stream right now (it is being started or taken over); try again")
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
