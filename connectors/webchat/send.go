package webchat

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"strings"

	"github.com/connector-gateway/connector/connectors"
)

// Send stores an agent's reply in the visitor's history and rings the
// visitor's open tabs. It succeeds whether or not the visitor is online:
// a widget that comes back later asks for what it missed. A chat id that is
// not a visitor of this connection fails for good.
func (cn *Connector) Send(ctx context.Context, c connectors.Conn, m connectors.Outbound) (connectors.Delivery, error) {
	h := cn.h
	if !validID(m.ChatID, "vis_") {
		return connectors.Delivery{}, &connectors.PermanentError{Err: fmt.Errorf("webchat: %q is not a visitor id", m.ChatID)}
	}
	var files []storedFile
	for _, f := range m.Files {
		u, err := url.Parse(f.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return connectors.Delivery{}, &connectors.PermanentError{Err: fmt.Errorf("webchat: file URL %q is not an http(s) URL", f.URL)}
		}
		name := f.Name
		if name == "" {
			name = path.Base(u.Path)
		}
		files = append(files, storedFile{URL: u.String(), Name: name, Mime: f.Mime})
	}
	msg, _, err := h.store.appendMessage(ctx, c.ID, m.ChatID, message{ID: replyID(m.RequestID), From: fromAgent, Text: m.Text, Files: files})
	if errors.Is(err, errNotFound) {
		return connectors.Delivery{}, &connectors.PermanentError{Err: fmt.Errorf("webchat: no visitor %s on this chat", m.ChatID)}
	}
	if err != nil {
		return connectors.Delivery{}, err
	}
	h.hub.notify(convKey(c.ID, m.ChatID))
	return connectors.Delivery{MessageIDs: []string{msg.ID}}, nil
}

// Typing shows the visitor's open tabs that an agent is typing. It is best
// effort: a visitor who is not online, or whose socket is on another
// gateway process, sees nothing, and that is not an error.
func (cn *Connector) Typing(_ context.Context, c connectors.Conn, chatID string) error {
	h := cn.h
	if !validID(chatID, "vis_") {
		return fmt.Errorf("webchat: %q is not a visitor id", chatID)
	}
	h.hub.typing(convKey(c.ID, chatID))
	return nil
}

// FetchFile streams a visitor's upload to the portal, behind the gateway's
// signed file link (ref is the upload id).
func (cn *Connector) FetchFile(ctx context.Context, c connectors.Conn, ref string) (connectors.FileContent, error) {
	h := cn.h
	u, err := h.store.uploadContent(ctx, c.ID, "", ref)
	if err != nil {
		return connectors.FileContent{}, err
	}
	return connectors.FileContent{Body: io.NopCloser(bytes.NewReader(u.Content)), Mime: servedMime(u.Mime), Size: u.Size}, nil
}

// replyID is the history id of the reply to a portal request: derived from
// the request id, so a request carried out again (a gateway that crashed
// after storing the reply, before recording it) finds the reply already
// stored and the visitor sees it once. Without a request id, a fresh id.
func replyID(requestID string) string {
	if requestID == "" {
		return newID("msg_")
	}
	sum := sha256.Sum256([]byte("webchat-reply:" + requestID))
	return "msg_" + strings.ToLower(idEncoding.EncodeToString(sum[:16]))
}
