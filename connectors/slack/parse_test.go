package slack_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/connectortest"
	"github.com/connector-gateway/connector/connectors/slack/slacktest"
)

var cust = slacktest.Customer.ID

func TestDirectMessageBecomesMessageCreated(t *testing.T) {
	cn, c, _ := setup(t)
	body := slacktest.EventCallback("Ev0001", slacktest.Message(dm, "im", cust, "Hi, my order #1042 &amp; invoice?", "1700000000.000100"))
	k := one(t, cn, c, body)
	ev := k.Event
	if k.DedupeKey == "" || ev.ID != connectors.EventID(k.DedupeKey) {
		t.Fatalf("ids: key %q, id %q", k.DedupeKey, ev.ID)
	}
	if ev.Type != connectors.TypeMessageCreated || ev.Connector != "slack" || ev.Channel != "slack" || ev.Connection != connID || ev.Line != lineID {
		t.Fatalf("event = %+v", ev)
	}
	if ev.Chat == nil || ev.Chat.ID != dm || ev.Chat.Type != "private" {
		t.Fatalf("chat = %+v", ev.Chat)
	}
	if ev.Message == nil || ev.Message.ID != "1700000000.000100" || ev.Message.Text != "Hi, my order #1042 & invoice?" || ev.Message.ReplyTo != "" {
		t.Fatalf("message = %+v", ev.Message)
	}
	if want := time.Unix(1700000000, 100000).UTC(); !ev.OccurredAt.Equal(want) {
		t.Fatalf("occurred_at %v, want %v", ev.OccurredAt, want)
	}
	if ev.User == nil || ev.User.ID != cust || ev.User.ProfileHash == "" {
		t.Fatalf("user = %+v", ev.User)
	}
}

func TestChatKinds(t *testing.T) {
	cn, c, _ := setup(t)
	cases := []struct {
		name, ch, chType, wantType string
	}{
		{"public channel", channel, "channel", "channel"},
		{"private channel", "G0PRIV001", "group", "channel"},
		{"group DM", "G0MPIM001", "mpim", "group"},
		{"DM", dm, "im", "private"},
	}
	for i, tc := range cases {
		ts := "1700000100.00000" + string(rune('1'+i))
		ev := one(t, cn, c, slacktest.EventCallback("EvK"+ts, slacktest.Message(tc.ch, tc.chType, cust, "hello", ts))).Event
		if ev.Chat.ID != tc.ch || ev.Chat.Type != tc.wantType {
			t.Errorf("%s: chat = %+v, want id %s type %s", tc.name, ev.Chat, tc.ch, tc.wantType)
		}
	}
	// The channel's name is looked up in the background and shows up as
	// the title of later events.
	cn.WaitLookups()
	ev := one(t, cn, c, slacktest.EventCallback("EvK2", slacktest.Message(channel, "channel", cust, "again", "1700000101.000001"))).Event
	if ev.Chat.Title != "support" {
		t.Errorf("channel title = %q, want support", ev.Chat.Title)
	}
}

// A reply in a thread names the thread in its chat id, so an answer to that
// chat goes back into the thread.
func TestThreadReplyChatIsTheThread(t *testing.T) {
	cn, c, _ := setup(t)
	root := "1700000200.000100"
	top := one(t, cn, c, slacktest.EventCallback("EvT1", slacktest.Message(channel, "channel", cust, "printer broken", root))).Event
	if top.Chat.ID != channel || top.Chat.Type != "channel" {
		t.Fatalf("top-level chat = %+v", top.Chat)
	}
	reply := one(t, cn, c, slacktest.EventCallback("EvT2", slacktest.ThreadReply(channel, "channel", cust, "still broken", "1700000300.000200", root))).Event
	if reply.Chat.ID != channel+":"+root || reply.Chat.Type != "thread" || reply.Message.ReplyTo != root {
		t.Fatalf("thread reply: chat %+v, reply_to %q", reply.Chat, reply.Message.ReplyTo)
	}
	// A thread's root message reported with its own ts as thread_ts stays
	// in the channel.
	rootAgain := slacktest.ThreadReply(channel, "channel", cust, "printer broken", root, root)
	if ev := one(t, cn, c, slacktest.EventCallback("EvT3", rootAgain)).Event; ev.Chat.ID != channel {
		t.Fatalf("root with thread_ts = ts: chat %+v", ev.Chat)
	}
}

