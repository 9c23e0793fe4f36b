package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/connector-gateway/connector/connectors"
)

// Headers Slack sends with every Events API request.
const (
	SignatureHeader = "X-Slack-Signature"
	TimestampHeader = "X-Slack-Request-Timestamp"
	RetryNumHeader  = "X-Slack-Retry-Num"
)

// Parse verifies one Events API request and turns it into events. It never
// calls Slack (profiles it does not know yet are looked up in the
// background, see directory).
//
//   - no signing secret configured, a missing or wrong X-Slack-Signature,
//     or an X-Slack-Request-Timestamp more than 5 minutes from now (either
//     way) → an error wrapping connectors.ErrUnauthorized;
//   - url_verification → no events and Response carrying the challenge;
//   - a body that is not an Events API payload → an error wrapping
//     connectors.ErrMalformed;
//   - anything else → the events Normalize makes of it (possibly none).
//
// Slack's retries (X-Slack-Retry-Num) need no special case: they carry the
// same event, whose dedupe keys are the same.
func (cn *Connector) Parse(_ context.Context, c connectors.Conn, r connectors.Request) (connectors.Inbound, error) {
	h, body := r.Header, r.Body
	secret := c.Settings[SettingSigningSecret]
	if secret == "" {
		return connectors.Inbound{}, fmt.Errorf("slack: no signing secret is configured for this connection: %w", connectors.ErrUnauthorized)
	}
	sv, err := slackapi.NewSecretsVerifier(h, secret)
	if err != nil {
		return connectors.Inbound{}, fmt.Errorf("slack: request signature: %s: %w", verifyReason(err), connectors.ErrUnauthorized)
	}
	_, _ = sv.Write(body)
	if err := sv.Ensure(); err != nil {
		return connectors.Inbound{}, fmt.Errorf("slack: request signature does not match the signing secret: %w", connectors.ErrUnauthorized)
	}
	cn.markSeen(c.ID, time.Now())

	n, err := normalizer{cn}.normalize(c, body)
	if err != nil {
		return connectors.Inbound{}, err
	}
	in := connectors.Inbound{Events: n.events}
	if n.challenge != "" {
		in.Response = &connectors.Response{Status: http.StatusOK, ContentType: "text/plain; charset=utf-8", Body: []byte(n.challenge)}
	}
	return in, nil
}

// verifyReason says in words why the library refused a signature.
func verifyReason(err error) string {
	switch {
	case errors.Is(err, slackapi.ErrExpiredTimestamp):
		return "timestamp is more than 5 minutes away from now"
	case errors.Is(err, slackapi.ErrMissingHeaders):
		return "signature or timestamp header missing"
	case errors.Is(err, slackapi.ErrInvalidSignature):
		return "malformed signature"
	}
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		return "timestamp is not a number"
	}
	return "malformed signature"
}

// normalized is what one Events API payload becomes.
type normalized struct {
	events []connectors.Keyed
	// challenge is set for url_verification.
	challenge string
}

// Inner event types the connector turns into events or uses.
const (
	innerMessage    = "message"
	innerAppMention = "app_mention"
	innerUserChange = "user_change"
	innerTeamJoin   = "team_join"
)

// normalizer turns Events API payloads into events: the connector seen
// from its parsing side (the user and channel directory it reads, the bot
// ids it skips), apart from its contract methods.
type normalizer struct{ *Connector }

