package botframework_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/botframework"
	"github.com/connector-gateway/connector/connectors/botframework/bftest"
)

func (f *fixture) parse(t *testing.T, a bftest.Activity) []connectors.Keyed {
	t.Helper()
	in, err := f.cn.Parse(context.Background(), f.conn, request(f.bearer("k1", a["serviceUrl"].(string)), a))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return in.Events
}

// A Teams message becomes one message.created on channel
// botframework.msteams whose chat id carries the conversation reference.
func TestParseTeamsMessage(t *testing.T) {
	f := newFixture(t)
	svc := f.svc.URL()
	conv := "a:1Xk2_personal-chat-id"
	evs := f.parse(t, bftest.TeamsMessage(svc, appID, conv, "1700000000001", "  Where is my order?  "))
	if len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
	k := evs[0]
	wantKey := "botframework:conn-1:" + conv + ":1700000000001"
	if k.DedupeKey != wantKey || k.Event.ID != connectors.EventID(wantKey) {
		t.Fatalf("dedupe key %q id %q, want %q", k.DedupeKey, k.Event.ID, wantKey)
	}
	e := k.Event
	if e.Type != connectors.TypeMessageCreated || e.Connector != "botframework" || e.Channel != "botframework.msteams" ||
		e.Connection != "conn-1" || e.Line != "line-1" || e.Message.Text != "Where is my order?" || e.Message.ID != "1700000000001" {
		t.Fatalf("event %+v message %+v", e, e.Message)
	}
	if e.User.ID != "29:1customer-aad-id" || e.User.Name != "Megan Bowen" || e.User.ProfileHash == "" || e.Chat.Type != "private" {
		t.Fatalf("user %+v chat %+v", e.User, e.Chat)
	}
	if e.OccurredAt.Format("2006-01-02T15:04:05.000Z") != "2026-12-01T20:00:00.123Z" {
		t.Fatalf("occurred_at %s", e.OccurredAt)
	}
	s, c, ch, tenant, err := botframework.DecodeChatID(e.Chat.ID)
	if err != nil || s != svc || c != conv || ch != "msteams" || tenant != bftest.Tenant {
		t.Fatalf("chat id decodes to %q %q %q %q, %v", s, c, ch, tenant, err)
	}
	// The same conversation always has the same chat id.
	again := f.parse(t, bftest.TeamsMessage(svc, appID, conv, "1700000000002", "more"))
	if again[0].Event.Chat.ID != e.Chat.ID {
		t.Fatal("chat id is not stable across messages of one conversation")
	}
}

// Edits and deletions map to their events; each edit has a key of its own.
func TestParseUpdateAndDelete(t *testing.T) {
	f := newFixture(t)
	svc := f.svc.URL()
	up := bftest.TeamsMessage(svc, appID, "a:1conv", "1700000000001", "edited text")
	up["type"] = "messageUpdate"
	up["timestamp"] = "2026-12-01T20:05:00Z"
	up2 := bftest.TeamsMessage(svc, appID, "a:1conv", "1700000000001", "edited again")
	up2["type"] = "messageUpdate"
	up2["timestamp"] = "2026-12-01T20:06:00Z"
	del := bftest.TeamsMessage(svc, appID, "a:1conv", "1700000000001", "")
	del["type"] = "messageDelete"
	created := f.parse(t, bftest.TeamsMessage(svc, appID, "a:1conv", "1700000000001", "text"))[0]
	e1, e2, d := f.parse(t, up)[0], f.parse(t, up2)[0], f.parse(t, del)[0]
	if e1.Event.Type != connectors.TypeMessageUpdated || e1.Event.Message.Text != "edited text" || e1.Event.Message.EditedAt == nil || e1.Event.Message.ID != "1700000000001" {
		t.Fatalf("update %+v", e1.Event.Message)
	}
	if d.Event.Type != connectors.TypeMessageDeleted || d.Event.Message.ID != "1700000000001" {
		t.Fatalf("delete %+v", d.Event)
	}
	keys := map[string]bool{created.DedupeKey: true, e1.DedupeKey: true, e2.DedupeKey: true, d.DedupeKey: true}
	if len(keys) != 4 {
		t.Fatalf("the message, two edits and the deletion share dedupe keys: %v", keys)
	}
}