// Slack sends both a message and an app_mention event for one mention; the
// portal gets one event, without the mention of the app in front.
func TestAppMentionAndMessageAreOneEvent(t *testing.T) {
	cn, c, _ := setup(t)
	ts := "1700000400.000100"
	text := "<@" + slacktest.BotUserID + "> can you help? :pray:"
	a := one(t, cn, c, slacktest.EventCallback("EvM1", slacktest.AppMention(channel, cust, text, ts)))
	b := one(t, cn, c, slacktest.EventCallback("EvM2", slacktest.Message(channel, "channel", cust, text, ts)))
	if a.DedupeKey != b.DedupeKey || a.Event.ID != b.Event.ID {
		t.Fatalf("app_mention key %q and message key %q differ: the portal would get the message twice", a.DedupeKey, b.DedupeKey)
	}
	if a.Event.Message.Text != "can you help? 🙏" || a.Event.Chat.ID != channel || a.Event.Chat.Type != "channel" {
		t.Fatalf("app_mention event: chat %+v, text %q", a.Event.Chat, a.Event.Message.Text)
	}
	if b.Event.Message.Text != a.Event.Message.Text {
		t.Fatalf("message text %q differs from app_mention text %q", b.Event.Message.Text, a.Event.Message.Text)
	}
	// A mention of someone else in the middle of a text stays.
	ev := one(t, cn, c, slacktest.EventCallback("EvM3", slacktest.AppMention(channel, cust, "ask <@U0OTHER01|bob> and <@"+slacktest.BotUserID+">", "1700000401.000100"))).Event
	if ev.Message.Text != "ask @bob and @"+slacktest.BotUserID {
		t.Fatalf("text = %q", ev.Message.Text)
	}
}

func TestEditsAndDeletions(t *testing.T) {
	cn, c, _ := setup(t)
	ts, edit := "1700000500.000100", "1700000560.000200"
	created := one(t, cn, c, slacktest.EventCallback("EvE0", slacktest.Message(dm, "im", cust, "helo", ts)))
	upd := one(t, cn, c, slacktest.EventCallback("EvE1", slacktest.MessageChanged(dm, "im", cust, ts, "helo", "hello *there*", edit)))
	ev := upd.Event
	if ev.Type != connectors.TypeMessageUpdated || ev.Message.ID != ts || ev.Message.Text != "hello there" || ev.Chat.ID != dm || ev.User == nil || ev.User.ID != cust {
		t.Fatalf("updated event = %+v / %+v", ev, ev.Message)
	}
	if ev.Message.EditedAt == nil || !ev.Message.EditedAt.Equal(time.Unix(1700000560, 200000).UTC()) || !ev.OccurredAt.Equal(*ev.Message.EditedAt) {
		t.Fatalf("edited_at %v, occurred_at %v", ev.Message.EditedAt, ev.OccurredAt)
	}
	if upd.DedupeKey == created.DedupeKey || ev.ID == created.Event.ID {
		t.Fatal("the edit has the same dedupe key as the message: it would be dropped")
	}
	// A second edit of the same message is a new event.
	upd2 := one(t, cn, c, slacktest.EventCallback("EvE2", slacktest.MessageChanged(dm, "im", cust, ts, "hello *there*", "hello there!", "1700000570.000300")))
	if upd2.DedupeKey == upd.DedupeKey {
		t.Fatal("two edits share a dedupe key")
	}
	// Slack reports link previews as a change that leaves the text alone.
	none(t, cn, c, slacktest.EventCallback("EvE3", slacktest.MessageChanged(dm, "im", cust, ts, "see https://x.example", "see https://x.example", "1700000580.000100")))

	del := one(t, cn, c, slacktest.EventCallback("EvE4", slacktest.MessageDeleted(dm, "im", cust, ts, "hello there!", "1700000600.000400"))).Event
	if del.Type != connectors.TypeMessageDeleted || del.Message == nil || del.Message.ID != ts || del.Message.Text != "" || del.User != nil || del.Chat.ID != dm {
		t.Fatalf("deleted event = %+v / %+v", del, del.Message)
	}
	if !del.OccurredAt.Equal(time.Unix(1700000600, 400000).UTC()) {
		t.Fatalf("deleted occurred_at %v", del.OccurredAt)
	}

	// A deleted thread reply names the thread, like the reply did.
	root, reply := "1700000700.000100", "1700000710.000100"
	ev2 := slacktest.MessageDeleted(channel, "channel", cust, reply, "x", "1700000720.000100")
	ev2["previous_message"].(map[string]any)["thread_ts"] = root
	if d := one(t, cn, c, slacktest.EventCallback("EvE5", ev2)).Event; d.Chat.ID != channel+":"+root {
		t.Fatalf("deleted thread reply chat = %+v", d.Chat)
	}
}