// normalize turns one Events API payload (the HTTP body, or the payload of
// a Socket Mode envelope) into events. It is the one parser both receive
// modes share; the payload must already be authenticated.
//
// Mapping (the dedupe key is the message's identity, which every retry and
// every redelivery of the same event repeats exactly as it repeats
// event_id; keying by the message also folds the message and app_mention
// events Slack sends for one mention into one event):
//
//   - message (no subtype, file_share, thread_broadcast, me_message) and
//     app_mention → message.created, key "slack:<conn>:msg:<channel>:<ts>";
//   - message_changed, and app_mention of an edited message →
//     message.updated, key "slack:<conn>:edit:<channel>:<ts>:<edit ts>";
//     a change that leaves text and files as they were (link previews) is
//     skipped;
//   - message_deleted, and message_changed to a tombstone →
//     message.deleted, key "slack:<conn>:del:<channel>:<ts>";
//   - messages of bots (bot_id set, subtype bot_message), this app's own
//     included, and other subtypes (joins, topics…) → nothing;
//   - user_change, team_join → nothing, but the profile is remembered;
//   - other event types, app_rate_limited → nothing.
func (cn normalizer) normalize(c connectors.Conn, payload []byte) (normalized, error) {
	ev, err := slackevents.ParseEvent(json.RawMessage(payload), slackevents.OptionNoVerifyToken())
	if err != nil {
		if skippable(payload) {
			return normalized{}, nil
		}
		return normalized{}, fmt.Errorf("slack: decode event: %w: %v", connectors.ErrMalformed, err)
	}
	switch ev.Type {
	case slackevents.URLVerification:
		v, ok := ev.Data.(*slackevents.EventsAPIURLVerificationEvent)
		if !ok || v.Challenge == "" {
			return normalized{}, fmt.Errorf("slack: url_verification without challenge: %w", connectors.ErrMalformed)
		}
		return normalized{challenge: v.Challenge}, nil
	case slackevents.CallbackEvent:
	default:
		return normalized{}, nil
	}
	cb, ok := ev.Data.(*slackevents.EventsAPICallbackEvent)
	if !ok || cb.InnerEvent == nil {
		return normalized{}, fmt.Errorf("slack: event_callback without event: %w", connectors.ErrMalformed)
	}
	env := envelope{conn: c, team: cb.TeamID, botUser: botUser(cb)}
	var k *connectors.Keyed
	switch inner := ev.InnerEvent.Data.(type) {
	case *slackevents.MessageEvent:
		k, err = cn.message(env, inner)
	case *slackevents.AppMentionEvent:
		k, err = cn.mention(env, inner)
	default:
		switch ev.InnerEvent.Type {
		case innerUserChange, innerTeamJoin:
			cn.rememberUser(env.team, *cb.InnerEvent)
		}
	}
	if err != nil || k == nil {
		return normalized{}, err
	}
	return normalized{events: []connectors.Keyed{*k}}, nil
}

// skippable reports whether a payload the library could not parse is a
// well-formed event the connector has no use for (a type the library does
// not know, say), which is answered 200 with no events rather than refused.
func skippable(payload []byte) bool {
	var probe struct {
		Type  string `json:"type"`
		Event *struct {
			Type string `json:"type"`
		} `json:"event"`
	}
	if err := json.Unmarshal(payload, &probe); err != nil || probe.Type == "" {
		return false
	}
	if probe.Type != slackevents.CallbackEvent {
		return probe.Type != slackevents.URLVerification
	}
	if probe.Event == nil || probe.Event.Type == "" {
		return false
	}
	switch probe.Event.Type {
	case innerMessage, innerAppMention:
		return false
	}
	return true
}

// botUser is the user id of this app's bot in the workspace, from the
// event's authorizations.
func botUser(cb *slackevents.EventsAPICallbackEvent) string {
	for _, a := range cb.Authorizations {
		if a.IsBot && a.UserID != "" {
			return a.UserID
		}
	}
	return ""
}

// rememberUser stores the profile a user_change or team_join event carries.
func (cn normalizer) rememberUser(team string, raw json.RawMessage) {
	var inner struct {
		User json.RawMessage `json:"user"`
	}
	if json.Unmarshal(raw, &inner) != nil {
		return
	}
	var u slackapi.User
	if json.Unmarshal(inner.User, &u) != nil || u.ID == "" {
		return
	}
	cn.dir.setUser(team, &u)
}

// envelope is what the outer event tells about an inner one.
type envelope struct {
	conn    connectors.Conn
	team    string
	botUser string
}

// msgView is a message as the connector needs it, from any event shape.
type msgView struct {
	channel, channelType string
	ts, threadTS         string
	user, botID, subtype string
	text                 string
	files                []slackapi.File
	editedTS             string
}

func viewOf(channel, channelType string, m *slackapi.Msg) msgView {
	v := msgView{
		channel: channel, channelType: channelType,
		ts: m.Timestamp, threadTS: m.ThreadTimestamp,
		user: m.User, botID: m.BotID, subtype: m.SubType,
		text: m.Text, files: m.Files,
	}
	if v.channel == "" {
		v.channel = m.Channel
	}
	if m.Edited != nil {
		v.editedTS = m.Edited.Timestamp
	}
	return v
}

// fromBot reports whether a message was posted by a bot or app (this one
// included), which the gateway never forwards: answering them could loop.
func (v msgView) fromBot(env envelope) bool {
	return v.botID != "" || v.subtype == "bot_message" || (env.botUser != "" && v.user == env.botUser)
}

