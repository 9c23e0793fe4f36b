package meta

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/connector-gateway/connector/connectors"
)

// The WhatsApp webhook body (field "messages"), as far as the gateway reads
// it. Fields Meta adds in later Graph API versions are ignored.
type waBody struct {
	Object string `json:"object"`
	Entry  []struct {
		ID      string `json:"id"`
		Changes []struct {
			Field string  `json:"field"`
			Value waValue `json:"value"`
		} `json:"changes"`
	} `json:"entry"`
}

type waValue struct {
	Metadata struct {
		PhoneNumberID string `json:"phone_number_id"`
	} `json:"metadata"`
	Contacts []struct {
		WaID    string `json:"wa_id"`
		Profile struct {
			Name string `json:"name"`
		} `json:"profile"`
	} `json:"contacts"`
	Messages []waMessage `json:"messages"`
	Statuses []waStatus  `json:"statuses"`
}

type waMessage struct {
	From      string `json:"from"`
	ID        string `json:"id"`
	Timestamp string `json:"timestamp"`
	Type      string `json:"type"`
	Context   *struct {
		ID        string `json:"id"`
		Forwarded bool   `json:"forwarded"`
	} `json:"context"`
	Text *struct {
		Body string `json:"body"`
	} `json:"text"`
	Image    *waMedia `json:"image"`
	Audio    *waMedia `json:"audio"`
	Video    *waMedia `json:"video"`
	Document *waMedia `json:"document"`
	Sticker  *waMedia `json:"sticker"`
	Location *struct {
		Latitude  float64 `json:"latitude"`
		Longitude float64 `json:"longitude"`
		Name      string  `json:"name"`
		Address   string  `json:"address"`
	} `json:"location"`
	Contacts []struct {
		Name struct {
			FormattedName string `json:"formatted_name"`
		} `json:"name"`
		Phones []struct {
			Phone string `json:"phone"`
		} `json:"phones"`
	} `json:"contacts"`
	Interactive *struct {
		Type        string `json:"type"`
		ButtonReply *struct {
			ID    string `json:"id"`
			Title string `json:"title"`
		} `json:"button_reply"`
		ListReply *struct {
			ID          string `json:"id"`
			Title       string `json:"title"`
			Description string `json:"description"`
		} `json:"list_reply"`
	} `json:"interactive"`
	Button *struct {
		Text    string `json:"text"`
		Payload string `json:"payload"`
	} `json:"button"`
}

type waMedia struct {
	ID       string `json:"id"`
	MimeType string `json:"mime_type"`
	Caption  string `json:"caption"`
	Filename string `json:"filename"`
	Voice    bool   `json:"voice"`
}

type waStatus struct {
	ID          string `json:"id"`
	Status      string `json:"status"`
	Timestamp   string `json:"timestamp"`
	RecipientID string `json:"recipient_id"`
	Callback    string `json:"biz_opaque_callback_data"`
	Errors      []struct {
		Code      int    `json:"code"`
		Title     string `json:"title"`
		Message   string `json:"message"`
		ErrorData struct {
			Details string `json:"details"`
		} `json:"error_data"`
	} `json:"errors"`
}

// Parse checks the request's signature and turns a WhatsApp webhook into
// events: each message and each status of every entry and change is one
// event (see docs/protocol.md, "WhatsApp"). Changes for another phone
// number than the connection's, fields other than "messages", and message
// kinds the gateway does not carry are skipped.
func (*WhatsApp) Parse(_ context.Context, c connectors.Conn, r connectors.Request) (connectors.Inbound, error) {
	if err := verifySignature(c, r); err != nil {
		return connectors.Inbound{}, err
	}
	var body waBody
	if err := json.Unmarshal(r.Body, &body); err != nil {
		return connectors.Inbound{}, fmt.Errorf("meta: whatsapp: %v: %w", err, connectors.ErrMalformed)
	}
	if body.Object != channels[TypeWhatsApp].object {
		return connectors.Inbound{}, fmt.Errorf("meta: whatsapp: object is %q, want whatsapp_business_account: %w", body.Object, connectors.ErrMalformed)
	}
	number := c.Settings[SettingPhoneNumberID]
	var out connectors.Inbound
	for _, e := range body.Entry {
		for _, ch := range e.Changes {
			v := &ch.Value
			if ch.Field != "messages" || (number != "" && v.Metadata.PhoneNumberID != number) {
				continue
			}
			for i := range v.Messages {
				if k, ok := waMessageEvent(c, v, &v.Messages[i]); ok {
					out.Events = append(out.Events, k)
				}
			}
			for i := range v.Statuses {
				if k, ok := waStatusEvent(c, &v.Statuses[i]); ok {
					out.Events = append(out.Events, k)
				}
			}
		}
	}
	return out, nil
}