// Messages of bots, this app's own answers included, never reach the
// portal: answering them could loop.
func TestBotsAndOwnMessagesAreIgnored(t *testing.T) {
	cn, c, _ := setup(t)
	own := slacktest.AppMessage(dm, "im", "Yes! How can I help?", "1700000800.000100")
	bodies := map[string]map[string]any{
		"other bot":             slacktest.BotMessage(channel, "channel", "B0OTHER01", "deploy finished", "1700000801.000100"),
		"own answer":            own,
		"own answer, edited":    slacktest.MessageChanged(dm, "im", slacktest.BotUserID, "1700000800.000100", "Yes!", "Yes, sure!", "1700000802.000100"),
		"own answer, deleted":   slacktest.MessageDeleted(dm, "im", slacktest.BotUserID, "1700000800.000100", "Yes!", "1700000803.000100"),
		"member joined channel": slacktest.ChannelJoin(channel, cust, "1700000804.000100"),
	}
	bodies["own answer, edited"]["message"].(map[string]any)["bot_id"] = slacktest.BotID
	bodies["own answer, deleted"]["previous_message"].(map[string]any)["bot_id"] = slacktest.BotID
	for name, inner := range bodies {
		t.Run(name, func(t *testing.T) { none(t, cn, c, slacktest.EventCallback("EvB"+name, inner)) })
	}
	// A bot's edit of a customer's... message_changed whose new message
	// carries bot_id is the app's own edit: ignored even without user.
	ch := slacktest.MessageChanged(dm, "im", "", "1700000800.000100", "a", "b", "1700000805.000100")
	ch["message"].(map[string]any)["bot_id"] = slacktest.BotID
	none(t, cn, c, slacktest.EventCallback("EvB-edit-nouser", ch))
}

func TestFileShareBecomesGatewayLinks(t *testing.T) {
	cn, c, srv := setup(t)
	pdf := []byte("%PDF-1.7 invoice 1042")
	photo := []byte("\x89PNG\r\n\x1a\n fake png")
	f1 := srv.AddFile("F0PDF0001", "invoice 1042.pdf", "application/pdf", pdf, false)
	f2 := srv.AddFile("F0PNG0001", "screen.png", "image/png", photo, false)
	ev := one(t, cn, c, slacktest.EventCallback("EvF1", slacktest.FileShare(dm, "im", cust, "here you go", "1700000900.000100", f1, f2))).Event
	if ev.Message.Text != "here you go" || len(ev.Message.Files) != 2 {
		t.Fatalf("message = %+v", ev.Message)
	}
	got := ev.Message.Files[0]
	if got.Name != "invoice 1042.pdf" || got.Mime != "application/pdf" || got.Size != int64(len(pdf)) || got.Kind != "document" ||
		!strings.HasPrefix(got.URL, "https://gw.example.com/files/") {
		t.Fatalf("file = %+v", got)
	}
	if ev.Message.Files[1].Kind != "photo" {
		t.Fatalf("png kind = %q", ev.Message.Files[1].Kind)
	}
	for _, f := range ev.Message.Files {
		if strings.Contains(f.URL, srv.APIURL()[:len(srv.APIURL())-5]) {
			t.Fatalf("file URL points at Slack: %s", f.URL)
		}
	}
	// The gateway streams the file from url_private with the bot token.
	fc, err := cn.FetchFile(t.Context(), c, connectortest.RefOf(t, got.URL))
	if err != nil {
		t.Fatalf("FetchFile: %v", err)
	}
	body, _ := io.ReadAll(fc.Body)
	fc.Body.Close()
	if string(body) != string(pdf) || fc.Mime != "application/pdf" || fc.Size != int64(len(pdf)) {
		t.Fatalf("fetched %q (%s, %d)", body, fc.Mime, fc.Size)
	}
	calls := srv.Calls("files-pri")
	if len(calls) != 1 || calls[0].Get("authorization") != "Bearer "+botToken {
		t.Fatalf("file requests = %v", calls)
	}

	// Without a public URL the files are listed without links.
	noLinks := c
	noLinks.Files = nil
	ev = one(t, cn, noLinks, slacktest.EventCallback("EvF2", slacktest.FileShare(dm, "im", cust, "", "1700000901.000100", f1))).Event
	if len(ev.Message.Files) != 1 || ev.Message.Files[0].URL != "" || ev.Message.Files[0].Name != "invoice 1042.pdf" {
		t.Fatalf("files without public URL = %+v", ev.Message.Files)
	}
}

