package webchat

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/connector-gateway/connector/connectors"
)

// visitorMessage takes a checked message frame of a visitor: it becomes a
// message.created event in the outbox and an entry of the conversation's
// history, and the visitor's open tabs are told. A frame whose id was seen
// before (a resend after a reconnect) adds nothing and is answered with
// the stored message. A *badFrame is the visitor's fault and goes back
// to the widget; any other error is the gateway's.
//
// The event is committed before the history entry: if the process dies in
// between, the portal has the message and the widget, which got no ack,
// sends it again, which then only adds the history entry. The other order
// could leave a message on the visitor's screen that never reached anyone.
func (h *Handler) visitorMessage(ctx context.Context, c connectors.Conn, visitor, language string, f clientFrame) (message, error) {
	if prev, err := h.store.messageByID(ctx, visitor, f.ID); err == nil {
		return prev, nil
	}
	now := h.cn.opts.Now()
	if ok, wait := h.limit.allow(c.ID+"|"+visitor, now); !ok {
		return message{}, &rateLimited{wait: wait}
	}
	if err := h.store.ensureConversation(ctx, c.ID, visitor, language); err != nil {
		return message{}, err
	}
	p, err := h.store.profile(ctx, c.ID, visitor)
	if err != nil {
		return message{}, err
	}
	if p.Language == "" {
		p.Language = language // the conversation began with an upload
	}
	if (c.Settings[SettingPrechatName] == PrechatRequired && p.Name == "") ||
		(c.Settings[SettingPrechatEmail] == PrechatRequired && p.Email == "") {
		return message{}, &badFrame{codeProfileRequired, "please fill in the form before writing"}
	}
	var stored []storedFile
	var files []connectors.File
	for _, id := range f.Files {
		u, err := h.store.uploadInfo(ctx, c.ID, visitor, id)
		if errors.Is(err, errNotFound) {
			return message{}, &badFrame{codeInvalid, "unknown upload " + id}
		}
		if err != nil {
			return message{}, err
		}
		stored = append(stored, storedFile{Upload: u.ID, Name: u.Name, Mime: u.Mime, Size: u.Size})
		file := connectors.File{Name: u.Name, Mime: u.Mime, Size: u.Size, Kind: fileKind(u.Mime)}
		if c.Files != nil {
			// The link serves the file with an inert type (the event
			// still says what the visitor's browser called it).
			file.URL = c.Files.FileURL(u.ID, u.Name, servedMime(u.Mime))
		}
		files = append(files, file)
	}

	key := connectors.DedupeKey(Type, c.ID, visitor, f.ID)
	ev := connectors.Event{
		ID: connectors.EventID(key), Type: connectors.TypeMessageCreated, OccurredAt: now.UTC().Truncate(time.Millisecond),
		Connector: Type, Channel: Type, Connection: c.ID, Line: c.LineID,
		Chat:    &connectors.Chat{ID: visitor, Type: "private"},
		User:    &connectors.User{ID: visitor, Name: p.Name, Email: p.Email, Language: p.Language, ProfileHash: p.hash()},
		Message: &connectors.Message{ID: f.ID, Text: f.Text, Files: files},
	}
	if err := h.gw.Sink(c)(ctx, []connectors.Keyed{{DedupeKey: key, Event: ev}}); err != nil {
		return message{}, fmt.Errorf("webchat: enqueue: %w", err)
	}
	m, _, err := h.store.appendMessage(ctx, c.ID, visitor, message{ID: f.ID, From: fromVisitor, Text: f.Text, Files: stored})
	if err != nil {
		return message{}, err
	}
	h.hub.notify(convKey(c.ID, visitor))
	return m, nil
}

// rateLimited says a visitor must wait before sending again.
type rateLimited struct{ wait time.Duration }

func (e *rateLimited) Error() string {
	return fmt.Sprintf("too many messages, wait %s", e.wait.Round(time.Second))
}

// fileKind is the event's file kind for a MIME type.
func fileKind(mime string) string {
	switch {
	case strings.HasPrefix(mime, "image/"):
		return "photo"
	case strings.HasPrefix(mime, "video/"):
		return "video"
	case strings.HasPrefix(mime, "audio/"):
		return "audio"
	default:
		return "document"
	}
}