// waMessageEvent maps one incoming message; ok is false for a kind the
// gateway skips.
func waMessageEvent(c connectors.Conn, v *waValue, m *waMessage) (connectors.Keyed, bool) {
	if m.ID == "" || m.From == "" {
		return connectors.Keyed{}, false
	}
	msg := &connectors.Message{ID: m.ID}
	if m.Context != nil {
		msg.ReplyTo = m.Context.ID
		msg.Forwarded = m.Context.Forwarded
	}
	switch m.Type {
	case "text":
		if m.Text == nil {
			return connectors.Keyed{}, false
		}
		msg.Text = m.Text.Body
	case "image", "audio", "video", "document", "sticker":
		media, kind := m.media()
		if media == nil || media.ID == "" {
			return connectors.Keyed{}, false
		}
		msg.Text = media.Caption
		name := media.Filename
		if name == "" {
			name = kind + extension(media.MimeType)
		}
		f := connectors.File{Name: name, Mime: media.MimeType, Kind: kind}
		if c.Files != nil {
			f.URL = c.Files.FileURL(refMedia+media.ID, name, media.MimeType)
		}
		msg.Files = []connectors.File{f}
	case "location":
		if m.Location == nil {
			return connectors.Keyed{}, false
		}
		msg.Location = &connectors.Location{Latitude: m.Location.Latitude, Longitude: m.Location.Longitude, Title: m.Location.Name, Address: m.Location.Address}
	case "contacts":
		var lines []string
		for _, ct := range m.Contacts {
			var phones []string
			for _, p := range ct.Phones {
				if p.Phone != "" {
					phones = append(phones, p.Phone)
				}
			}
			line := strings.TrimSpace(ct.Name.FormattedName)
			if len(phones) > 0 {
				line = strings.TrimSpace(line + " " + strings.Join(phones, ", "))
			}
			if line != "" {
				lines = append(lines, line)
			}
		}
		if len(lines) == 0 {
			return connectors.Keyed{}, false
		}
		msg.Text = "Shared contact: " + strings.Join(lines, "; ")
	case "interactive":
		switch it := m.Interactive; {
		case it != nil && it.ButtonReply != nil:
			msg.Text, msg.Payload = it.ButtonReply.Title, it.ButtonReply.ID
		case it != nil && it.ListReply != nil:
			msg.Text, msg.Payload = it.ListReply.Title, it.ListReply.ID
		default:
			return connectors.Keyed{}, false
		}
	case "button":
		if m.Button == nil {
			return connectors.Keyed{}, false
		}
		msg.Text, msg.Payload = m.Button.Text, m.Button.Payload
	default:
		// reaction, order, system, unsupported, and kinds newer than this
		// code: documented skips.
		return connectors.Keyed{}, false
	}
	user := &connectors.User{ID: m.From}
	for _, ct := range v.Contacts {
		if ct.WaID == m.From {
			user.Name = ct.Profile.Name
		}
	}
	user.ProfileHash = connectors.ProfileHash(user.ID, user.Name)
	key := connectors.DedupeKey(TypeWhatsApp, c.ID, m.ID)
	return connectors.Keyed{DedupeKey: key, Event: connectors.Event{
		ID:         connectors.EventID(key),
		Type:       connectors.TypeMessageCreated,
		OccurredAt: unixSeconds(m.Timestamp),
		Connector:  TypeWhatsApp,
		Channel:    TypeWhatsApp,
		Connection: c.ID,
		Line:       c.LineID,
		Chat:       &connectors.Chat{ID: m.From, Type: "private", Title: user.Name},
		User:       user,
		Message:    msg,
	}}, true
}

