package bitrix24_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/portal/adapters/bitrix24"
	"github.com/connector-gateway/connector/portal/adapters/bitrix24/bitrix24test"
	"github.com/connector-gateway/connector/queue"
	"github.com/connector-gateway/connector/queue/queuetest"
	"github.com/connector-gateway/connector/queue/sqldb"
)

const appToken = "831c76b092f9f135d9b6b36c3a720757"

type env struct {
	t        *testing.T
	ctx      context.Context
	db       *sqldb.DB
	recs     *portal.Records
	ids      *portal.AdapterIDs
	outbox   *queue.Outbox
	outbound *queue.Outbound
	fake     *bitrix24test.Server
	a        *bitrix24.Adapter
	p        portal.Portal
	hook     *httptest.Server
	woken    int
}

func setup(t *testing.T, b queuetest.Backend) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), db: queuetest.Open(t, b), fake: bitrix24test.New(t)}
	sealer, err := portal.NewSealer(portal.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	e.recs = portal.NewRecords(e.db, sealer, nil, nil)
	p, _, err := e.recs.CreatePortal(e.ctx, "Bitrix24", "http://127.0.0.1:1/unused")
	if err != nil {
		t.Fatal(err)
	}
	settings := e.fake.Settings()
	settings[bitrix24.SettingLinePrefix+"lin_1"] = "7"
	if err := e.recs.SetPortalKind(e.ctx, p.ID, portal.KindBitrix24, settings); err != nil {
		t.Fatal(err)
	}
	e.outbox, err = queue.NewOutbox(e.db, queue.Config{Schedule: []time.Duration{50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.outbox.Close() })
	e.outbound = queue.NewOutbound(e.outbox)
	e.ids = portal.NewAdapterIDs(e.db)
	e.a = &bitrix24.Adapter{IDs: e.ids, Portals: e.recs, Outbound: e.outbound, PublicURL: "https://gateway.example",
		Wake: func() { e.woken++ }}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /adapters/{portal}/{rest...}", func(w http.ResponseWriter, r *http.Request) {
		p, err := e.recs.GetPortal(r.Context(), r.PathValue("portal"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		e.a.ServeHook(w, r, p)
	})
	e.hook = httptest.NewServer(mux)
	t.Cleanup(e.hook.Close)
	e.reload()
	return e
}

func (e *env) reload() {
	p, err := e.recs.GetPortal(e.ctx, e.p.ID)
	if e.p.ID == "" {
		ps, lerr := e.recs.ListPortals(e.ctx)
		if lerr != nil || len(ps) != 1 {
			e.t.Fatalf("portals: %v %v", ps, lerr)
		}
		p, err = ps[0], nil
	}
	if err != nil {
		e.t.Fatal(err)
	}
	e.p = p
}

func (e *env) deliver(evs ...connectors.Event) error {
	var items []queue.Item
	for i, ev := range evs {
		raw, err := json.Marshal(ev)
		if err != nil {
			e.t.Fatal(err)
		}
		items = append(items, queue.Item{Seq: int64(i + 1), EventID: ev.ID, Payload: raw})
	}
	// The dispatcher reads the portal record for every batch.
	e.reload()
	return e.a.Deliver(e.ctx, e.p, portal.DeliveryBatch{ID: "bat_1", LineID: "lin_1", Items: items})
}

// post sends a Bitrix24 event, form-encoded as Bitrix24 posts it.
func (e *env) post(form url.Values) int {
	resp, err := http.PostForm(e.hook.URL+"/adapters/"+e.p.ID+"/events", form)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (e *env) claim() []queue.OutboundRequest {
	e.t.Helper()
	reqs, err := e.outbound.Claim(e.ctx, "test", 10, time.Minute)
	if err != nil {
		e.t.Fatal(err)
	}
	return reqs
}

var at = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func created(id, msg, text string) connectors.Event {
	return connectors.Event{ID: id, Type: connectors.TypeMessageCreated, OccurredAt: at, Connector: "telegram", Channel: "telegram",
		Connection: "con_1", Line: "lin_1", Chat: &connectors.Chat{ID: "42", Type: "private"},
		User:    &connectors.User{ID: "u1", Name: "Ann Lee", AvatarURL: "https://gateway.example/files/avatar"},
		Message: &connectors.Message{ID: msg, Text: text}}
}

func backends(t *testing.T, run func(t *testing.T, b queuetest.Backend)) {
	for _, b := range queuetest.Backends() {
		t.Run(b.Driver, func(t *testing.T) { run(t, b) })
	}
}

// A batch reaches the Open Line as Bitrix24 documents the calls: the
// connector registered and its events bound once, activated on the line's
// Open Line, each message sent, edited and deleted. A rate limit in the
// middle of the batch is an error (the line waits), and the retry posts
// only what Bitrix24 did not take yet: no message twice.
func TestDeliveryIdempotentAcrossRateLimit(t *testing.T) {
	backends(t, func(t *testing.T, b queuetest.Backend) {
		e := setup(t, b)
		first := created("evt_1", "m1", "Hello, my order is late")
		first.Message.Files = []connectors.File{{Name: "receipt.pdf", URL: "https://gateway.example/files/receipt"}}
		edit := created("evt_3", "m1", "Hello, my order 1234 is late")
		edit.Type = connectors.TypeMessageUpdated
		del := connectors.Event{ID: "evt_4", Type: connectors.TypeMessageDeleted, OccurredAt: at, Connection: "con_1", Line: "lin_1",
			Chat: &connectors.Chat{ID: "42"}, Message: &connectors.Message{ID: "m2"}}
		batch := []connectors.Event{first, created("evt_2", "m2", "Order 1234"), edit, del}

		e.fake.Fail("imconnector.send.messages", "ok") // m1 goes through
		e.fake.Fail("imconnector.send.messages", "limit")
		err := e.deliver(batch...)
		if err == nil || !strings.Contains(err.Error(), "QUERY_LIMIT_EXCEEDED") || !strings.Contains(err.Error(), "rate limiting") {
			t.Fatalf("a rate limit mid-batch: %v; want an error that says so", err)
		}
		if err := e.deliver(batch...); err != nil {
			t.Fatalf("retry: %v", err)
		}
		if err := e.deliver(batch...); err != nil { // acked already, say: nothing more
			t.Fatalf("third delivery: %v", err)
		}
		want := []string{"imconnector.register", "event.bind", "event.bind", "event.bind", "imconnector.activate",
			"imconnector.send.messages", "imconnector.send.messages", // m2 refused: rate limit
			"imconnector.send.messages", "imconnector.update.messages", "imconnector.delete.messages"}
		if got := e.fake.Methods(); !reflect.DeepEqual(got, want) {
			t.Fatalf("calls:\n got %v\nwant %v", got, want)
		}
		for _, c := range e.fake.Calls() {
			if c.Auth != "access-1" {
				t.Fatalf("%s called with auth %q", c.Method, c.Auth)
			}
		}
		if n1, n2 := e.fake.Posts("con_1:42", "m1"), e.fake.Posts("con_1:42", "m2"); n1 != 1 || n2 != 1 {
			t.Fatalf("m1 posted %d times, m2 %d times; want once each", n1, n2)
		}
		if got, _ := e.fake.Message("con_1:42", "m1"); got != "Hello, my order 1234 is late" {
			t.Fatalf("m1 in the Open Line after the edit: %q", got)
		}
		if !e.fake.Deleted("con_1:42", "m2") {
			t.Fatal("m2 was not deleted")
		}
		bind := e.fake.CallsOf("event.bind")
		if h := bind[0].Params["handler"]; h != "https://gateway.example/adapters/"+e.p.ID+"/events" || bind[0].Params["event"] != "OnImConnectorMessageAdd" {
			t.Fatalf("event.bind: %v", bind[0].Params)
		}
		reg := e.fake.CallsOf("imconnector.register")[0].Params
		if reg["ID"] != "connector_gateway" || reg["PLACEMENT_HANDLER"] != "https://gateway.example/adapters/"+e.p.ID+"/settings" {
			t.Fatalf("register: %v", reg)
		}
		act := e.fake.CallsOf("imconnector.activate")[0].Params
		if act["CONNECTOR"] != "connector_gateway" || act["LINE"] != json.Number("7") || act["ACTIVE"] != "1" {
			t.Fatalf("activate: %v", act)
		}
		send := e.fake.CallsOf("imconnector.send.messages")[0].Params
		raw, _ := json.Marshal(send)
		wantSend := `{"CONNECTOR":"connector_gateway","LINE":7,"MESSAGES":[{"chat":{"id":"con_1:42","name":"Ann Lee (telegram)"},` +
			`"message":{"date":1796119200,"files":[{"name":"receipt.pdf","url":"https://gateway.example/files/receipt"}],"id":"m1","text":"Hello, my order is late"},` +
			`"user":{"id":"con_1:u1","name":"Ann Lee","picture":{"url":"https://gateway.example/files/avatar"}}}]}`
		if string(raw) != wantSend {
			t.Fatalf("send.messages:\n got %s\nwant %s", raw, wantSend)
		}
		del2 := e.fake.CallsOf("imconnector.delete.messages")[0].Params
		raw, _ = json.Marshal(del2)
		if want := `{"CONNECTOR":"connector_gateway","LINE":7,"MESSAGES":[{"chat":{"id":"con_1:42"},"message":{"id":"m2"},"user":{"id":"con_1:u1"}}]}`; string(raw) != want {
			t.Fatalf("delete.messages:\n got %s\nwant %s", raw, want)
		}
	})
}

// An expired access token is renewed once at the authorization server,
// stored sealed in the portal record (never readable in the table), and
// the call is repeated with it; a renewal the server refuses is an error
// in plain words, and nothing is posted.
func TestExpiredTokenRenewedAndStoredSealed(t *testing.T) {
	backends(t, func(t *testing.T, b queuetest.Backend) {
		e := setup(t, b)
		if err := e.deliver(created("evt_1", "m1", "Hi")); err != nil {
			t.Fatal(err)
		}
		e.fake.Fail("imconnector.send.messages", "expire")
		if err := e.deliver(created("evt_2", "m2", "Still there?")); err != nil {
			t.Fatalf("delivery with an expired token: %v", err)
		}
		if e.fake.Renewed() != 1 || e.fake.Posts("con_1:42", "m2") != 1 {
			t.Fatalf("renewed %d times, m2 posted %d times; want once each", e.fake.Renewed(), e.fake.Posts("con_1:42", "m2"))
		}
		sends := e.fake.CallsOf("imconnector.send.messages")
		if last := sends[len(sends)-1]; last.Auth != "access-2" {
			t.Fatalf("repeated call used auth %q", last.Auth)
		}
		e.reload()
		if e.p.Adapter[bitrix24.SettingAccessToken] != "access-2" || e.p.Adapter[bitrix24.SettingRefreshToken] != "refresh-2" ||
			e.p.Adapter[bitrix24.SettingExpires] != "1893456000" || e.p.Adapter[bitrix24.SettingApplicationToken] != appToken {
			t.Fatalf("settings after the renewal: %v", e.p.Adapter)
		}
		var sealed []byte
		if err := e.db.SQL.QueryRowContext(e.ctx, "SELECT adapter_settings FROM portals WHERE id = ?", e.p.ID).Scan(&sealed); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(sealed), "access-2") || strings.Contains(string(sealed), "refresh-2") {
			t.Fatal("the renewed tokens are readable in the portals table")
		}
		// The next batch starts with the stored token: no second renewal.
		if err := e.deliver(created("evt_3", "m3", "Hello?")); err != nil || e.fake.Renewed() != 1 {
			t.Fatalf("after the renewal: %v, renewed %d", err, e.fake.Renewed())
		}

		// The application was reinstalled: the stored refresh token is
		// no longer valid.
		e.fake.SetRefreshToken("refresh-of-another-install")
		e.fake.Expire()
		err := e.deliver(created("evt_4", "m4", "Anyone?"))
		if err == nil || !strings.Contains(err.Error(), "renewing it failed") || !strings.Contains(err.Error(), "invalid_grant") || !strings.Contains(err.Error(), "reinstall") {
			t.Fatalf("a refused renewal: %v", err)
		}
		if e.fake.Posts("con_1:42", "m4") != 0 {
			t.Fatal("m4 posted despite the failed renewal")
		}

		// The authorization server is unreachable: the error says so and
		// carries neither the client secret nor the refresh token of the
		// renewal URL.
		set := e.p.Adapter
		set[bitrix24.SettingOAuthURL] = "http://127.0.0.1:1/oauth/token/"
		if err := e.recs.SetPortalKind(e.ctx, e.p.ID, portal.KindBitrix24, set); err != nil {
			t.Fatal(err)
		}
		err = e.deliver(created("evt_4", "m4", "Anyone?"))
		if err == nil || !strings.Contains(err.Error(), "not reachable") || strings.Contains(err.Error(), e.fake.ClientSecret) || strings.Contains(err.Error(), "refresh-2") {
			t.Fatalf("an unreachable authorization server: %v", err)
		}
	})
}

func agentForm(event, token string, kv ...string) url.Values {
	f := url.Values{"event": {event}, "event_handler_id": {"555"}, "ts": {"1773759161"},
		"data[CONNECTOR]": {"connector_gateway"}, "data[LINE]": {"7"},
		"auth[domain]": {"some-domain.bitrix24.com"}, "auth[member_id]": {"bac1cd5c8940947a75e0d71b1a84e348"},
		"auth[application_token]": {token}}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Set("data[MESSAGES][0]"+kv[i], kv[i+1])
	}
	return f
}

