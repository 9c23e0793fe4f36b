package twilio

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/connector-gateway/connector/connectors"
)

// Webhook kinds, the "kind" query parameter of the URLs the gateway gives
// Twilio. Without one, a request carrying a MessageSid is an incoming
// message and one carrying only a CallSid an incoming call.
const (
	kindMessage    = "message"
	kindStatus     = "status"
	kindVoice      = "voice"
	kindCall       = "call"
	kindDialEnd    = "dial-end"
	kindQueueEnd   = "queue-end"
	kindRecording  = "recording"
	maxMedia       = 10
	requestParam   = "request"
	kindParam      = "kind"
	contentTypeXML = "text/xml; charset=utf-8"
)

// emptyTwiML is the answer to webhooks that need no action: an empty
// TwiML document. (A text/plain answer to an incoming message would be
// sent back to the customer as a reply.)
var emptyTwiML = []byte(xmlHeader + "<Response></Response>")

const xmlHeader = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"

// Parse turns one Twilio webhook into events. Every request must carry a
// valid X-Twilio-Signature over r.URL (the URL Twilio called) and the form
// parameters, else the error wraps connectors.ErrUnauthorized. Parameters
// Parse does not know are ignored. It answers incoming calls with the
// connection's TwiML and every other webhook with an empty TwiML document.
func (cn *Connector) Parse(ctx context.Context, c connectors.Conn, r connectors.Request) (connectors.Inbound, error) {
	sig := r.Header.Get(SignatureHeader)
	if sig == "" {
		return connectors.Inbound{}, fmt.Errorf("twilio: no %s header: %w", SignatureHeader, connectors.ErrUnauthorized)
	}
	var form url.Values
	if isJSON(r.Header) {
		// Twilio signs a JSON body through the URL's bodySHA256; without
		// it the signature would cover the URL alone, not the body.
		if r.Query.Get("bodySHA256") == "" {
			return connectors.Inbound{}, fmt.Errorf("twilio: a JSON webhook without bodySHA256: %w", connectors.ErrUnauthorized)
		}
	} else {
		var err error
		if form, err = url.ParseQuery(string(r.Body)); err != nil {
			return connectors.Inbound{}, fmt.Errorf("twilio: form body: %v: %w", err, connectors.ErrMalformed)
		}
	}
	if !validSignature(c.Settings[SettingAuthToken], r.URL, form, r.Body, sig) {
		return connectors.Inbound{}, fmt.Errorf("twilio: %s does not match the request to %s (is public_url exactly the address Twilio calls?): %w",
			SignatureHeader, redactQuery(r.URL), connectors.ErrUnauthorized)
	}
	if form == nil {
		// Twilio sends JSON only from products this connector does not
		// use (Event Streams, Studio): nothing to do.
		return connectors.Inbound{Response: twiml(emptyTwiML)}, nil
	}
	kind := r.Query.Get(kindParam)
	if kind == "" {
		switch {
		case form.Get("MessageSid") != "" || form.Get("SmsMessageSid") != "":
			kind = kindMessage
		case form.Get("CallSid") != "":
			kind = kindVoice
		}
	}
	switch kind {
	case kindMessage:
		return cn.parseMessage(c, form)
	case kindStatus:
		return parseStatus(c, r.Query.Get(requestParam), form)
	case kindVoice:
		return cn.parseVoice(c, form)
	case kindCall:
		return parseCall(c, form, true)
	case kindDialEnd, kindQueueEnd:
		// The caller's own call goes on to its end, which its status
		// callback reports; here there is only the rest of the call to
		// decide: hang up.
		return connectors.Inbound{Response: twiml(hangupTwiML())}, nil
	case kindRecording:
		return cn.parseRecording(c, form)
	}
	return connectors.Inbound{}, fmt.Errorf("twilio: a webhook with neither MessageSid nor CallSid: %w", connectors.ErrMalformed)
}

func isJSON(h http.Header) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(h.Get("Content-Type"))), "application/json")
}

func twiml(body []byte) *connectors.Response {
	return &connectors.Response{Status: http.StatusOK, ContentType: contentTypeXML, Body: body}
}

// redactQuery is u without its query (which may name a request id), for
// error text.
func redactQuery(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i] + "?…"
	}
	return u
}

// channelOf is the event channel of a Twilio address.
func channelOf(addr string) string {
	if strings.HasPrefix(addr, "whatsapp:") {
		return ChannelWhatsApp
	}
	return Type
}

// base is an event of type typ with the connection's fields filled in and
// its id derived from key.
func base(c connectors.Conn, key, typ, channel string, at time.Time) connectors.Event {
	return connectors.Event{
		ID: connectors.EventID(key), Type: typ, OccurredAt: at.UTC(),
		Connector: Type, Channel: channel, Connection: c.ID, Line: c.LineID,
	}
}