func (cn normalizer) message(env envelope, m *slackevents.MessageEvent) (*connectors.Keyed, error) {
	switch m.SubType {
	case "", "file_share", "thread_broadcast", "me_message":
		if m.Message == nil {
			return nil, fmt.Errorf("slack: message event without message: %w", connectors.ErrMalformed)
		}
		v := viewOf(m.Channel, m.ChannelType, m.Message)
		v.subtype = m.SubType
		if v.fromBot(env) || v.user == "" {
			return nil, nil
		}
		return cn.created(env, v)
	case "message_changed":
		if m.Message == nil {
			return nil, fmt.Errorf("slack: message_changed without message: %w", connectors.ErrMalformed)
		}
		v := viewOf(m.Channel, m.ChannelType, m.Message)
		if v.fromBot(env) {
			return nil, nil
		}
		if v.subtype == "tombstone" {
			return cn.deleted(env, v, m.EventTimeStamp)
		}
		if v.user == "" {
			return nil, nil
		}
		if p := m.PreviousMessage; p != nil && p.Text == m.Message.Text && sameFiles(p.Files, m.Message.Files) {
			return nil, nil // only link previews or reactions changed
		}
		if v.editedTS == "" {
			v.editedTS = m.EventTimeStamp
		}
		return cn.updated(env, v)
	case "message_deleted":
		v := msgView{channel: m.Channel, channelType: m.ChannelType, ts: m.DeletedTimeStamp}
		if p := m.PreviousMessage; p != nil {
			v = viewOf(m.Channel, m.ChannelType, p)
			v.ts = firstNonEmpty(m.DeletedTimeStamp, p.Timestamp)
		}
		if v.fromBot(env) {
			return nil, nil
		}
		return cn.deleted(env, v, firstNonEmpty(m.EventTimeStamp, m.TimeStamp))
	}
	return nil, nil
}

func (cn normalizer) mention(env envelope, m *slackevents.AppMentionEvent) (*connectors.Keyed, error) {
	v := msgView{
		channel: m.Channel, ts: m.TimeStamp, threadTS: m.ThreadTimeStamp,
		user: m.User, botID: m.BotID, text: m.Text, files: m.Files,
	}
	if v.fromBot(env) || v.user == "" {
		return nil, nil
	}
	if m.Edited != nil {
		v.editedTS = firstNonEmpty(m.Edited.TimeStamp, m.EventTimeStamp)
		return cn.updated(env, v)
	}
	return cn.created(env, v)
}

func sameFiles(a, b []slackapi.File) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID {
			return false
		}
	}
	return true
}

var (
	// idShape is a Slack channel, user or team id: a capital letter, then
	// capitals and digits.
	idShape = regexp.MustCompile(`^[A-Z][A-Z0-9]{1,31}$`)
	// tsShape is a Slack message timestamp ("1700000000.000100").
	tsShape = regexp.MustCompile(`^[0-9]{1,12}\.[0-9]{1,9}$`)
)

// tsTime turns a Slack timestamp into a time (UTC).
func tsTime(ts string) time.Time {
	sec, frac, _ := strings.Cut(ts, ".")
	s, _ := strconv.ParseInt(sec, 10, 64)
	frac = (frac + "000000000")[:9]
	ns, _ := strconv.ParseInt(frac, 10, 64)
	return time.Unix(s, ns).UTC()
}

// check refuses a message whose channel or timestamp is not what Slack
// sends, so every chat id and message id the gateway hands out is sound.
func (v msgView) check() error {
	if !idShape.MatchString(v.channel) {
		return fmt.Errorf("slack: channel %q is not a Slack channel id: %w", v.channel, connectors.ErrMalformed)
	}
	if !tsShape.MatchString(v.ts) {
		return fmt.Errorf("slack: message ts %q is not a Slack timestamp: %w", v.ts, connectors.ErrMalformed)
	}
	if v.threadTS != "" && !tsShape.MatchString(v.threadTS) {
		return fmt.Errorf("slack: thread_ts %q is not a Slack timestamp: %w", v.threadTS, connectors.ErrMalformed)
	}
	return nil
}

func (cn normalizer) created(env envelope, v msgView) (*connectors.Keyed, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	key := connectors.DedupeKey(Type, env.conn.ID, "msg", v.channel, v.ts)
	ev := cn.base(env, v, connectors.TypeMessageCreated, key, tsTime(v.ts))
	ev.User = cn.user(env, v.user)
	ev.Message = cn.content(env, v)
	return &connectors.Keyed{DedupeKey: key, Event: ev}, nil
}

