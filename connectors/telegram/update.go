package telegram

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/connector-gateway/connector/connectors"
)

// The Bot API update as the connector reads it. These are our own types,
// not the library's: they hold only the fields the gateway uses, so a field
// Telegram added or reshaped after the library's Bot API version (the
// library predates forward_origin, for one) can never make a valid update
// fail to decode. Unknown fields are ignored.
type tgUpdate struct {
	UpdateID      int64      `json:"update_id"`
	Message       *tgMessage `json:"message"`
	EditedMessage *tgMessage `json:"edited_message"`
}

type tgUser struct {
	ID           int64  `json:"id"`
	IsBot        bool   `json:"is_bot"`
	FirstName    string `json:"first_name"`
	LastName     string `json:"last_name"`
	Username     string `json:"username"`
	LanguageCode string `json:"language_code"`
}

type tgChat struct {
	ID    int64  `json:"id"`
	Type  string `json:"type"`
	Title string `json:"title"`
}

// tgFile covers PhotoSize, Document, Audio, Voice, Video, VideoNote,
// Animation and Sticker: the fields they share or the gateway reads.
type tgFile struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	FileSize     int64  `json:"file_size"`
	FileName     string `json:"file_name"`
	MimeType     string `json:"mime_type"`
	Width        int64  `json:"width"`
	Height       int64  `json:"height"`
	// Stickers.
	Emoji      string `json:"emoji"`
	IsAnimated bool   `json:"is_animated"`
	IsVideo    bool   `json:"is_video"`
}

type tgLocation struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
}

type tgVenue struct {
	Location tgLocation `json:"location"`
	Title    string     `json:"title"`
	Address  string     `json:"address"`
}

type tgContact struct {
	PhoneNumber string `json:"phone_number"`
	FirstName   string `json:"first_name"`
	LastName    string `json:"last_name"`
}

type tgDice struct {
	Emoji string `json:"emoji"`
	Value int64  `json:"value"`
}

type tgPoll struct {
	Question string `json:"question"`
	Options  []struct {
		Text string `json:"text"`
	} `json:"options"`
}

type tgEntity struct {
	Type   string `json:"type"`
	Offset int    `json:"offset"`
	Length int    `json:"length"`
	URL    string `json:"url"`
}

type tgMessage struct {
	MessageID int64   `json:"message_id"`
	From      *tgUser `json:"from"`
	Date      int64   `json:"date"`
	EditDate  int64   `json:"edit_date"`
	Chat      *tgChat `json:"chat"`

	// Forwarding: forward_origin since Bot API 7.0, the forward_* fields
	// before it.
	ForwardOrigin      json.RawMessage `json:"forward_origin"`
	ForwardDate        int64           `json:"forward_date"`
	IsAutomaticForward bool            `json:"is_automatic_forward"`

	ReplyToMessage *struct {
		MessageID int64 `json:"message_id"`
	} `json:"reply_to_message"`

	Text            string     `json:"text"`
	Entities        []tgEntity `json:"entities"`
	Caption         string     `json:"caption"`
	CaptionEntities []tgEntity `json:"caption_entities"`

	Photo     []tgFile    `json:"photo"`
	Document  *tgFile     `json:"document"`
	Audio     *tgFile     `json:"audio"`
	Voice     *tgFile     `json:"voice"`
	Video     *tgFile     `json:"video"`
	VideoNote *tgFile     `json:"video_note"`
	Animation *tgFile     `json:"animation"`
	Sticker   *tgFile     `json:"sticker"`
	Location  *tgLocation `json:"location"`
	Venue     *tgVenue    `json:"venue"`
	Contact   *tgContact  `json:"contact"`
	Dice      *tgDice     `json:"dice"`
	Poll      *tgPoll     `json:"poll"`
}

// maxDownload is the largest file the Bot API lets a bot download.
const maxDownload = 20 << 20

// Fixed names of the references the connector puts in file links.
const (
	refFile   = "f:"      // + file_id
	refAvatar = "avatar:" // + user id: the user's current profile photo
)

