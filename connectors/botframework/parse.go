package botframework

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/connector-gateway/connector/connectors"
)

// Parse authenticates one request Bot Framework made to the connection's
// entry URL and turns its activity into events:
//
//   - message → message.created (text, files);
//   - messageUpdate → message.updated; messageDelete → message.deleted;
//   - conversationUpdate, installationUpdate, contactRelationUpdate,
//     typing, invoke, event and any other type → nothing (200).
//
// The token is checked first (authenticate), then the activity is decoded
// and bound to it (checkActivity): a request failing either is an error
// wrapping connectors.ErrUnauthorized, so nothing is enqueued and Bot
// Framework hears 401. An activity from a channel the connection does not
// accept is answered 200 with nothing enqueued and counted
// (RefusedChannels). Parse never calls Bot Framework's Connector service;
// it fetches signing keys only when they are due (see keyCache).
func (cn *Connector) Parse(ctx context.Context, c connectors.Conn, r connectors.Request) (connectors.Inbound, error) {
	who, err := cn.authenticate(ctx, c.Settings, r.Header.Get("Authorization"))
	if err != nil {
		return connectors.Inbound{}, err
	}
	var a activity
	if err := json.Unmarshal(r.Body, &a); err != nil {
		return connectors.Inbound{}, fmt.Errorf("botframework: activity: %v: %w", err, connectors.ErrMalformed)
	}
	// A channelId Bot Framework would never send is the payload's fault,
	// not the token's: checked before the endorsements are.
	if !channelIDShape.MatchString(a.ChannelID) {
		return connectors.Inbound{}, malformed("channelId %q is not a channel id", truncate(a.ChannelID, 40))
	}
	if err := checkActivity(who, a.ServiceURL, a.ChannelID); err != nil {
		return connectors.Inbound{}, err
	}
	if !accepts(c.Settings, a.ChannelID) {
		cn.refused.Add(1)
		return connectors.Inbound{}, nil
	}
	evs, err := cn.events(c, &a)
	if err != nil {
		return connectors.Inbound{}, err
	}
	return connectors.Inbound{Events: evs}, nil
}

// events maps an authenticated activity; it does no I/O.
func (cn *Connector) events(c connectors.Conn, a *activity) ([]connectors.Keyed, error) {
	var typ string
	switch a.Type {
	case activityMessage:
		typ = connectors.TypeMessageCreated
	case activityMessageUpdate:
		typ = connectors.TypeMessageUpdated
	case activityMessageDelete:
		typ = connectors.TypeMessageDeleted
	default:
		// conversationUpdate, installationUpdate, contactRelationUpdate,
		// typing and the rest have no normalized event (docs/protocol.md).
		return nil, nil
	}
	if err := validActivity(a); err != nil {
		return nil, err
	}
	if a.From != nil && a.Recipient != nil && a.From.ID == a.Recipient.ID {
		return nil, nil // the bot's own activity
	}
	ref := conversationRef{
		ServiceURL:     a.ServiceURL,
		ConversationID: a.Conversation.ID,
		ChannelID:      a.ChannelID,
		TenantID:       a.tenant(),
	}
	now := cn.now()
	at := a.occurred(now)
	key := connectors.DedupeKey(Type, c.ID, a.Conversation.ID, a.ID)
	msg := &connectors.Message{ID: a.ID, ReplyTo: a.ReplyToID}
	switch typ {
	case connectors.TypeMessageCreated:
		msg.Text = messageText(a)
		msg.Files = cn.files(c, a)
	case connectors.TypeMessageUpdated:
		// Every edit of a message comes with the message's own id; the
		// timestamp tells one edit from the next, and a re-sent request
		// keeps it.
		key += ":updated:" + a.Timestamp
		msg.Text = messageText(a)
		msg.Files = cn.files(c, a)
		msg.EditedAt = &at
	case connectors.TypeMessageDeleted:
		key += ":deleted"
		msg.ReplyTo = ""
	}
	ev := connectors.Event{
		ID:         connectors.EventID(key),
		Type:       typ,
		OccurredAt: at,
		Connector:  Type,
		Channel:    Type + "." + a.ChannelID,
		Connection: c.ID,
		Line:       c.LineID,
		Chat:       chatOf(a, ref),
		Message:    msg,
	}
	if a.From != nil && a.From.ID != "" {
		ev.User = userOf(a)
	}
	return []connectors.Keyed{{DedupeKey: key, Event: ev}}, nil
}

// validActivity refuses what Bot Framework does not send: a message without
// an id, a conversation or a service URL, or an odd channelId.
func validActivity(a *activity) error {
	switch {
	case a.ID == "":
		return malformed("the activity has no id")
	case a.Conversation == nil || a.Conversation.ID == "":
		return malformed("the activity names no conversation")
	case !channelIDShape.MatchString(a.ChannelID):
		return malformed("channelId %q is not a channel id", truncate(a.ChannelID, 40))
	case !isServiceURL(a.ServiceURL):
		return malformed("serviceUrl %q is not an absolute http(s) URL", truncate(a.ServiceURL, 80))
	}
	return nil
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("botframework: %s: %w", fmt.Sprintf(format, args...), connectors.ErrMalformed)
}