func (cn normalizer) updated(env envelope, v msgView) (*connectors.Keyed, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	if !tsShape.MatchString(v.editedTS) {
		return nil, fmt.Errorf("slack: edit ts %q is not a Slack timestamp: %w", v.editedTS, connectors.ErrMalformed)
	}
	key := connectors.DedupeKey(Type, env.conn.ID, "edit", v.channel, v.ts, v.editedTS)
	at := tsTime(v.editedTS)
	ev := cn.base(env, v, connectors.TypeMessageUpdated, key, at)
	ev.User = cn.user(env, v.user)
	ev.Message = cn.content(env, v)
	ev.Message.EditedAt = &at
	return &connectors.Keyed{DedupeKey: key, Event: ev}, nil
}

func (cn normalizer) deleted(env envelope, v msgView, eventTS string) (*connectors.Keyed, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	key := connectors.DedupeKey(Type, env.conn.ID, "del", v.channel, v.ts)
	at := time.Now().UTC().Truncate(time.Second)
	if tsShape.MatchString(eventTS) {
		at = tsTime(eventTS)
	}
	ev := cn.base(env, v, connectors.TypeMessageDeleted, key, at)
	ev.Message = &connectors.Message{ID: v.ts}
	return &connectors.Keyed{DedupeKey: key, Event: ev}, nil
}

// base fills the fields every message event has.
func (cn normalizer) base(env envelope, v msgView, typ, key string, at time.Time) connectors.Event {
	return connectors.Event{
		ID:         connectors.EventID(key),
		Type:       typ,
		OccurredAt: at,
		Connector:  Type,
		Channel:    Type,
		Connection: env.conn.ID,
		Line:       env.conn.LineID,
		Chat:       cn.chat(env, v),
	}
}

// chat names the conversation: the channel, or the thread inside it when
// the message is a reply (thread_ts set and not the message's own ts).
func (cn normalizer) chat(env envelope, v msgView) *connectors.Chat {
	ch := &connectors.Chat{ID: v.channel, Type: chatType(v.channel, v.channelType)}
	if ch.Type == "channel" {
		if title, ok := cn.dir.channel(env.conn.Settings[SettingBotToken], env.team, v.channel); ok {
			ch.Title = title
		}
	}
	if v.inThread() {
		ch.ID = chatRef{channel: v.channel, thread: v.threadTS}.String()
		ch.Type = "thread"
	}
	return ch
}

func (v msgView) inThread() bool { return v.threadTS != "" && v.threadTS != v.ts }

// chatType maps Slack's channel_type (or, where an event lacks it, the id's
// first letter) to the protocol's chat types.
func chatType(channel, channelType string) string {
	switch channelType {
	case "im":
		return "private"
	case "mpim":
		return "group"
	case "channel", "group":
		return "channel"
	}
	if strings.HasPrefix(channel, "D") {
		return "private"
	}
	return "channel"
}

// user is the event's author: the id always, the profile as far as it is
// known now (a lookup starts in the background when it is not).
func (cn normalizer) user(env envelope, id string) *connectors.User {
	p, _ := cn.dir.user(env.conn.Settings[SettingBotToken], env.team, id)
	return &connectors.User{
		ID:          id,
		Name:        p.Name,
		Username:    p.Username,
		Language:    p.Language,
		AvatarURL:   p.AvatarURL,
		ProfileHash: p.hash(id),
	}
}

// content is the message part of a created or updated event.
func (cn normalizer) content(env envelope, v msgView) *connectors.Message {
	text := v.text
	if env.botUser != "" {
		text = stripLeadingMention(text, env.botUser)
	}
	m := &connectors.Message{
		ID:    v.ts,
		Text:  PlainText(text, names{d: cn.dir, team: env.team}),
		Files: files(env.conn, v.files),
	}
	if v.inThread() {
		m.ReplyTo = v.threadTS
	}
	return m
}

// stripLeadingMention removes the mention of the app's bot at the start of
// a message ("@Helpdesk my printer…"): it addresses the app, not the agent.
func stripLeadingMention(text, botUser string) string {
	t := strings.TrimLeft(text, " ")
	if !strings.HasPrefix(t, "<@"+botUser) {
		return text
	}
	end := strings.IndexByte(t, '>')
	if end < 0 {
		return text
	}
	if inner := t[2:end]; inner != botUser && !strings.HasPrefix(inner, botUser+"|") {
		return text
	}
	return strings.TrimLeft(t[end+1:], " ")
}