// Activities without a normalized event are answered with none.
func TestParseSkipsOtherActivities(t *testing.T) {
	f := newFixture(t)
	svc := f.svc.URL()
	for _, typ := range []string{"conversationUpdate", "installationUpdate", "contactRelationUpdate", "typing", "invoke", "event", "endOfConversation"} {
		a := bftest.TeamsMessage(svc, appID, "a:1conv", "1700000000009", "")
		a["type"] = typ
		a["membersAdded"] = []map[string]string{{"id": "28:" + appID}}
		if evs := f.parse(t, a); len(evs) != 0 {
			t.Errorf("%s gave %d events", typ, len(evs))
		}
	}
}

// A connection limited to some channels answers 200 with no events for
// the others, and counts them.
func TestParseRefusedChannelIsCounted(t *testing.T) {
	f := newFixture(t)
	svc := f.svc.URL()
	f.conn.Settings["channels"] = "msteams"
	before := f.cn.RefusedChannels()
	if evs := f.parse(t, bftest.WebChatMessage(svc, appID, "wc-conv-1", "wc-1|0001", "hi")); len(evs) != 0 {
		t.Fatalf("webchat on a msteams-only connection gave %d events", len(evs))
	}
	if got := f.cn.RefusedChannels() - before; got != 1 {
		t.Fatalf("RefusedChannels grew by %d, want 1", got)
	}
	if evs := f.parse(t, bftest.TeamsMessage(svc, appID, "a:1conv", "1", "hi")); len(evs) != 1 || evs[0].Event.Channel != "botframework.msteams" {
		t.Fatalf("msteams: %+v", evs)
	}
}

// Attachments become files: Bot Framework-hosted content through gateway
// links, public links as they are, Teams files by their download link;
// cards and Teams' HTML copy are left out.
func TestParseAttachments(t *testing.T) {
	f := newFixture(t)
	svc := f.svc.URL()
	hosted := f.svc.AddFile("att-1", "image/png", []byte("png"))
	a := bftest.TeamsMessage(svc, appID, "a:1conv", "1700000000001", "<at>Support bot</at> see attached")
	a["entities"] = []map[string]any{{"type": "mention", "text": "<at>Support bot</at>", "mentioned": map[string]string{"id": "28:" + appID, "name": "Support bot"}}}
	a["attachments"] = []map[string]any{
		{"contentType": "image/png", "contentUrl": hosted, "name": "screenshot.png"},
		{"contentType": "application/pdf", "contentUrl": "https://cdn.example.com/public/manual.pdf"},
		{"contentType": "application/vnd.microsoft.teams.file.download.info", "name": "invoice.pdf",
			"contentUrl": "https://contoso.sharepoint.com/personal/invoice.pdf",
			"content":    map[string]string{"downloadUrl": "https://contoso.sharepoint.com/_layouts/15/download.aspx?tempauth=x", "fileType": "pdf"}},
		{"contentType": "text/html", "content": "<div>see attached</div>"},
		{"contentType": "application/vnd.microsoft.card.adaptive", "content": map[string]string{"type": "AdaptiveCard"}},
		{"contentType": "image/png", "contentUrl": "data:image/png;base64,iVBORw0KGgo="},
		{"contentType": "image/*", "contentUrl": "https://us-api.asm.skype.com/v1/objects/0-wus-d1-abc/views/imgo", "name": "pasted.png"},
	}
	m := f.parse(t, a)[0].Event.Message
	if m.Text != "see attached" {
		t.Fatalf("text %q: the bot's own mention should be gone", m.Text)
	}
	if len(m.Files) != 4 {
		t.Fatalf("files %+v", m.Files)
	}
	if !strings.HasPrefix(m.Files[0].URL, "https://gateway.example/files/") || m.Files[0].Kind != "photo" || m.Files[0].Name != "screenshot.png" {
		t.Fatalf("hosted attachment %+v", m.Files[0])
	}
	if m.Files[1].URL != "https://cdn.example.com/public/manual.pdf" || m.Files[1].Name != "manual.pdf" {
		t.Fatalf("public attachment %+v", m.Files[1])
	}
	if !strings.HasPrefix(m.Files[2].URL, "https://contoso.sharepoint.com/_layouts/15/download.aspx") || m.Files[2].Mime != "application/pdf" {
		t.Fatalf("teams file %+v", m.Files[2])
	}

	if !strings.HasPrefix(m.Files[3].URL, "https://gateway.example/files/") {
		t.Fatalf("Teams inline image %+v: its store needs the bot's token", m.Files[3])
	}

	// The gateway link's reference streams the file with the bot's token.
	ref := "u:" + hosted
	fc, err := f.cn.FetchFile(context.Background(), f.conn, ref)
	if err != nil {
		t.Fatal(err)
	}
	defer fc.Body.Close()
	if fc.Mime != "image/png" {
		t.Fatalf("mime %q", fc.Mime)
	}
	if _, err := f.cn.FetchFile(context.Background(), f.conn, "u:https://evil.example/steal"); err == nil {
		t.Fatal("FetchFile fetched from a host off the allow-list")
	}
	if _, err := f.cn.FetchFile(context.Background(), f.conn, "u:"+f.svc.Base()+"/v3/attachments/nope/views/original"); !errors.Is(err, connectors.ErrNoFile) {
		t.Fatalf("missing file: %v", err)
	}
}