// In Slack Connect channels Slack leaves the download URL out of the event;
// the gateway asks files.info when the portal fetches the link.
func TestFileWithoutURLIsResolvedWhenFetched(t *testing.T) {
	cn, c, srv := setup(t)
	f := srv.AddFile("F0HID0001", "contract.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", []byte("PK docx"), true)
	ev := one(t, cn, c, slacktest.EventCallback("EvF3", slacktest.FileShare(channel, "channel", cust, "signed", "1700000950.000100", f))).Event
	if len(ev.Message.Files) != 1 || ev.Message.Files[0].URL == "" {
		t.Fatalf("files = %+v", ev.Message.Files)
	}
	if len(srv.Calls("files.info")) != 0 {
		t.Fatal("files.info was called on the request path")
	}
	fc, err := cn.FetchFile(t.Context(), c, connectortest.RefOf(t, ev.Message.Files[0].URL))
	if err != nil {
		t.Fatalf("FetchFile: %v", err)
	}
	body, _ := io.ReadAll(fc.Body)
	fc.Body.Close()
	if string(body) != "PK docx" || len(srv.Calls("files.info")) != 1 {
		t.Fatalf("fetched %q after %d files.info calls", body, len(srv.Calls("files.info")))
	}
}

// A file reference never makes the gateway send the bot token elsewhere.
func TestFetchFileRefusesForeignHosts(t *testing.T) {
	cn, c, _ := setup(t)
	var leaked []string
	evil := newRecorder(t, &leaked)
	for _, ref := range []string{evil + "/steal", "http://files.slack.com/x", "https://slack.com.evil.example/x", "not a url"} {
		_, err := cn.FetchFile(t.Context(), c, ref)
		var pe *connectors.PermanentError
		if !errors.As(err, &pe) {
			t.Errorf("FetchFile(%q) = %v, want a permanent refusal", ref, err)
		}
	}
	if len(leaked) != 0 {
		t.Fatalf("token sent to a foreign host: %v", leaked)
	}
}

func newRecorder(t *testing.T, got *[]string) string {
	t.Helper()
	srv := httpServer(t, func(w http.ResponseWriter, r *http.Request) {
		*got = append(*got, r.Header.Get("Authorization"))
	})
	return srv
}

func TestSignatureChecks(t *testing.T) {
	cn, c, _ := setup(t)
	body := slacktest.EventCallback("EvS1", slacktest.Message(dm, "im", cust, "hi", "1700001000.000100"))
	now := time.Now()
	unauthorized := func(name string, h http.Header, b []byte, conn connectors.Conn) {
		t.Helper()
		in, err := cn.Parse(t.Context(), conn, connectors.Request{Method: "POST", Header: h, Body: b})
		if !errors.Is(err, connectors.ErrUnauthorized) {
			t.Errorf("%s: err = %v, want ErrUnauthorized", name, err)
		}
		if len(in.Events) != 0 {
			t.Errorf("%s: events returned", name)
		}
	}
	unauthorized("wrong secret", slacktest.Sign("00000000000000000000000000000000", now, body), body, c)
	unauthorized("6 minutes old", slacktest.Sign(secret, now.Add(-6*time.Minute), body), body, c)
	unauthorized("6 minutes ahead", slacktest.Sign(secret, now.Add(6*time.Minute), body), body, c)
	unauthorized("no headers", http.Header{}, body, c)
	tampered := []byte(strings.Replace(string(body), "hi", "ho", 1))
	unauthorized("body changed after signing", slacktest.Sign(secret, now, body), tampered, c)
	h := slacktest.Sign(secret, now, body)
	h.Set("X-Slack-Request-Timestamp", "soon")
	unauthorized("timestamp not a number", h, body, c)
	unauthorized("no signing secret configured", slacktest.Sign(secret, now, body), body, connectortest.WithSettings(c, "signing_secret", ""))

	// Within the window, either way, it is accepted.
	for _, at := range []time.Time{now.Add(-4 * time.Minute), now.Add(4 * time.Minute)} {
		if _, err := post(t, cn, c, body, at); err != nil {
			t.Errorf("signed %v from now: %v", at.Sub(now).Round(time.Minute), err)
		}
	}
}