// parseMessage makes a message.created of an incoming SMS, MMS or WhatsApp
// message.
func (cn *Connector) parseMessage(c connectors.Conn, f url.Values) (connectors.Inbound, error) {
	sid := f.Get("MessageSid")
	if sid == "" {
		sid = f.Get("SmsMessageSid")
	}
	from := f.Get("From")
	if from == "" {
		return connectors.Inbound{}, fmt.Errorf("twilio: message %s has no From: %w", sid, connectors.ErrMalformed)
	}
	key := connectors.DedupeKey(Type, c.ID, sid)
	ev := base(c, key, connectors.TypeMessageCreated, channelOf(from), time.Now())
	ev.Chat = &connectors.Chat{ID: from, Type: "private"}
	ev.User = &connectors.User{ID: from, Name: f.Get("ProfileName")}
	if wa := f.Get("WaId"); wa != "" {
		ev.User.Username = wa
	}
	ev.User.ProfileHash = profileHash(ev.User)
	m := &connectors.Message{ID: sid, Text: f.Get("Body"), ReplyTo: f.Get("OriginalRepliedMessageSid")}
	n, _ := strconv.Atoi(f.Get("NumMedia"))
	n = min(max(n, 0), maxMedia)
	for i := range n {
		if fl, ok := cn.mediaFile(c, f.Get("MediaUrl"+strconv.Itoa(i)), f.Get("MediaContentType"+strconv.Itoa(i))); ok {
			m.Files = append(m.Files, fl)
		}
	}
	if lat, lon := f.Get("Latitude"), f.Get("Longitude"); lat != "" && lon != "" {
		la, err1 := strconv.ParseFloat(lat, 64)
		lo, err2 := strconv.ParseFloat(lon, 64)
		if err1 == nil && err2 == nil && la >= -90 && la <= 90 && lo >= -180 && lo <= 180 {
			m.Location = &connectors.Location{Latitude: la, Longitude: lo, Title: f.Get("Label"), Address: f.Get("Address")}
		}
	}
	if m.Text == "" && len(m.Files) == 0 && m.Location == nil {
		// A reaction, a button payload without text, or media the
		// gateway cannot link: nothing a portal could show.
		return connectors.Inbound{Response: twiml(emptyTwiML)}, nil
	}
	ev.Message = m
	return connectors.Inbound{Events: []connectors.Keyed{{DedupeKey: key, Event: ev}}, Response: twiml(emptyTwiML)}, nil
}

// mediaPath is the path of a message's media or a call's recording on the
// REST API, as Twilio puts it into MediaUrl and RecordingUrl.
var mediaPath = regexp.MustCompile(`^/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})/(Messages/MM[0-9a-fA-F]{32}/Media/ME[0-9a-fA-F]{32}|Recordings/RE[0-9a-fA-F]{32})$`)

// fileRef turns a Twilio media or recording URL of the connection's
// account into a file reference ("Messages/MM…/Media/ME…" or
// "Recordings/RE…"): FetchFile fetches it from the configured API with the
// account's credentials, so the credentials never go to a host named in a
// webhook. Any other URL has no reference (ok false).
func fileRef(c connectors.Conn, raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", false
	}
	m := mediaPath.FindStringSubmatch(strings.TrimSuffix(strings.TrimSuffix(u.Path, ".json"), ".mp3"))
	if m == nil || !strings.EqualFold(m[1], c.Settings[SettingAccountSID]) {
		return "", false
	}
	return m[2], true
}

// mediaFile is the file of one MediaUrl, as a gateway link.
func (cn *Connector) mediaFile(c connectors.Conn, raw, mime string) (connectors.File, bool) {
	ref, ok := fileRef(c, raw)
	if !ok {
		return connectors.File{}, false
	}
	name := ref[strings.LastIndexByte(ref, '/')+1:] + extension(mime)
	f := connectors.File{Name: name, Mime: mime, Kind: kindOf(mime)}
	if c.Files != nil {
		f.URL = c.Files.FileURL(ref, name, mime)
	}
	return f, true
}

func kindOf(mime string) string {
	switch {
	case strings.HasPrefix(mime, "image/"):
		return "photo"
	case strings.HasPrefix(mime, "audio/"):
		return "audio"
	case strings.HasPrefix(mime, "video/"):
		return "video"
	}
	return "document"
}

func extension(mime string) string {
	switch strings.ToLower(strings.TrimSpace(strings.SplitN(mime, ";", 2)[0])) {
	case "image/jpeg":
		return ".jpg"
	case "image/png":
		return ".png"
	case "image/gif":
		return ".gif"
	case "image/webp":
		return ".webp"
	case "audio/ogg":
		return ".ogg"
	case "audio/mpeg":
		return ".mp3"
	case "audio/amr":
		return ".amr"
	case "video/mp4":
		return ".mp4"
	case "application/pdf":
		return ".pdf"
	case "text/vcard", "text/x-vcard":
		return ".vcf"
	}
	return ""
}

// profileHash changes exactly when a field of u a portal shows changes.
func profileHash(u *connectors.User) string {
	return connectors.ProfileHash(u.ID, u.Name, u.Username)
}