// chatOf is the conversation as the portal sees it; its id is the encoded
// conversation reference.
func chatOf(a *activity, ref conversationRef) *connectors.Chat {
	ch := &connectors.Chat{ID: ref.chatID(), Title: a.Conversation.Name}
	switch strings.ToLower(a.Conversation.ConversationType) {
	case "personal":
		ch.Type = "private"
	case "groupchat":
		ch.Type = "group"
	case "channel":
		ch.Type = "channel"
	default:
		if a.Conversation.IsGroup {
			ch.Type = "group"
		} else {
			ch.Type = "private"
		}
	}
	return ch
}

// userOf is the sender; ProfileHash covers the fields shown.
func userOf(a *activity) *connectors.User {
	u := &connectors.User{ID: a.From.ID, Name: a.From.Name, Language: a.Locale}
	u.ProfileHash = connectors.ProfileHash(u.ID, u.Name, u.Language)
	return u
}

// messageText is the activity's text with the bot's own @mention removed
// (Teams puts "<at>Bot name</at>" in front of every channel message that
// addresses the bot).
func messageText(a *activity) string {
	t := a.Text
	for _, e := range a.Entities {
		if e.Type == "mention" && e.Mentioned != nil && a.Recipient != nil && e.Mentioned.ID == a.Recipient.ID && e.Text != "" {
			t = strings.ReplaceAll(t, e.Text, "")
		}
	}
	return strings.TrimSpace(t)
}

// Attachment content types with special handling.
const (
	teamsFileDownload = "application/vnd.microsoft.teams.file.download.info"
	cardPrefix        = "application/vnd.microsoft.card."
)

// refPrefix marks a FetchFile reference: a contentUrl of Bot Framework's
// Connector service that needs the bot's access token.
const refPrefix = "u:"

// files maps attachments: a Teams file by its pre-authenticated download
// link; a contentUrl on a Bot Framework host (it needs the bot's token)
// through a gateway link; any other http(s) contentUrl as it is. Cards, the
// HTML copy Teams attaches to formatted messages, and inline data: URLs are
// left out.
func (cn *Connector) files(c connectors.Conn, a *activity) []connectors.File {
	var out []connectors.File
	for _, at := range a.Attachments {
		ct := strings.ToLower(strings.TrimSpace(at.ContentType))
		switch {
		case ct == teamsFileDownload:
			var info teamsFileInfo
			if json.Unmarshal(at.Content, &info) != nil || !isHTTP(info.DownloadURL) {
				continue
			}
			out = append(out, connectors.File{Name: at.Name, Mime: mimeByName(at.Name, ""), URL: info.DownloadURL, Kind: kindOf(mimeByName(at.Name, ""))})
		case strings.HasPrefix(ct, cardPrefix), ct == "text/html", !isHTTP(at.ContentURL):
			continue
		default:
			f := connectors.File{Name: at.Name, Mime: ct, Kind: kindOf(ct)}
			if f.Name == "" {
				f.Name = nameFromURL(at.ContentURL)
			}
			if cn.needsToken(at.ContentURL) {
				if c.Files != nil {
					f.URL = c.Files.FileURL(refPrefix+at.ContentURL, f.Name, f.Mime)
				}
			} else {
				f.URL = at.ContentURL
			}
			out = append(out, f)
		}
	}
	return out
}

// needsToken tells whether a contentUrl is served by Bot Framework (an
// allow-listed service host, or Teams' image store): those answer only
// requests with the bot's access token, so the portal gets a gateway link
// instead. A contentUrl on
// another host is public (or signed by its own host) and passed as it is.
func (cn *Connector) needsToken(contentURL string) bool {
	_, err := cn.allowedFileURL(contentURL)
	return err == nil
}

// isServiceURL tells an absolute http(s) URL with a host, no query or
// fragment: what a chat id can carry and a reply can be posted to.
func isServiceURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.RawQuery == "" && u.Fragment == "" && u.User == nil
}

func isHTTP(s string) bool {
	return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")
}

func nameFromURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	if b := path.Base(u.Path); b != "." && b != "/" {
		return b
	}
	return ""
}

// kindOf is the normalized file kind of a MIME type.
func kindOf(mime string) string {
	switch {
	case strings.HasPrefix(mime, "image/"):
		return "photo"
	case strings.HasPrefix(mime, "video/"):
		return "video"
	case strings.HasPrefix(mime, "audio/"):
		return "audio"
	}
	return "document"
}

// mimeByName guesses a MIME type from a file name's extension, for Teams
// files (whose contentType names the attachment kind, not the file's).
func mimeByName(name, fallback string) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".pdf":
		return "application/pdf"
	case ".png":
		return "image/png"
	case ".jpg", ".jpeg":
		return "image/jpeg"
	case ".gif":
		return "image/gif"
	case ".txt":
		return "text/plain"
	case ".docx":
		return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	case ".xlsx":
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	case ".pptx":
		return "application/vnd.openxmlformats-officedocument.presentationml.presentation"
	case ".zip":
		return "application/zip"
	}
	if fallback != "" {
		return fallback
	}
	return "application/octet-stream"
}