// parseUpdate turns one update (already authenticated) into events. A body
// that is not an update (bad JSON, no update_id, a message without chat or
// id) is an error wrapping connectors.ErrMalformed. Update kinds and
// message contents the gateway does not carry give no events and no error;
// docs/protocol.md lists them.
func parseUpdate(c connectors.Conn, users *userCache, body []byte) ([]connectors.Keyed, error) {
	var u tgUpdate
	if err := json.Unmarshal(body, &u); err != nil {
		return nil, fmt.Errorf("telegram: decode update: %w: %v", connectors.ErrMalformed, err)
	}
	if u.UpdateID <= 0 {
		return nil, fmt.Errorf("telegram: update without update_id: %w", connectors.ErrMalformed)
	}
	typ, msg := connectors.TypeMessageCreated, u.Message
	if msg == nil {
		typ, msg = connectors.TypeMessageUpdated, u.EditedMessage
	}
	if msg == nil {
		return nil, nil // channel posts, callback queries, member updates...
	}
	if msg.Chat == nil || msg.Chat.ID == 0 {
		return nil, fmt.Errorf("telegram: message without chat: %w", connectors.ErrMalformed)
	}
	if msg.MessageID <= 0 {
		return nil, fmt.Errorf("telegram: message without message_id: %w", connectors.ErrMalformed)
	}
	m := content(c, msg)
	if m == nil {
		return nil, nil // a service message (join, pin, title...) or a kind we do not carry
	}
	m.ID = strconv.FormatInt(msg.MessageID, 10)
	m.Forwarded = msg.ForwardDate != 0 || msg.IsAutomaticForward || (len(msg.ForwardOrigin) > 0 && string(msg.ForwardOrigin) != "null")
	if msg.ReplyToMessage != nil && msg.ReplyToMessage.MessageID > 0 {
		m.ReplyTo = strconv.FormatInt(msg.ReplyToMessage.MessageID, 10)
	}

	key := connectors.DedupeKey(Type, c.ID, strconv.FormatInt(u.UpdateID, 10))
	ev := connectors.Event{
		ID:         connectors.EventID(key),
		Type:       typ,
		OccurredAt: unixTime(msg.Date),
		Connector:  Type,
		Channel:    Type,
		Connection: c.ID,
		Line:       c.LineID,
		Chat:       &connectors.Chat{ID: strconv.FormatInt(msg.Chat.ID, 10), Type: msg.Chat.Type, Title: msg.Chat.Title},
		User:       cachedUserOf(c, users, msg.From),
		Message:    m,
	}
	if typ == connectors.TypeMessageUpdated && msg.EditDate > 0 {
		edited := unixTime(msg.EditDate)
		ev.OccurredAt = edited
		ev.Message.EditedAt = &edited
	}
	return []connectors.Keyed{{DedupeKey: key, Event: ev}}, nil
}