// An agent's answer in the Open Line (Bitrix24's form-encoded event) becomes
// one outbound request to the customer's chat, however often Bitrix24
// posts it; a forged application token is refused and stores nothing. The
// request's delivery and read statuses go back to Bitrix24 with its own ids,
// and the agent's edit and deletion become edit and delete requests.
func TestAgentRepliesAndStatusesRoundTrip(t *testing.T) {
	backends(t, func(t *testing.T, b queuetest.Backend) {
		e := setup(t, b)
		if err := e.deliver(created("evt_1", "m1", "Hello")); err != nil {
			t.Fatal(err)
		}
		reply := []string{"[im][chat_id]", "1807", "[im][message_id]", "86497", "[message][user_id]", "27",
			"[message][text]", "[b]Klaus Weber:[/b] [br]Guten Tag! See [url=https://example.com/faq]the FAQ[/url]", "[chat][id]", "con_1:42"}
		if code := e.post(agentForm("ONIMCONNECTORMESSAGEADD", "forged-"+appToken[7:], reply...)); code != http.StatusUnauthorized {
			t.Fatalf("forged application token: %d", code)
		}
		if code := e.post(agentForm("ONIMCONNECTORMESSAGEADD", "", reply...)); code != http.StatusUnauthorized {
			t.Fatalf("no application token: %d", code)
		}
		if reqs := e.claim(); len(reqs) != 0 {
			t.Fatalf("a refused event stored %d requests", len(reqs))
		}
		if code := e.post(agentForm("ONIMCONNECTORMESSAGEADD", appToken)); code != http.StatusBadRequest {
			t.Fatalf("an event without messages: %d", code)
		}
		for i := 0; i < 2; i++ {
			if code := e.post(agentForm("ONIMCONNECTORMESSAGEADD", appToken, reply...)); code != http.StatusOK {
				t.Fatalf("agent's reply, post %d: %d", i+1, code)
			}
		}
		reqs := e.claim()
		if len(reqs) != 1 {
			t.Fatalf("two posts of one event gave %d requests; want 1", len(reqs))
		}
		r := reqs[0]
		var out connectors.Outbound
		_ = json.Unmarshal(r.Payload, &out)
		if r.Op != portal.OpSend || r.ConnectionID != "con_1" || r.ChatID != "42" || r.LineID != "lin_1" || r.PortalID != e.p.ID ||
			out.Text != "Klaus Weber:\nGuten Tag! See the FAQ (https://example.com/faq)" {
			t.Fatalf("request: %+v %q", r, out.Text)
		}
		if e.woken == 0 {
			t.Fatal("the sender was not woken")
		}

		// The sender delivered it: the messenger's id goes to Bitrix24
		// as the delivery status of its message 86497, then the read.
		if err := e.outbound.Finish(e.ctx, r, queue.OutboundDone, `["tg-900"]`, queue.NewEvent{DedupeKey: "st1", PortalID: e.p.ID, LineID: "lin_1", EventID: "evt_st1", Payload: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
		delivered := connectors.Event{ID: "evt_5", Type: connectors.TypeStatusDelivered, OccurredAt: at, Connection: "con_1", Line: "lin_1",
			Chat: &connectors.Chat{ID: "42"}, Status: &connectors.Status{RequestID: r.ID, Operation: "send", MessengerMessageIDs: []string{"tg-900"}}}
		read := connectors.Event{ID: "evt_6", Type: connectors.TypeStatusRead, OccurredAt: at, Connection: "con_1", Line: "lin_1",
			Chat: &connectors.Chat{ID: "42"}, Status: &connectors.Status{Operation: "send", MessengerMessageIDs: []string{"tg-900"}}}
		if err := e.deliver(delivered, read); err != nil {
			t.Fatal(err)
		}
		want := []bitrix24test.Status{{Kind: "delivery", IMChat: "1807", IMMessage: "86497", IDs: []string{"tg-900"}, Chat: "con_1:42"},
			{Kind: "reading", IMChat: "1807", IMMessage: "86497", IDs: []string{"tg-900"}, Chat: "con_1:42"}}
		if got := e.fake.Statuses(); !reflect.DeepEqual(got, want) {
			t.Fatalf("statuses in Bitrix24:\n got %+v\nwant %+v", got, want)
		}
		delivery := e.fake.CallsOf("imconnector.send.status.delivery")[0].Params
		if delivery["CONNECTOR"] != "connector_gateway" || delivery["LINE"] != json.Number("7") {
			t.Fatalf("send.status.delivery: %v", delivery)
		}

		// The agent edits, then deletes the answer.
		edit := []string{"[im][chat_id]", "1807", "[im][message_id]", "86497", "[message][id][0]", "tg-900",
			"[message][text]", "[b]Klaus Weber:[/b][br] Guten Morgen!", "[chat][id]", "con_1:42"}
		for i := 0; i < 2; i++ {
			if code := e.post(agentForm("ONIMCONNECTORMESSAGEUPDATE", appToken, edit...)); code != http.StatusOK {
				t.Fatalf("edit: %d", code)
			}
		}
		reqs = e.claim()
		var ed connectors.Edit
		if len(reqs) != 1 || reqs[0].Op != portal.OpEdit || json.Unmarshal(reqs[0].Payload, &ed) != nil ||
			ed != (connectors.Edit{ChatID: "42", MessageID: "tg-900", Text: "Klaus Weber:\nGuten Morgen!"}) {
			t.Fatalf("edit requests: %+v (%+v)", reqs, ed)
		}
		if err := e.outbound.Finish(e.ctx, reqs[0], queue.OutboundDone, `[]`, queue.NewEvent{DedupeKey: "st2", PortalID: e.p.ID, LineID: "lin_1", EventID: "evt_st2", Payload: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
		del := []string{"[im][chat_id]", "1807", "[im][message_id]", "86497", "[message][id]", "tg-900", "[chat][id]", "con_1:42"}
		if code := e.post(agentForm("ONIMCONNECTORMESSAGEDELETE", appToken, del...)); code != http.StatusOK {
			t.Fatalf("delete: %d", code)
		}
		reqs = e.claim()
		var dl connectors.Delete
		if len(reqs) != 1 || reqs[0].Op != portal.OpDelete || json.Unmarshal(reqs[0].Payload, &dl) != nil || dl != (connectors.Delete{ChatID: "42", MessageID: "tg-900"}) {
			t.Fatalf("delete requests: %+v", reqs)
		}

		// A chat the gateway never opened is not a customer's: accepted,
		// nothing submitted.
		stray := []string{"[im][chat_id]", "1900", "[im][message_id]", "99999", "[message][text]", "hi", "[chat][id]", "con_9:1"}
		if code := e.post(agentForm("ONIMCONNECTORMESSAGEADD", appToken, stray...)); code != http.StatusOK {
			t.Fatalf("stray chat: %d", code)
		}
		if reqs := e.claim(); len(reqs) != 0 {
			t.Fatalf("a stray chat gave requests: %+v", reqs)
		}
	})
}

// The live test calls only read methods: the token is accepted, and once
// the connector is registered, it is active on each configured Open Line.
func TestLiveTestReadsOnly(t *testing.T) {
	e := setup(t, queuetest.Backends()[0])
	if err := e.a.Test(e.ctx, e.p); err != nil {
		t.Fatalf("test before any delivery: %v", err)
	}
	if got := e.fake.Methods(); !reflect.DeepEqual(got, []string{"app.info"}) {
		t.Fatalf("calls: %v", got)
	}
	if err := e.deliver(created("evt_1", "m1", "Hi")); err != nil {
		t.Fatal(err)
	}
	if err := e.a.Test(e.ctx, e.p); err != nil {
		t.Fatalf("test after delivery: %v", err)
	}
	if c := e.fake.CallsOf("imconnector.status"); len(c) != 1 || c[0].Params["LINE"] != json.Number("7") {
		t.Fatalf("status calls: %+v", c)
	}
	e.p.Adapter[bitrix24.SettingAccessToken] = "not-a-token"
	err := e.a.Test(e.ctx, e.p)
	if err == nil || !strings.Contains(err.Error(), "does not accept the access token") {
		t.Fatalf("a wrong token: %v", err)
	}
	if s := (&bitrix24.Adapter{}).Settings(); len(s) == 0 || s[0].Key != bitrix24.SettingDomain {
		t.Fatalf("settings: %+v", s)
	}
}

// With an installation secret set, Bitrix24's installation callback stores
// the application's tokens sealed in the portal record (a wrong secret
// stores nothing), and every installation makes the next message register
// the connector and bind its events again, as a reinstalled application
// has lost them.
func TestInstallationCallbackStoresTokens(t *testing.T) {
	backends(t, func(t *testing.T, b queuetest.Backend) {
		e := setup(t, b)
		bare := e.fake.Settings()
		for _, k := range []string{bitrix24.SettingAccessToken, bitrix24.SettingRefreshToken, bitrix24.SettingApplicationToken} {
			delete(bare, k)
		}
		bare[bitrix24.SettingLinePrefix+"lin_1"] = "7"
		bare[bitrix24.SettingInstallSecret] = "s3cret-install-path"
		if err := e.recs.SetPortalKind(e.ctx, e.p.ID, portal.KindBitrix24, bare); err != nil {
			t.Fatal(err)
		}
		install := func(secret string) int {
			form := url.Values{"event": {"ONAPPINSTALL"}, "data[VERSION]": {"1"}, "data[INSTALLED]": {"Y"},
				"auth[access_token]": {"access-1"}, "auth[refresh_token]": {"refresh-1"}, "auth[expires_in]": {"3600"},
				"auth[client_endpoint]": {e.fake.Endpoint()}, "auth[domain]": {"some-domain.bitrix24.com"},
				"auth[member_id]": {"a223c6b3710f85df22e9377d6c4f7553"}, "auth[application_token]": {appToken}}
			resp, err := http.PostForm(e.hook.URL+"/adapters/"+e.p.ID+"/install/"+secret, form)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		if code := install("guessed"); code != http.StatusUnauthorized {
			t.Fatalf("a wrong installation secret: %d", code)
		}
		if e.reload(); e.p.Adapter[bitrix24.SettingAccessToken] != "" {
			t.Fatal("a refused installation stored a token")
		}
		if code := install("s3cret-install-path"); code != http.StatusOK {
			t.Fatalf("installation: %d", code)
		}
		e.reload()
		if e.p.Adapter[bitrix24.SettingAccessToken] != "access-1" || e.p.Adapter[bitrix24.SettingRefreshToken] != "refresh-1" ||
			e.p.Adapter[bitrix24.SettingApplicationToken] != appToken || e.p.Adapter[bitrix24.SettingExpires] == "" {
			t.Fatalf("settings after the installation: %v", e.p.Adapter)
		}
		if err := e.deliver(created("evt_1", "m1", "Hi")); err != nil {
			t.Fatal(err)
		}
		if code := install("s3cret-install-path"); code != http.StatusOK {
			t.Fatalf("reinstallation: %d", code)
		}
		if err := e.deliver(created("evt_2", "m2", "Hi again")); err != nil {
			t.Fatal(err)
		}
		want := []string{"imconnector.register", "event.bind", "event.bind", "event.bind", "imconnector.activate", "imconnector.send.messages",
			"imconnector.register", "event.bind", "event.bind", "event.bind", "imconnector.activate", "imconnector.send.messages"}
		if got := e.fake.Methods(); !reflect.DeepEqual(got, want) {
			t.Fatalf("calls:\n got %v\nwant %v", got, want)
		}
	})
}

// roundTripper is an http.RoundTripper made of a function.
type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Two processes (a replica's dispatcher and `connector portal set-kind`,
// each its own Adapter, so no shared lock) renew the same expired token at
// once: the one whose refresh token was spent by the other a moment
// earlier meets invalid_grant, takes the pair the other stored, and goes
// on; the record keeps the pair renewed once, never the spent token.
func TestConcurrentRenewalInAnotherProcessIsTaken(t *testing.T) {
	backends(t, func(t *testing.T, b queuetest.Backend) {
		e := setup(t, b)
		if err := e.deliver(created("evt_1", "m1", "Hi")); err != nil {
			t.Fatal(err)
		}
		stale := e.p // this process's copy, with access-1 and refresh-1
		e.fake.Expire()
		raced := false
		other := &bitrix24.Adapter{IDs: e.ids, Portals: e.recs, PublicURL: "https://gateway.example",
			Client: &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
				if strings.Contains(r.URL.Path, "/oauth/") && !raced {
					raced = true // the other process renews first
					if err := e.deliver(created("evt_2", "m2", "Still there?")); err != nil {
						t.Errorf("the first renewal: %v", err)
					}
				}
				return http.DefaultTransport.RoundTrip(r)
			})}}
		items := func(ev connectors.Event) []queue.Item {
			raw, _ := json.Marshal(ev)
			return []queue.Item{{Seq: 1, EventID: ev.ID, Payload: raw}}
		}
		err := other.Deliver(e.ctx, stale, portal.DeliveryBatch{ID: "bat_3", LineID: "lin_1", Items: items(created("evt_3", "m3", "Hello?"))})
		if err != nil || !raced {
			t.Fatalf("delivery racing another renewal: %v (raced %v)", err, raced)
		}
		if e.fake.Renewed() != 1 || e.fake.Posts("con_1:42", "m2") != 1 || e.fake.Posts("con_1:42", "m3") != 1 {
			t.Fatalf("renewed %d times; m2, m3 posted %d, %d times", e.fake.Renewed(), e.fake.Posts("con_1:42", "m2"), e.fake.Posts("con_1:42", "m3"))
		}
		e.reload()
		if e.p.Adapter[bitrix24.SettingAccessToken] != "access-2" || e.p.Adapter[bitrix24.SettingRefreshToken] != "refresh-2" {
			t.Fatalf("stored after the race: %v", e.p.Adapter)
		}
	})
}

// A renewal does not put a portal switched to another kind meanwhile back
// to bitrix24: the renewed pair serves the batch, and the record is left
// as the admin set it.
func TestRenewalLeavesAPortalSwitchedAway(t *testing.T) {
	e := setup(t, queuetest.Backends()[0])
	if err := e.deliver(created("evt_1", "m1", "Hi")); err != nil {
		t.Fatal(err)
	}
	stale := e.p
	if err := e.recs.SetPortalKind(e.ctx, e.p.ID, portal.KindNative, nil); err != nil {
		t.Fatal(err)
	}
	e.fake.Expire()
	raw, _ := json.Marshal(created("evt_2", "m2", "Still there?"))
	if err := e.a.Deliver(e.ctx, stale, portal.DeliveryBatch{ID: "bat_2", LineID: "lin_1", Items: []queue.Item{{Seq: 1, EventID: "evt_2", Payload: raw}}}); err != nil {
		t.Fatalf("the batch in flight: %v", err)
	}
	if p, err := e.recs.GetPortal(e.ctx, e.p.ID); err != nil || p.Kind != portal.KindNative || len(p.Adapter) != 0 {
		t.Fatalf("the record after the renewal: %+v %v", p, err)
	}
}
