package api

import (
	"net/http"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/portal"
)

// markRead queues an agent's "read" of a customer message, carried to the
// messenger in order with the chat's other requests. A connector with no
// read receipt for bots is refused at once, in words the portal can show.
func (s *messageAPI) markRead(w http.ResponseWriter, r *http.Request, p portal.Portal, body []byte) {
	c, conn, ok := s.ownConnection(w, r, p)
	if !ok {
		return
	}
	if _, can := conn.(connectors.ReadMarker); !can {
		writeError(w, http.StatusUnprocessableEntity, "unsupported", c.Connector+" offers bots no way to mark a customer's message read")
		return
	}
	var in connectors.Read
	if !decode(w, body, &in) {
		return
	}
	if in.ChatID == "" || in.MessageID == "" {
		writeErrorFields(w, http.StatusUnprocessableEntity, "invalid", "chat_id and message_id are required", map[string]string{"chat_id": "required", "message_id": "required"})
		return
	}
	s.submit(w, r, c, portal.OpRead, in.ChatID, in)
}