// Slack retries a delivery it thinks failed (X-Slack-Retry-Num 1..3); each
// retry is the same event and key.
func TestRetriesCarryTheSameKey(t *testing.T) {
	cn, c, _ := setup(t)
	body := slacktest.EventCallback("EvR1", slacktest.Message(dm, "im", cust, "once", "1700001100.000100"))
	var keys []string
	for retry := 0; retry <= 3; retry++ {
		h := slacktest.Sign(secret, time.Now(), body)
		if retry > 0 {
			h.Set("X-Slack-Retry-Num", string(rune('0'+retry)))
			h.Set("X-Slack-Retry-Reason", "http_timeout")
		}
		in, err := cn.Parse(t.Context(), c, connectors.Request{Method: "POST", Header: h, Body: body})
		if err != nil || len(in.Events) != 1 {
			t.Fatalf("retry %d: %v, %d events", retry, err, len(in.Events))
		}
		keys = append(keys, in.Events[0].DedupeKey)
	}
	for _, k := range keys[1:] {
		if k != keys[0] {
			t.Fatalf("retry keys differ: %v", keys)
		}
	}
}

func TestURLVerification(t *testing.T) {
	cn, c, _ := setup(t)
	in, err := post(t, cn, c, slacktest.URLVerification("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"), time.Now())
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(in.Events) != 0 || in.Response == nil || in.Response.Status != http.StatusOK ||
		string(in.Response.Body) != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" {
		t.Fatalf("inbound = %+v", in)
	}
	// An unsigned handshake is refused like anything else.
	body := slacktest.URLVerification("x")
	if _, err := cn.Parse(t.Context(), c, connectors.Request{Method: "POST", Header: http.Header{}, Body: body}); !errors.Is(err, connectors.ErrUnauthorized) {
		t.Fatalf("unsigned url_verification: %v", err)
	}
}

func TestMalformedAndUnknownPayloads(t *testing.T) {
	cn, c, _ := setup(t)
	malformed := map[string][]byte{
		"not JSON":             []byte(`{"type": "event_callback", "event": {`),
		"message without ts":   slacktest.EventCallback("EvX1", map[string]any{"type": "message", "channel": dm, "user": cust, "text": "x", "channel_type": "im"}),
		"message, bad channel": slacktest.EventCallback("EvX2", slacktest.Message("d0:lower", "im", cust, "x", "1700001200.000100")),
		"callback, no event":   []byte(`{"type":"event_callback","event_id":"Ev1","team_id":"T1"}`),
		"verification, empty":  []byte(`{"type":"url_verification"}`),
	}
	for name, body := range malformed {
		in, err := post(t, cn, c, body, time.Now())
		if !errors.Is(err, connectors.ErrMalformed) || len(in.Events) != 0 {
			t.Errorf("%s: %v, %d events; want ErrMalformed", name, err, len(in.Events))
		}
	}
	skipped := map[string][]byte{
		"reaction":          slacktest.EventCallback("EvY1", map[string]any{"type": "reaction_added", "user": cust, "reaction": "thumbsup", "item": map[string]any{"type": "message", "channel": dm, "ts": "1700001200.000100"}, "event_ts": "1700001201.000100"}),
		"future event type": slacktest.EventCallback("EvY2", map[string]any{"type": "brand_new_event", "event_ts": "1700001202.000100"}),
		"rate limited":      []byte(`{"token":"x","type":"app_rate_limited","team_id":"T0TEAM001","minute_rate_limited":1518467820,"api_app_id":"A0APP0001"}`),
		"user change":       slacktest.EventCallback("EvY3", slacktest.UserChange(slacktest.Customer, "1700001203.000100")),
	}
	for name, body := range skipped {
		in, err := post(t, cn, c, body, time.Now())
		if err != nil || len(in.Events) != 0 {
			t.Errorf("%s: %v, %d events; want none and no error", name, err, len(in.Events))
		}
	}
}