// Payloads Bot Framework would not send are ErrMalformed, after the token
// check.
func TestParseMalformed(t *testing.T) {
	f := newFixture(t)
	svc := f.svc.URL()
	noConv := bftest.TeamsMessage(svc, appID, "a:1conv", "1", "x")
	delete(noConv, "conversation")
	noID := bftest.TeamsMessage(svc, appID, "a:1conv", "", "x")
	for name, a := range map[string]bftest.Activity{"no conversation": noConv, "no id": noID} {
		_, err := f.cn.Parse(context.Background(), f.conn, request(f.bearer("k1", svc), a))
		if !errors.Is(err, connectors.ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	r := request(f.bearer("k1", svc), nil)
	r.Body = []byte("{not json")
	if _, err := f.cn.Parse(context.Background(), f.conn, r); !errors.Is(err, connectors.ErrMalformed) {
		t.Errorf("bad JSON: %v", err)
	}
	r.Header.Del("Authorization")
	if _, err := f.cn.Parse(context.Background(), f.conn, r); !errors.Is(err, connectors.ErrUnauthorized) {
		t.Errorf("bad JSON without a token: %v", err)
	}
}

// Chat ids round-trip any conversation id and stay short enough for the
// gateway's chat key (connection id + chat id in 255 characters) with a
// real-length Teams personal conversation id.
func TestChatIDEncoding(t *testing.T) {
	teams := "a:17I0kl8EkpE1O9PH5TWrzrLqwVXi2pzZ0W-hkcOYZUrmmoYj3Rn8qV0-zFRI2dNFLYRv_ZpmlyrJFy1K0IqHfX8dBr2G21g7UnTp8UPt2JFf2t71_X14J6BaqDpCe6l2I"
	id := botframework.EncodeChatID("https://smba.trafficmanager.net/amer/", teams, "msteams", bftest.Tenant)
	if len(id) > 200 || !strings.HasPrefix(id, "msteams|smba.trafficmanager.net/amer/|a:17I0") {
		t.Fatalf("chat id %q (%d characters)", id, len(id))
	}
	for _, conv := range []string{teams, "19:abc@thread.tacv2;messageid=1700000000001", "odd|conv%7C|id", "wc-1|0001"} {
		for _, svc := range []string{"https://smba.trafficmanager.net/emea/", "http://127.0.0.1:9000/", "https://a.botframework.com/x://y", "https://http://x"} {
			id := botframework.EncodeChatID(svc, conv, "webchat", bftest.Tenant)
			s, c, ch, tenant, err := botframework.DecodeChatID(id)
			if err != nil || s != svc || c != conv || ch != "webchat" || (tenant != bftest.Tenant && tenant != "") {
				t.Errorf("%q → %q → %q %q %q %q %v", conv, id, s, c, ch, tenant, err)
			}
		}
	}
	long := strings.Repeat("x", 190)
	if _, _, _, tenant, _ := botframework.DecodeChatID(botframework.EncodeChatID("https://smba.trafficmanager.net/amer/", long, "msteams", bftest.Tenant)); tenant != "" {
		t.Error("a chat id over the budget kept its tenant")
	}
}