// unixTime converts a Bot API date; dates outside years 0..9999 (which no
// real update has) become the zero time, so the event still encodes.
func unixTime(sec int64) time.Time {
	const maxSec = 253402300799 // 9999-12-31T23:59:59Z
	if sec < 0 || sec > maxSec {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}

// content maps what the message carries; nil when it carries nothing a
// portal could show (service messages, games, invoices, stories...).
func content(c connectors.Conn, msg *tgMessage) *connectors.Message {
	m := &connectors.Message{}
	add := func(f *tgFile, kind, name, mime string) {
		if f != nil && f.FileID != "" { // a file without id is nothing to link to
			m.Files = append(m.Files, file(c, f, kind, name, mime))
		}
	}
	switch {
	case msg.Text != "":
		m.Text = plainText(msg.Text, msg.Entities)
	case msg.Caption != "":
		m.Text = plainText(msg.Caption, msg.CaptionEntities)
	}
	if f := largestPhoto(msg.Photo); f != nil {
		add(f, "photo", "photo_"+f.FileUniqueID+".jpg", "image/jpeg")
	}
	// An animation also comes as a document, for old clients: one file.
	if f := msg.Animation; f != nil {
		add(f, "animation", "animation_"+f.FileUniqueID+".mp4", "video/mp4")
	} else if f := msg.Document; f != nil {
		add(f, "document", "document_"+f.FileUniqueID, "application/octet-stream")
	}
	if f := msg.Audio; f != nil {
		add(f, "audio", "audio_"+f.FileUniqueID+".mp3", "audio/mpeg")
	}
	if f := msg.Voice; f != nil {
		add(f, "voice", "voice_"+f.FileUniqueID+".ogg", "audio/ogg")
	}
	if f := msg.Video; f != nil {
		add(f, "video", "video_"+f.FileUniqueID+".mp4", "video/mp4")
	}
	if f := msg.VideoNote; f != nil {
		add(f, "video_note", "video_note_"+f.FileUniqueID+".mp4", "video/mp4")
	}
	if f := msg.Sticker; f != nil && f.FileID != "" {
		name, mime := "sticker_"+f.FileUniqueID+".webp", "image/webp"
		switch {
		case f.IsAnimated:
			name, mime = "sticker_"+f.FileUniqueID+".tgs", "application/x-tgsticker"
		case f.IsVideo:
			name, mime = "sticker_"+f.FileUniqueID+".webm", "video/webm"
		}
		add(f, "sticker", name, mime)
		if m.Text == "" {
			m.Text = f.Emoji
		}
	}
	switch {
	case msg.Venue != nil:
		m.Location = &connectors.Location{Latitude: msg.Venue.Location.Latitude, Longitude: msg.Venue.Location.Longitude,
			Title: msg.Venue.Title, Address: msg.Venue.Address}
	case msg.Location != nil:
		m.Location = &connectors.Location{Latitude: msg.Location.Latitude, Longitude: msg.Location.Longitude}
	}
	if ct := msg.Contact; ct != nil && m.Text == "" {
		m.Text = strings.TrimSpace("Contact: " + strings.TrimSpace(ct.FirstName+" "+ct.LastName) + ", " + ct.PhoneNumber)
	}
	if d := msg.Dice; d != nil && m.Text == "" {
		m.Text = d.Emoji + " " + strconv.FormatInt(d.Value, 10)
	}
	if p := msg.Poll; p != nil && m.Text == "" {
		var b strings.Builder
		b.WriteString("Poll: " + p.Question)
		for _, o := range p.Options {
			b.WriteString("\n- " + o.Text)
		}
		m.Text = b.String()
	}
	if m.Text == "" && len(m.Files) == 0 && m.Location == nil {
		return nil
	}
	return m
}

// largestPhoto picks the biggest size of a photo (Telegram lists several).
func largestPhoto(sizes []tgFile) *tgFile {
	var best *tgFile
	for i := range sizes {
		s := &sizes[i]
		if s.FileID == "" {
			continue
		}
		if best == nil || s.Width*s.Height > best.Width*best.Height ||
			(s.Width*s.Height == best.Width*best.Height && s.FileSize > best.FileSize) {
			best = s
		}
	}
	return best
}

// file describes one Telegram file as a gateway link. name and mime are
// used when Telegram gives none. A file over Telegram's download limit
// gets no link, only TooLarge: fetching it could never succeed.
func file(c connectors.Conn, f *tgFile, kind, name, mime string) connectors.File {
	if f.FileName != "" {
		name = f.FileName
	}
	if f.MimeType != "" {
		mime = f.MimeType
	}
	out := connectors.File{Name: name, Mime: mime, Size: max(f.FileSize, 0), Kind: kind}
	switch {
	case f.FileSize > maxDownload:
		out.TooLarge = true
	case c.Files != nil:
		out.URL = c.Files.FileURL(refFile+f.FileID, name, mime)
	}
	return out
}

// plainText is the message text with links whose label is not their
// address written as "label (address)"; all other formatting is dropped.
// Entity offsets count UTF-16 code units, as the Bot API does; entities
// that do not fit the text are ignored.
func plainText(text string, entities []tgEntity) string {
	var links []tgEntity
	for _, e := range entities {
		if e.Type == "text_link" && e.URL != "" && e.Length > 0 && e.Offset >= 0 {
			links = append(links, e)
		}
	}
	if len(links) == 0 {
		return text
	}
	units := utf16.Encode([]rune(text))
	var b strings.Builder
	pos := 0
	for _, e := range links {
		end := e.Offset + e.Length
		if e.Offset < pos || end > len(units) || end < e.Offset {
			continue // overlapping or out of range
		}
		label := string(utf16.Decode(units[e.Offset:end]))
		b.WriteString(string(utf16.Decode(units[pos:end])))
		if strings.TrimSpace(label) != e.URL {
			b.WriteString(" (" + e.URL + ")")
		}
		pos = end
	}
	b.WriteString(string(utf16.Decode(units[pos:])))
	return b.String()
}

// cachedUserOf is user(c, u) from the connector's cache of recent senders.
func cachedUserOf(c connectors.Conn, users *userCache, u *tgUser) *connectors.User {
	if u == nil {
		return nil
	}
	return users.get(c, u, func() *connectors.User { return user(c, u) })
}

// user normalizes a Telegram user; nil stays nil. The avatar is a gateway
// link that serves the user's current profile photo when fetched (Parse
// must not call Telegram to look it up).
func user(c connectors.Conn, u *tgUser) *connectors.User {
	if u == nil {
		return nil
	}
	out := &connectors.User{
		ID:       strconv.FormatInt(u.ID, 10),
		Name:     strings.TrimSpace(u.FirstName + " " + u.LastName),
		Username: u.Username,
		Language: u.LanguageCode,
	}
	if c.Files != nil && u.ID > 0 {
		out.AvatarURL = c.Files.FileURL(refAvatar+out.ID, "avatar_"+out.ID+".jpg", "image/jpeg")
	}
	out.ProfileHash = connectors.ProfileHash(out.ID, u.FirstName, u.LastName, out.Username, out.Language)
	return out
}
