package chatwoot_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/portal/adapters/chatwoot"
	"github.com/connector-gateway/connector/portal/adapters/chatwoot/chatwoottest"
	"github.com/connector-gateway/connector/queue"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// rig is one portal of kind chatwoot on a real database, its adapter
// pointed at a fake Chatwoot, and the gateway's adapter hook route.
type rig struct {
	t        *testing.T
	ctx      context.Context
	fake     *chatwoottest.Server
	recs     *portal.Records
	p        portal.Portal
	ob       *queue.Outbox
	outbound *queue.Outbound
	ids      *portal.AdapterIDs
	a        *chatwoot.Adapter
	woken    atomic.Int32
	hookURL  string // …/adapters/<portal>/
}

func newRig(t *testing.T, b queuetest.Backend, settings func(f *chatwoottest.Server) map[string]string) *rig {
	t.Helper()
	r := &rig{t: t, ctx: context.Background(), fake: chatwoottest.New(t)}
	db := queuetest.Open(t, b)
	sealer, err := portal.NewSealer(portal.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	r.recs = portal.NewRecords(db, sealer, nil, nil)
	p, _, err := r.recs.CreatePortal(r.ctx, "Chatwoot", "http://127.0.0.1:1/unused")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.recs.SetPortalKind(r.ctx, p.ID, portal.KindChatwoot, settings(r.fake)); err != nil {
		t.Fatal(err)
	}
	if r.p, err = r.recs.GetPortal(r.ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	r.ob, err = queue.NewOutbox(db, queue.Config{Schedule: []time.Duration{50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.ob.Close() })
	r.outbound = queue.NewOutbound(r.ob)
	r.ids = portal.NewAdapterIDs(db)
	r.a = &chatwoot.Adapter{IDs: r.ids, Outbound: r.outbound, Wake: func() { r.woken.Add(1) }, Client: &http.Client{}}
	// The gateway's route (api.adapterHook), reduced to what reaches the
	// adapter.
	mux := http.NewServeMux()
	mux.HandleFunc("POST /adapters/{portal}/{rest...}", func(w http.ResponseWriter, req *http.Request) {
		p, err := r.recs.GetPortal(req.Context(), req.PathValue("portal"))
		if err != nil {
			http.NotFound(w, req)
			return
		}
		r.a.ServeHook(w, req, p)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	r.hookURL = srv.URL + "/adapters/" + p.ID + "/"
	return r
}

// dispatch runs the real dispatcher with the adapter until the test ends.
// Its timeout is short so a hanging Chatwoot call is given up quickly.
func (r *rig) dispatch() {
	d, err := portal.NewDispatcher(r.ob, r.recs, portal.DispatcherConfig{Poll: 20 * time.Millisecond, Timeout: 500 * time.Millisecond,
		Adapters: map[string]portal.Deliverer{portal.KindChatwoot: r.a}})
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(r.ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	r.t.Cleanup(func() { cancel(); <-done })
}

func (r *rig) put(evs ...connectors.Event) {
	r.t.Helper()
	var keyed []connectors.Keyed
	for _, ev := range evs {
		keyed = append(keyed, connectors.Keyed{Event: ev, DedupeKey: "k" + ev.ID})
	}
	rows, err := portal.Rows(r.p.ID, "lin_1", keyed)
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.ob.Enqueue(r.ctx, rows); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) drained(what string) {
	r.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if st, err := r.ob.Status(r.ctx, "lin_1"); err == nil && st.Pending == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.t.Fatalf("%s: the line did not drain", what)
}

func (r *rig) eventually(what string, ok func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			r.t.Fatalf("%s: not within 20s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func message(id, typ, chat, msgID, text string) connectors.Event {
	return connectors.Event{ID: id, Type: typ, OccurredAt: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		Connector: "telegram", Channel: "telegram", Connection: "con_1", Line: "lin_1",
		Chat: &connectors.Chat{ID: chat, Type: "private"}, User: &connectors.User{ID: "u" + chat, Name: "Ann " + chat},
		Message: &connectors.Message{ID: msgID, Text: text}}
}

func withSecret(secret string) func(f *chatwoottest.Server) map[string]string {
	return func(f *chatwoottest.Server) map[string]string { return f.Settings(secret) }
}

// Customer messages of two chats become two contacts with a conversation
// each in the API inbox and one incoming message per event, in order.
// Chatwoot fails in the middle of the batch at every step that creates
// something — a lost answer after the contact, the conversation and a
// message were made, and a 500 — and once it answers again nothing exists
// twice. Edits become new "(edited)" messages, deletions withdraw the
// message, other events are accepted and leave Chatwoot alone.
func TestChatsBecomeConversationsOnceAcrossFailures(t *testing.T) {
	for _, b := range queuetest.Backends() {
		t.Run(b.Driver, func(t *testing.T) {
			r := newRig(t, b, withSecret("s3cret"))
			f := r.fake
			f.FailNext("POST contacts", chatwoottest.HangAfterDoing)
			f.FailNext("POST conversations", chatwoottest.Fail500, chatwoottest.HangAfterDoing)
			f.FailNext("POST messages", 0, chatwoottest.HangAfterDoing, chatwoottest.Fail500)
			first := message("evt_1", connectors.TypeMessageCreated, "42", "m1", "Hello, my order is late")
			first.Message.Files = []connectors.File{{Name: "receipt.pdf", Mime: "application/pdf", URL: "https://gw.example/files/abc"}}
			edited := message("evt_5", connectors.TypeMessageUpdated, "42", "m1", "Hello, my order 1234 is late")
			deleted := message("evt_6", connectors.TypeMessageDeleted, "42", "m2", "")
			deleted.Message.Text = ""
			thanks := message("evt_7", connectors.TypeMessageCreated, "42", "m3", "Thanks")
			thanks.Message.ReplyTo = "m1"
			r.put(first,
				message("evt_2", connectors.TypeMessageCreated, "42", "m2", "Order 1234"),
				message("evt_3", connectors.TypeMessageCreated, "43", "n1", "Another chat"),
				connectors.Event{ID: "evt_4", Type: connectors.TypeConnectionError, Connection: "con_1", Line: "lin_1",
					Error: &connectors.ErrorInfo{Code: "token_revoked", Message: "the bot token was revoked"}},
				edited, deleted, thanks,
			)
			r.dispatch()
			r.drained("the batch")

			contacts, convs, msgs, calls := f.Snapshot()
			if len(contacts) != 2 || contacts[0].Name != "Ann 42" || contacts[1].Name != "Ann 43" || contacts[0].Identifier == contacts[1].Identifier {
				t.Fatalf("contacts %+v; want one per chat", contacts)
			}
			if len(convs) != 2 || convs[0].ContactID != contacts[0].ID || convs[1].ContactID != contacts[1].ID || convs[0].InboxID != f.Inbox {
				t.Fatalf("conversations %+v; want one per chat in inbox %d", convs, f.Inbox)
			}
			if convs[0].SourceID != contacts[0].SourceIDs[f.Inbox] || !strings.HasPrefix(convs[0].SourceID, "gw-") {
				t.Fatalf("conversation source_id %q, contact's %q", convs[0].SourceID, contacts[0].SourceIDs[f.Inbox])
			}
			var got []string
			for _, m := range msgs {
				got = append(got, fmt.Sprintf("%d:%s:%s", m.Conv, m.Type, m.Content))
			}
			want := []string{
				"1:incoming:Hello, my order is late\n[file] receipt.pdf https://gw.example/files/abc",
				"1:incoming:This message was deleted",
				"2:incoming:Another chat",
				"1:incoming:(edited) Hello, my order 1234 is late",
				"1:incoming:Thanks",
			}
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Fatalf("Chatwoot holds\n%q\nwant\n%q\n(calls %v)", got, want, calls)
			}
			if msgs[0].SourceID != "evt_1" {
				t.Errorf("message source_id %q; want the event id", msgs[0].SourceID)
			}
			if msgs[4].InReplyTo != msgs[0].ID {
				t.Errorf("the customer's reply to m1 is in reply to %d, want %d", msgs[4].InReplyTo, msgs[0].ID)
			}
			count := map[string]int{}
			for _, c := range calls {
				count[c]++
			}
			// Each failed create was tried again, and each create whose
			// answer may have been lost was looked for first (search, the
			// contact's conversations, the latest messages): the contact
			// once (found), the conversation after a found contact, the
			// 500 and the lost answer (found the third time), the
			// messages after the lost answer (found) and the 500.
			wantCalls := map[string]int{"POST contacts": 2, "GET search": 1, "GET conversations": 3, "POST conversations": 3,
				"GET messages": 2, "POST messages": 6, "DELETE messages": 1}
			if fmt.Sprint(count) != fmt.Sprint(wantCalls) {
				t.Errorf("calls %v\nwant  %v", count, wantCalls)
			}
		})
	}
}

// A contact that exists already (Chatwoot refuses its identifier as
// taken: the gateway's mapping was lost, or a second gateway feeds the
// same inbox) is found and reused, with its conversation.
func TestTakenIdentifierReusesContactAndConversation(t *testing.T) {
	b := queuetest.Backends()[len(queuetest.Backends())-1]
	r := newRig(t, b, withSecret("s3cret"))
	r.put(message("evt_1", connectors.TypeMessageCreated, "42", "m1", "Hi"))
	r.dispatch()
	r.drained("first")
	// A gateway with no memory of the chat, on the same Chatwoot.
	other := newRig(t, b, withSecret("s3cret"))
	p := other.p
	p.Adapter = r.fake.Settings("s3cret")
	raw, _ := json.Marshal(message("evt_9", connectors.TypeMessageCreated, "42", "m9", "Again"))
	if err := other.a.Deliver(r.ctx, p, portal.DeliveryBatch{LineID: "lin_1", Items: []queue.Item{{EventID: "evt_9", Payload: raw}}}); err != nil {
		t.Fatal(err)
	}
	contacts, convs, msgs, _ := r.fake.Snapshot()
	if len(contacts) != 1 || len(convs) != 1 || len(msgs) != 2 || msgs[1].Conv != convs[0].ID {
		t.Fatalf("contacts %+v conversations %+v messages %+v; want the contact and its conversation reused", contacts, convs, msgs)
	}
}

// A conversation deleted in Chatwoot is made again for the chat's next
// message, with the same contact.
func TestDeletedConversationIsMadeAgain(t *testing.T) {
	for _, b := range queuetest.Backends() {
		t.Run(b.Driver, func(t *testing.T) {
			r := newRig(t, b, withSecret("s3cret"))
			r.put(message("evt_1", connectors.TypeMessageCreated, "42", "m1", "Hi"))
			r.dispatch()
			r.drained("first")
			r.fake.DeleteConversation(1)
			r.put(message("evt_2", connectors.TypeMessageCreated, "42", "m2", "Still there?"))
			r.drained("after the deletion")
			contacts, convs, msgs, _ := r.fake.Snapshot()
			if len(contacts) != 1 || len(convs) != 1 || convs[0].ID != 2 || convs[0].ContactID != contacts[0].ID || len(msgs) != 1 || msgs[0].Conv != convs[0].ID || msgs[0].Content != "Still there?" {
				t.Fatalf("contacts %+v conversations %+v messages %+v", contacts, convs, msgs)
			}
			// Replies in the new conversation reach the chat.
			_, body := r.fake.AgentReply(convs[0].ID, "Yes!", false)
			if st := chatwoottest.Post(t, r.hookURL, body, "s3cret", time.Now()); st != http.StatusOK {
				t.Fatalf("reply answered %d", st)
			}
			if reqs, _ := r.outbound.Claim(r.ctx, "test", 10, time.Minute); len(reqs) != 1 || reqs[0].ChatID != "42" {
				t.Fatalf("reply in the new conversation: %+v", reqs)
			}
		})
	}
}

// An agent's reply in the conversation becomes one outbound request to
// the chat (answering the customer's message it replies to) however often
// Chatwoot repeats the callback; notes stay in
// Chatwoot. The request's outcome comes back through the outbox and is
// written onto the Chatwoot message: delivered, or failed with the reason.
// A deleted reply becomes a delete request for what the messenger got.
func TestAgentRepliesGoOutOnceAndTheirOutcomeIsWrittenBack(t *testing.T) {
	for _, b := range queuetest.Backends() {
		t.Run(b.Driver, func(t *testing.T) {
			r := newRig(t, b, withSecret("s3cret"))
			f := r.fake
			r.put(message("evt_1", connectors.TypeMessageCreated, "42", "m1", "Where is my order?"))
			r.dispatch()
			r.drained("the customer's message")

			_, _, customer, _ := f.Snapshot()
			reply, body := f.AgentReplyTo(1, customer[0].ID, "It ships today")
			for i := 0; i < 3; i++ {
				if st := chatwoottest.Post(t, r.hookURL, body, "s3cret", time.Now()); st != http.StatusOK {
					t.Fatalf("callback %d answered %d", i, st)
				}
			}
			if _, note := f.AgentReply(1, "customer seems upset", true); chatwoottest.Post(t, r.hookURL, note, "s3cret", time.Now()) != http.StatusOK {
				t.Fatal("a private note's callback was not answered 200")
			}
			reqs, err := r.outbound.Claim(r.ctx, "test", 10, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if len(reqs) != 1 {
				t.Fatalf("%d outbound requests after three callbacks and a note; want 1", len(reqs))
			}
			req := reqs[0]
			var out connectors.Outbound
			_ = json.Unmarshal(req.Payload, &out)
			if req.Op != portal.OpSend || req.ConnectionID != "con_1" || req.ChatID != "42" || req.LineID != "lin_1" || out.Text != "It ships today" || out.ChatID != "42" || out.ReplyTo != "m1" {
				t.Fatalf("outbound request %+v payload %s", req, req.Payload)
			}
			if r.woken.Load() == 0 {
				t.Error("the sender was not woken")
			}
			finish(t, r, req, nil, "9001")
			r.eventually("the delivered status on the Chatwoot message", func() bool {
				_, _, msgs, _ := f.Snapshot()
				return msgByID(msgs, reply).Status == "delivered"
			})

			second, body2 := f.AgentReply(1, "Sorry, one more thing", false)
			if st := chatwoottest.Post(t, r.hookURL, body2, "s3cret", time.Now()); st != http.StatusOK {
				t.Fatalf("second reply answered %d", st)
			}
			reqs, _ = r.outbound.Claim(r.ctx, "test", 10, time.Minute)
			if len(reqs) != 1 {
				t.Fatalf("%d requests for the second reply", len(reqs))
			}
			finish(t, r, reqs[0], fmt.Errorf("Forbidden: bot was blocked by the user"))
			r.eventually("the failed status on the Chatwoot message", func() bool {
				_, _, msgs, _ := f.Snapshot()
				m := msgByID(msgs, second)
				return m.Status == "failed" && m.ExternalError == "Forbidden: bot was blocked by the user"
			})

			del := f.AgentDeletes(reply)
			for i := 0; i < 2; i++ {
				if st := chatwoottest.Post(t, r.hookURL, del, "s3cret", time.Now()); st != http.StatusOK {
					t.Fatalf("deletion callback answered %d", st)
				}
			}
			reqs, _ = r.outbound.Claim(r.ctx, "test", 10, time.Minute)
			if len(reqs) != 1 || reqs[0].Op != portal.OpDelete || !strings.Contains(string(reqs[0].Payload), `"message_id":"9001"`) {
				t.Fatalf("after the agent deleted the delivered reply: %+v", reqs)
			}
		})
	}
}

func msgByID(msgs []chatwoottest.Message, id int) chatwoottest.Message {
	for _, m := range msgs {
		if m.ID == id {
			return m
		}
	}
	return chatwoottest.Message{}
}

// finish does what the sender does with a request's outcome: the request
// is closed together with its status event in the outbox.
func finish(t *testing.T, r *rig, req queue.OutboundRequest, sendErr error, messengerIDs ...string) {
	t.Helper()
	st := &connectors.Status{RequestID: req.ID, Operation: req.Op, MessengerMessageIDs: messengerIDs, Attempts: 1}
	typ, state := connectors.TypeStatusDelivered, queue.OutboundDone
	if sendErr != nil {
		typ, state, st.Error = connectors.TypeStatusFailed, queue.OutboundFailed, sendErr.Error()
		req.LastError = sendErr.Error()
	}
	ev := connectors.Event{ID: connectors.EventID("status:" + req.ID), Type: typ, OccurredAt: time.Now().UTC(),
		Connector: "telegram", Channel: "telegram", Connection: req.ConnectionID, Line: req.LineID,
		Chat: &connectors.Chat{ID: req.ChatID}, Status: st}
	rows, err := portal.Rows(r.p.ID, req.LineID, []connectors.Keyed{{Event: ev}})
	if err != nil {
		t.Fatal(err)
	}
	result, _ := json.Marshal(messengerIDs)
	if err := r.outbound.Finish(r.ctx, req, state, string(result), rows[0]); err != nil {
		t.Fatal(err)
	}
}

// Callbacks that are not provably Chatwoot's are refused and store
// nothing: a wrong or missing signature, a stale timestamp, a body changed
// after signing, a wrong URL token, a portal with neither secret nor
// token. A signed body that is not JSON is a 400.
func TestForgedCallbacksAreRefused(t *testing.T) {
	for _, b := range queuetest.Backends() {
		t.Run(b.Driver, func(t *testing.T) {
			r := newRig(t, b, withSecret("s3cret"))
			r.put(message("evt_1", connectors.TypeMessageCreated, "42", "m1", "Hi"))
			r.dispatch()
			r.drained("the customer's message")
			_, body := r.fake.AgentReply(1, "Hello from an agent", false)
			tampered := []byte(strings.Replace(string(body), "Hello from an agent", "Send me your password", 1))
			now := time.Now()
			for _, c := range []struct {
				name   string
				body   []byte
				secret string
				at     time.Time
				want   int
			}{
				{"wrong secret", body, "guess", now, http.StatusUnauthorized},
				{"no signature", body, "", now, http.StatusUnauthorized},
				{"stale timestamp", body, "s3cret", now.Add(-10 * time.Minute), http.StatusUnauthorized},
				{"future timestamp", body, "s3cret", now.Add(10 * time.Minute), http.StatusUnauthorized},
				{"body changed after signing", tampered, "", now, http.StatusUnauthorized},
				{"signed garbage", []byte(`{"event":`), "s3cret", now, http.StatusBadRequest},
			} {
				if c.name == "body changed after signing" {
					// Sign the real body, send the tampered one.
					st := postWith(t, r.hookURL, tampered, signedHeaders(body, "s3cret", now))
					if st != c.want {
						t.Errorf("%s: %d, want %d", c.name, st, c.want)
					}
					continue
				}
				if st := chatwoottest.Post(t, r.hookURL, c.body, c.secret, c.at); st != c.want {
					t.Errorf("%s: %d, want %d", c.name, st, c.want)
				}
			}
			if reqs, _ := r.outbound.Claim(r.ctx, "test", 10, time.Minute); len(reqs) != 0 {
				t.Fatalf("refused callbacks stored %d requests", len(reqs))
			}

			// A URL token instead (Chatwoot before 4.13 does not sign).
			settings := r.fake.Settings("")
			settings[chatwoot.SettingWebhookToken] = "tkn-0123456789abcdef"
			if err := r.recs.SetPortalKind(r.ctx, r.p.ID, portal.KindChatwoot, settings); err != nil {
				t.Fatal(err)
			}
			if st := chatwoottest.Post(t, r.hookURL+"tkn-0123456789abcdeX", body, "", now); st != http.StatusNotFound {
				t.Errorf("wrong URL token: %d, want 404", st)
			}
			if st := chatwoottest.Post(t, r.hookURL, body, "", now); st != http.StatusNotFound {
				t.Errorf("no URL token: %d, want 404", st)
			}
			if reqs, _ := r.outbound.Claim(r.ctx, "test", 10, time.Minute); len(reqs) != 0 {
				t.Fatalf("refused callbacks stored %d requests", len(reqs))
			}
			if st := chatwoottest.Post(t, r.hookURL+"tkn-0123456789abcdef", body, "", now); st != http.StatusOK {
				t.Errorf("right URL token: %d, want 200", st)
			}
			if reqs, _ := r.outbound.Claim(r.ctx, "test", 10, time.Minute); len(reqs) != 1 {
				t.Fatalf("the authentic callback stored %d requests, want 1", len(reqs))
			}

			// Neither: nothing can be authentic.
			if err := r.recs.SetPortalKind(r.ctx, r.p.ID, portal.KindChatwoot, r.fake.Settings("")); err != nil {
				t.Fatal(err)
			}
			if st := chatwoottest.Post(t, r.hookURL+"anything", body, "s3cret", now); st != http.StatusNotFound {
				t.Errorf("portal without secret or token: %d, want 404", st)
			}
		})
	}
}

func signedHeaders(body []byte, secret string, at time.Time) http.Header {
	h := http.Header{}
	ts := fmt.Sprint(at.Unix())
	h.Set("X-Chatwoot-Timestamp", ts)
	h.Set("X-Chatwoot-Signature", "sha256="+chatwoottest.HexHMAC(secret, ts+"."+string(body)))
	return h
}

func postWith(t *testing.T, url string, body []byte, h http.Header) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(string(body)))
	req.Header = h
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// The live test says in plain words what is wrong.
func TestTestSaysWhatIsWrong(t *testing.T) {
	f := chatwoottest.New(t)
	a := &chatwoot.Adapter{}
	ctx := context.Background()
	try := func(mod func(map[string]string)) error {
		s := f.Settings("s3cret")
		mod(s)
		return a.Test(ctx, portal.Portal{ID: "prt_1", Kind: portal.KindChatwoot, Adapter: s})
	}
	if err := try(func(map[string]string) {}); err != nil {
		t.Fatalf("good settings: %v", err)
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	for _, c := range []struct {
		name string
		mod  func(map[string]string)
		want string
	}{
		{"unreachable", func(s map[string]string) { s[chatwoot.SettingURL] = closed.URL }, "unreachable"},
		{"token refused", func(s map[string]string) { s[chatwoot.SettingToken] = "wrong" }, "refused the API access token"},
		{"inbox not found", func(s map[string]string) { s[chatwoot.SettingInboxID] = "999" }, "has no inbox 999"},
		{"not JSON", func(s map[string]string) { s[chatwoot.SettingURL] = htmlSite(t) }, "not as Chatwoot does"},
		{"no auth for callbacks", func(s map[string]string) { s[chatwoot.SettingWebhookSecret] = "" }, "webhook_secret"},
		{"missing", func(s map[string]string) { delete(s, chatwoot.SettingToken) }, "lack api_access_token"},
	} {
		err := try(c.mod)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want it to say %q", c.name, err, c.want)
		}
	}
	f.ChannelType = "Channel::WebWidget"
	if err := try(func(map[string]string) {}); err == nil || !strings.Contains(err.Error(), "not an API channel") {
		t.Errorf("web widget inbox: %v", err)
	}
	if len(a.Settings()) == 0 || a.Settings()[0].Key != chatwoot.SettingURL {
		t.Errorf("settings %+v", a.Settings())
	}
}

func htmlSite(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html>hello</html>"))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