// media returns the message's media object and its file kind.
func (m *waMessage) media() (*waMedia, string) {
	switch m.Type {
	case "image":
		return m.Image, "photo"
	case "audio":
		if m.Audio != nil && m.Audio.Voice {
			return m.Audio, "voice"
		}
		return m.Audio, "audio"
	case "video":
		return m.Video, "video"
	case "document":
		return m.Document, "document"
	case "sticker":
		return m.Sticker, "sticker"
	}
	return nil, ""
}

// statusRank orders WhatsApp's statuses; a status supersedes every lower
// one of the same message.
var statusRank = map[string]int{"sent": 1, "delivered": 2, "read": 3}

// waStatusEvent maps one status of a message the business sent. "sent" is
// skipped: the gateway already reported status.delivered when the Graph API
// accepted the message. delivered, read and failed become status events
// keyed "<type>:<conn>:<wamid>:status:<status>"; a read supersedes the
// message's delivered and sent, a delivered its sent, so a status that
// arrives late never moves the message backward.
func waStatusEvent(c connectors.Conn, s *waStatus) (connectors.Keyed, bool) {
	if s.ID == "" {
		return connectors.Keyed{}, false
	}
	st := &connectors.Status{RequestID: s.Callback, Operation: "send", MessengerMessageIDs: []string{s.ID}}
	var typ string
	switch s.Status {
	case "delivered":
		typ = connectors.TypeStatusDelivered
	case "read":
		typ = connectors.TypeStatusRead
	case "failed":
		typ = connectors.TypeStatusFailed
		st.Error = waStatusError(s)
	default:
		return connectors.Keyed{}, false
	}
	k := connectors.Keyed{DedupeKey: connectors.DedupeKey(TypeWhatsApp, c.ID, s.ID, "status", s.Status)}
	for name, rank := range statusRank {
		if rank < statusRank[s.Status] {
			k.Supersedes = append(k.Supersedes, connectors.DedupeKey(TypeWhatsApp, c.ID, s.ID, "status", name))
		}
	}
	// Map order is random; keys are kept sorted so equal input gives
	// equal output.
	sort.Strings(k.Supersedes)
	var chat *connectors.Chat
	if s.RecipientID != "" {
		chat = &connectors.Chat{ID: s.RecipientID, Type: "private"}
	}
	k.Event = connectors.Event{
		ID:         connectors.EventID(k.DedupeKey),
		Type:       typ,
		OccurredAt: unixSeconds(s.Timestamp),
		Connector:  TypeWhatsApp,
		Channel:    TypeWhatsApp,
		Connection: c.ID,
		Line:       c.LineID,
		Chat:       chat,
		Status:     st,
	}
	return k, true
}

// waStatusError says in plain words why WhatsApp did not deliver.
func waStatusError(s *waStatus) string {
	if len(s.Errors) == 0 {
		return "WhatsApp could not deliver the message"
	}
	e := s.Errors[0]
	msg := firstNonEmpty(e.ErrorData.Details, e.Message, e.Title)
	if h := hint(TypeWhatsApp, e.Code, 0); h != "" {
		msg = h + " (" + msg + ")"
	}
	return fmt.Sprintf("WhatsApp error %d: %s", e.Code, msg)
}

// unixSeconds reads WhatsApp's timestamp (seconds, as a string); a missing
// or bad one is the time of receipt.
func unixSeconds(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return time.Now().UTC().Truncate(time.Second)
	}
	return time.Unix(n, 0).UTC()
}

// unixMillis reads Messenger's timestamps (milliseconds).
func unixMillis(n int64) time.Time {
	if n <= 0 {
		return time.Now().UTC().Truncate(time.Millisecond)
	}
	return time.UnixMilli(n).UTC()
}

// extension is a file name extension for the MIME types WhatsApp sends.
func extension(mime string) string {
	switch strings.ToLower(strings.TrimSpace(strings.SplitN(mime, ";", 2)[0])) {
	case "image/jpeg":
		return ".jpg"
	case "image/png":
		return ".png"
	case "image/webp":
		return ".webp"
	case "audio/ogg":
		return ".ogg"
	case "audio/mpeg":
		return ".mp3"
	case "audio/mp4", "audio/aac":
		return ".m4a"
	case "audio/amr":
		return ".amr"
	case "video/mp4":
		return ".mp4"
	case "video/3gpp":
		return ".3gp"
	case "application/pdf":
		return ".pdf"
	}
	return ""
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}
