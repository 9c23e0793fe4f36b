package webchat_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/webchat"
	"github.com/connector-gateway/connector/queue/queuetest"
	"github.com/connector-gateway/connector/queue/sqldb"
)

func shopConn(e *env) connectors.Conn {
	return e.addConn(connectors.Settings{webchat.SettingOrigins: site + ", https://*.shop.example"})
}

// A visitor's message becomes one event in the outbox and one history
// entry; the same message sent again (a resend after a reconnect, on a new
// socket) adds neither.
func TestVisitorMessageOnceThroughOutbox(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		e := newEnv(t, queuetest.Open(t, b), webchat.Options{})
		c := shopConn(e)
		v := e.visitor(c)

		s := e.open(c, v.Token, 0)
		ack, before := s.message("client-msg-0001", "  Hello, I need help with order 42  ")
		if ack.Type != "ack" || ack.Seq != 1 {
			t.Fatalf("first send answered %+v", ack)
		}
		echo := s.history(before)
		if echo.Seq != 1 || echo.From != "visitor" || echo.Text != "Hello, I need help with order 42" || echo.ID != "client-msg-0001" {
			t.Fatalf("history echo %+v", echo)
		}
		s.ws.CloseNow()

		again := e.open(c, v.Token, 0)
		hist, _ := again.until("message")
		ack2, _ := again.message("client-msg-0001", "Hello, I need help with order 42")
		if ack2.Type != "ack" || ack2.Seq != 1 || hist.Seq != 1 {
			t.Fatalf("resend answered %+v (history %+v), want the first message's seq 1", ack2, hist)
		}
		ack3, _ := again.message("client-msg-0002", "second")
		if ack3.Seq != 2 {
			t.Fatalf("next message got seq %d, want 2", ack3.Seq)
		}

		evs := e.queued(c.LineID)
		if len(evs) != 2 {
			t.Fatalf("outbox holds %d events, want 2: %+v", len(evs), evs)
		}
		ev := evs[0]
		if ev.Type != connectors.TypeMessageCreated || ev.Connector != "webchat" || ev.Channel != "webchat" ||
			ev.Connection != c.ID || ev.Line != c.LineID || ev.Chat == nil || ev.Chat.ID != v.Visitor || ev.Chat.Type != "private" ||
			ev.User == nil || ev.User.ID != v.Visitor || ev.User.Language != "de-DE" || ev.User.ProfileHash == "" ||
			ev.Message == nil || ev.Message.ID != "client-msg-0001" || ev.Message.Text != "Hello, I need help with order 42" {
			t.Fatalf("event = %+v", ev)
		}
		if ev.ID != connectors.EventID("webchat:"+c.ID+":"+v.Visitor+":client-msg-0001") {
			t.Fatalf("event id %s is not derived from the client message id", ev.ID)
		}
	})
}

// Replies reach an open socket at once; replies sent while the visitor is
// away are stored (Send succeeds) and arrive on return, each once.
func TestRepliesLiveAndCaughtUp(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		e := newEnv(t, queuetest.Open(t, b), webchat.Options{})
		c := shopConn(e)
		v := e.visitor(c)
		s := e.open(c, v.Token, 0)
		_, before := s.message("client-msg-0001", "hi")
		s.history(before)

		d, err := e.cn.Send(context.Background(), c, connectors.Outbound{ChatID: v.Visitor, Text: "Hello! Looking at it."})
		if err != nil || len(d.MessageIDs) != 1 {
			t.Fatalf("send: %v %+v", err, d)
		}
		live, _ := s.until("message")
		if live.Seq != 2 || live.From != "agent" || live.Text != "Hello! Looking at it." || live.ID != d.MessageIDs[0] {
			t.Fatalf("live reply %+v", live)
		}
		s.ws.Close(websocket.StatusNormalClosure, "")

		for i := 1; i <= 3; i++ {
			if _, err := e.cn.Send(context.Background(), c, connectors.Outbound{ChatID: v.Visitor, Text: fmt.Sprintf("while away %d", i),
				Files: []connectors.OutFile{{URL: "https://cdn.example/manual.pdf", Mime: "application/pdf"}}}); err != nil {
				t.Fatalf("send to an offline visitor: %v", err)
			}
		}
		back := e.open(c, v.Token, live.Seq)
		for i := 1; i <= 3; i++ {
			f := back.next()
			if f.Type != "message" || f.Seq != int64(2+i) || f.Text != fmt.Sprintf("while away %d", i) ||
				len(f.Files) != 1 || f.Files[0].URL != "https://cdn.example/manual.pdf" || f.Files[0].Name != "manual.pdf" {
				t.Fatalf("catch-up frame %d = %+v", i, f)
			}
		}
		if f, err := back.read(300 * time.Millisecond); err == nil {
			t.Fatalf("a message came twice or out of nowhere: %+v", f)
		}
	})
}

// Tokens are the only key to a conversation: a tampered token, another
// widget's token, or one signed with another key is refused, and a new
// visitor sees nothing of anyone else's.
func TestVisitorsCannotReadEachOther(t *testing.T) {
	e := newEnv(t, queuetest.Open(t, queuetest.Backend{Driver: sqldb.DriverSQLite, DSN: queuetest.SQLiteDSN}), webchat.Options{})
	c := shopConn(e)
	other := shopConn(e)
	alice, bob := e.visitor(c), e.visitor(c)
	if alice.Visitor == bob.Visitor || alice.Token == bob.Token {
		t.Fatal("two visitors share an identity")
	}
	s := e.open(c, alice.Token, 0)
	s.message("client-msg-0001", "my address is 1 Secret Lane")
	if _, err := e.cn.Send(context.Background(), c, connectors.Outbound{ChatID: alice.Visitor, Text: "noted, Alice"}); err != nil {
		t.Fatal(err)
	}

	payload, mac, _ := strings.Cut(alice.Token, ".")
	forged := []string{
		bob.Token[:strings.Index(bob.Token, ".")] + "." + mac, // bob's payload, alice's signature
		payload + "." + strings.Repeat("A", len(mac)),
		e.visitorOf(other).Token, // valid, but another widget's
		"",
	}
	for i, tok := range forged {
		ws, _, err := e.dial(c, site)
		if err != nil {
			t.Fatal(err)
		}
		ws.send(map[string]any{"type": "hello", "token": tok, "after": 0})
		if code := ws.closeStatus(); code != 4001 && !(tok == "" && code == websocket.StatusPolicyViolation) {
			t.Errorf("forged token %d: socket closed with %d, want 4001", i, code)
		}
	}

	b := e.open(c, bob.Token, 0)
	if f, err := b.read(500 * time.Millisecond); err == nil {
		t.Fatalf("bob received %+v", f)
	}
	// A session with a forged token gets a brand-new visitor, not alice.
	st, a, _ := e.session(c, site, map[string]string{"token": forged[0]})
	if st != http.StatusOK || a.Visitor == alice.Visitor || a.Visitor == bob.Visitor {
		t.Fatalf("forged session answered %d visitor %s", st, a.Visitor)
	}
	// A portal cannot reach a visitor through another connection.
	_, err := e.cn.Send(context.Background(), other, connectors.Outbound{ChatID: alice.Visitor, Text: "hi"})
	var pe *connectors.PermanentError
	if !errors.As(err, &pe) {
		t.Fatalf("send to another connection's visitor: %v, want a permanent error", err)
	}
}

func (e *env) visitorOf(c connectors.Conn) sessionAnswer { return e.visitor(c) }

// Only pages of the allowed sites get a session or a socket.
func TestOriginChecked(t *testing.T) {
	e := newEnv(t, queuetest.Open(t, queuetest.Backend{Driver: sqldb.DriverSQLite, DSN: queuetest.SQLiteDSN}), webchat.Options{})
	c := shopConn(e)
	cases := []struct {
		origin string
		ok     bool
	}{
		{site, true},
		{"https://help.shop.example", true},
		{"https://shop.example:443", true},
		{otherSite, false},
		{"http://shop.example", false},
		{"https://shop.example:8443", false},
		{"https://shop.example.evil.example", false},
		{"https://evilshop.example", false},
		{"null", false},
		{"", false},
	}
	for _, tc := range cases {
		st, a, h := e.session(c, tc.origin, map[string]string{})
		if got := st == http.StatusOK; got != tc.ok {
			t.Errorf("session from %q answered %d, want ok=%v", tc.origin, st, tc.ok)
		}
		if !tc.ok && (a.Token != "" || a.Error.Code != "origin_not_allowed") {
			t.Errorf("refused session from %q still answered %+v", tc.origin, a)
		}
		if tc.origin != "" && tc.origin != "null" && h.Get("Access-Control-Allow-Origin") != tc.origin {
			t.Errorf("origin %q: CORS header %q", tc.origin, h.Get("Access-Control-Allow-Origin"))
		}
		_, resp, err := e.dial(c, tc.origin)
		if got := err == nil; got != tc.ok {
			t.Errorf("socket from %q: err %v, want ok=%v", tc.origin, err, tc.ok)
		}
		if !tc.ok && resp != nil && resp.StatusCode != http.StatusForbidden {
			t.Errorf("socket from %q answered %d, want 403", tc.origin, resp.StatusCode)
		}
	}
	v := e.visitor(c)
	if st, _ := e.upload(c, otherSite, v.Token, "a.txt", "text/plain", []byte("x")); st != http.StatusForbidden {
		t.Errorf("upload from another site answered %d", st)
	}
	// A deactivated chat answers nothing, and open sockets learn at their
	// next check.
	e.removeConn(c)
	if st, _, _ := e.session(c, site, map[string]string{}); st != http.StatusNotFound {
		t.Errorf("session of a removed chat answered %d", st)
	}
}

// Bad input from a widget gets a clear error, and nothing is stored or sent.
func TestLimits(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		e := newEnv(t, queuetest.Open(t, b), webchat.Options{MessageLimit: 50, UploadLimit: 2048, RatePerMinute: 1, Burst: 3})
		c := shopConn(e)
		v := e.visitor(c)
		s := e.open(c, v.Token, 0)

		if f, _ := s.message("client-too-long", strings.Repeat("é", 51)); f.Type != "error" || f.Code != "too_long" {
			t.Errorf("51 characters answered %+v", f)
		}
		if f, _ := s.message("client-bad-file", "", "upl_aaaaaaaaaaaaaaaaaaaaaaaaaa"); f.Type != "error" || f.Code != "invalid" {
			t.Errorf("unknown upload answered %+v", f)
		}
		s.send(map[string]any{"type": "message", "id": "x", "text": "short id"})
		if f := s.next(); f.Type != "error" || f.Code != "invalid" {
			t.Errorf("bad id answered %+v", f)
		}
		s.send("not an object")
		if f := s.next(); f.Type != "error" || f.Code != "malformed" {
			t.Errorf("junk answered %+v", f)
		}
		// The unknown upload used one of three tokens.
		for i := 0; i < 2; i++ {
			if f, _ := s.message(fmt.Sprintf("client-ok-%04d", i), "ok"); f.Type != "ack" {
				t.Fatalf("message %d within the burst answered %+v", i, f)
			}
		}
		f, _ := s.message("client-flood-01", "one too many")
		if f.Type != "error" || f.Code != "rate_limited" || f.RetryAfter <= 0 {
			t.Errorf("over the rate answered %+v", f)
		}
		v = e.visitor(c) // the first one has used up its messages
		if st, _ := e.upload(c, site, v.Token, "big.bin", "application/octet-stream", make([]byte, 2049)); st != http.StatusRequestEntityTooLarge {
			t.Errorf("over-limit upload answered %d", st)
		}
		if st, _ := e.upload(c, site, "forged.token", "a.txt", "text/plain", []byte("x")); st != http.StatusUnauthorized {
			t.Errorf("upload with a bad token answered %d", st)
		}
		if evs := e.queued(c.LineID); len(evs) != 2 {
			t.Fatalf("outbox holds %d events, want only the 2 accepted", len(evs))
		}
	})
}

// An upload is stored, offered to the portal as a gateway link, fetched by
// the portal through FetchFile, and served to the visitor so that no browser
// runs it.
func TestUploads(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		e := newEnv(t, queuetest.Open(t, b), webchat.Options{})
		c := shopConn(e)
		v, other := e.visitor(c), e.visitor(c)
		content := []byte("<html><script>alert(1)</script></html>")
		st, up := e.upload(c, site, v.Token, `..\..\evil page.html`, "text/html; charset=utf-8", content)
		if st != http.StatusCreated {
			t.Fatalf("upload answered %d %v", st, up)
		}
		id, _ := up["id"].(string)
		if up["name"] != "evil page.html" || up["mime"] != "text/html" || up["size"] != float64(len(content)) {
			t.Fatalf("upload answer %v", up)
		}
		// Another visitor cannot send it as theirs.
		thief := e.open(c, other.Token, 0)
		if f, _ := thief.message("client-steal-01", "", id); f.Type != "error" {
			t.Fatalf("another visitor's upload accepted: %+v", f)
		}
		s := e.open(c, v.Token, 0)
		f, before := s.message("client-file-01", "see attached", id)
		if f.Type != "ack" {
			t.Fatalf("message with upload answered %+v", f)
		}
		echo := s.history(before)
		if len(echo.Files) != 1 || echo.Files[0].Token == "" || echo.Files[0].Name != "evil page.html" {
			t.Fatalf("history file %+v", echo.Files)
		}
		evs := e.queued(c.LineID)
		if len(evs) != 1 || len(evs[0].Message.Files) != 1 {
			t.Fatalf("events %+v", evs)
		}
		ef := evs[0].Message.Files[0]
		if ef.URL != "https://gateway.test/files/"+c.ID+"/"+id || ef.Size != int64(len(content)) || ef.Kind != "document" {
			t.Fatalf("event file %+v", ef)
		}
		fc, err := e.cn.FetchFile(context.Background(), c, id)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(fc.Body)
		fc.Body.Close()
		if string(got) != string(content) || fc.Mime != "application/octet-stream" {
			t.Fatalf("fetched %q as %s", got, fc.Mime)
		}
		if _, err := e.cn.FetchFile(context.Background(), shopConn(e), id); err == nil {
			t.Fatal("another connection fetched the upload")
		}

		resp, err := http.Get(e.srv.URL + "/widget/" + c.Hash + "/files/" + echo.Files[0].Token)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		h := resp.Header
		if resp.StatusCode != http.StatusOK || string(body) != string(content) ||
			h.Get("Content-Type") != "application/octet-stream" || !strings.HasPrefix(h.Get("Content-Disposition"), "attachment") ||
			h.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(h.Get("Content-Security-Policy"), "sandbox") {
			t.Fatalf("download answered %d %q with %v", resp.StatusCode, body, h)
		}
		tampered := echo.Files[0].Token[:len(echo.Files[0].Token)-2] + "AA"
		if resp, err := http.Get(e.srv.URL + "/widget/" + c.Hash + "/files/" + tampered); err != nil || resp.StatusCode != http.StatusNotFound {
			t.Fatalf("tampered download link: %v %v", err, resp.StatusCode)
		}
	})
}

// Send fails for good for a chat id that is no visitor, and succeeds for a
// visitor who is not online.
func TestSendToUnknownVisitor(t *testing.T) {
	e := newEnv(t, queuetest.Open(t, queuetest.Backend{Driver: sqldb.DriverSQLite, DSN: queuetest.SQLiteDSN}), webchat.Options{})
	c := shopConn(e)
	for _, chat := range []string{"42", "vis_aaaaaaaaaaaaaaaaaaaaaaaaaa"} {
		_, err := e.cn.Send(context.Background(), c, connectors.Outbound{ChatID: chat, Text: "hi"})
		var pe *connectors.PermanentError
		if !errors.As(err, &pe) {
			t.Errorf("send to %q: %v, want a permanent error", chat, err)
		}
	}
	_, err := e.cn.Send(context.Background(), c, connectors.Outbound{ChatID: e.visitor(c).Visitor, Text: "hi", Files: []connectors.OutFile{{URL: "javascript:alert(1)"}}})
	var pe *connectors.PermanentError
	if !errors.As(err, &pe) {
		t.Errorf("send of a javascript: link: %v, want a permanent error", err)
	}
}

// With several gateway processes on one MySQL, a reply stored by one
// reaches a socket open on another (by its poll).
func TestReplyFromAnotherProcess(t *testing.T) {
	db := queuetest.Open(t, queuetest.Backend{Driver: sqldb.DriverMySQL, DSN: queuetest.MySQLDSN})
	a := newEnv(t, db, webchat.Options{Poll: 50 * time.Millisecond})
	b := newEnv(t, db, webchat.Options{Poll: 50 * time.Millisecond})
	c := shopConn(a)
	b.mu.Lock()
	b.conns[c.Hash] = c
	b.mu.Unlock()
	v := a.visitor(c)
	s := a.open(c, v.Token, 0)
	_, before := s.message("client-msg-0001", "hello")
	s.history(before)
	if _, err := b.cn.Send(context.Background(), c, connectors.Outbound{ChatID: v.Visitor, Text: "from the other process"}); err != nil {
		t.Fatal(err)
	}
	if f, _ := s.until("message"); f.Text != "from the other process" {
		t.Fatalf("got %+v", f)
	}
}

// Typing reaches the visitor's open sockets.
func TestTyping(t *testing.T) {
	e := newEnv(t, queuetest.Open(t, queuetest.Backend{Driver: sqldb.DriverSQLite, DSN: queuetest.SQLiteDSN}), webchat.Options{})
	c := shopConn(e)
	v := e.visitor(c)
	s := e.open(c, v.Token, 0)
	if err := e.cn.Typing(context.Background(), c, v.Visitor); err != nil {
		t.Fatal(err)
	}
	if f := s.next(); f.Type != "typing" {
		t.Fatalf("got %+v, want typing", f)
	}
}

// Shutdown closes open sockets with "going away", so widgets reconnect.
func TestShutdownClosesSockets(t *testing.T) {
	e := newEnv(t, queuetest.Open(t, queuetest.Backend{Driver: sqldb.DriverSQLite, DSN: queuetest.SQLiteDSN}), webchat.Options{})
	c := shopConn(e)
	s := e.open(c, e.visitor(c).Token, 0)
	code := make(chan websocket.StatusCode, 1)
	go func() { code <- s.closeStatus() }() // a browser answers the close at once
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.h.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if c := <-code; c != websocket.StatusGoingAway {
		t.Fatalf("closed with %d, want 1001", c)
	}
}

// The pre-chat form: required fields are enforced on the server too, and
// the profile reaches the portal in the event.
func TestPrechatProfile(t *testing.T) {
	e := newEnv(t, queuetest.Open(t, queuetest.Backend{Driver: sqldb.DriverSQLite, DSN: queuetest.SQLiteDSN}), webchat.Options{})
	c := e.addConn(connectors.Settings{webchat.SettingOrigins: site, webchat.SettingPrechatName: "required", webchat.SettingPrechatEmail: "optional"})
	v := e.visitor(c)
	s := e.open(c, v.Token, 0)
	if f, _ := s.message("client-msg-0001", "hi"); f.Code != "profile_required" {
		t.Fatalf("message before the form answered %+v", f)
	}
	st, a, _ := e.session(c, site, map[string]any{"token": v.Token, "profile": map[string]string{"name": "", "email": "not-an-address"}})
	if st != http.StatusUnprocessableEntity || a.Error.Fields["name"] == "" || a.Error.Fields["email"] == "" {
		t.Fatalf("bad form answered %d %+v", st, a)
	}
	st, a, _ = e.session(c, site, map[string]any{"token": v.Token, "language": "fr", "profile": map[string]string{"name": " Anna  Berg ", "email": "anna@example.com"}})
	if st != http.StatusOK || a.Profile.Name != "Anna Berg" || a.Profile.Email != "anna@example.com" || a.Token != v.Token {
		t.Fatalf("form answered %d %+v", st, a)
	}
	if f, _ := s.message("client-msg-0001", "hi"); f.Type != "ack" {
		t.Fatalf("message after the form answered %+v", f)
	}
	evs := e.queued(c.LineID)
	if len(evs) != 1 || evs[0].User.Name != "Anna Berg" || evs[0].User.Email != "anna@example.com" {
		t.Fatalf("events %+v", evs)
	}
}

// The script is served small, cacheable and compressed, and the snippet
// names it.
func TestScriptAndSnippet(t *testing.T) {
	e := newEnv(t, queuetest.Open(t, queuetest.Backend{Driver: sqldb.DriverSQLite, DSN: queuetest.SQLiteDSN}), webchat.Options{})
	req, _ := http.NewRequest("GET", e.srv.URL+"/widget.js", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") || resp.Header.Get("ETag") == "" {
		t.Fatalf("widget.js answered %d %v", resp.StatusCode, resp.Header)
	}
	req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	if resp, err := http.DefaultTransport.RoundTrip(req); err != nil || resp.StatusCode != http.StatusNotModified {
		t.Fatalf("conditional GET: %v %d", err, resp.StatusCode)
	}
	raw, gz, err := webchat.ScriptSize()
	if err != nil || raw == 0 || gz >= raw {
		t.Fatalf("script size %d/%d: %v", raw, gz, err)
	}
	t.Logf("widget.js: %d bytes, %d gzipped", raw, gz)

	sn := e.cn.Snippet(connectors.Conn{Hash: `abc"<x>`}, "https://gateway.example/")
	if sn != `<script src="https://gateway.example/widget.js" data-widget="abc&#34;&lt;x&gt;" async></script>` {
		t.Fatalf("snippet %s", sn)
	}
}

// A deactivated chat closes the sockets that are open, and the widget
// stops (close code 4003).
func TestDeactivationClosesSockets(t *testing.T) {
	e := newEnv(t, queuetest.Open(t, queuetest.Backend{Driver: sqldb.DriverSQLite, DSN: queuetest.SQLiteDSN}), webchat.Options{Recheck: 50 * time.Millisecond})
	c := shopConn(e)
	s := e.open(c, e.visitor(c).Token, 0)
	e.removeConn(c)
	if code := s.closeStatus(); code != 4003 {
		t.Fatalf("closed with %d, want 4003", code)
	}
}

// A socket outlives the HTTP server's request timeouts (net/http clears its
// deadlines when the connection is hijacked; this keeps it that way).
func TestSocketOutlivesServerTimeouts(t *testing.T) {
	e := newEnv(t, queuetest.Open(t, queuetest.Backend{Driver: sqldb.DriverSQLite, DSN: queuetest.SQLiteDSN}), webchat.Options{})
	c := shopConn(e)
	v := e.visitor(c)
	s := e.open(c, v.Token, 0)
	_, before := s.message("client-msg-0001", "hi")
	s.history(before)
	time.Sleep(serverTimeout + 500*time.Millisecond)
	if _, err := e.cn.Send(context.Background(), c, connectors.Outbound{ChatID: v.Visitor, Text: "still here"}); err != nil {
		t.Fatal(err)
	}
	if f := s.next(); f.Type != "message" || f.Text != "still here" {
		t.Fatalf("got %+v", f)
	}
	if f, _ := s.message("client-msg-0002", "me too"); f.Type != "ack" {
		t.Fatalf("got %+v", f)
	}
}

// A script that keeps sending junk is disconnected.
func TestJunkFramesDisconnect(t *testing.T) {
	e := newEnv(t, queuetest.Open(t, queuetest.Backend{Driver: sqldb.DriverSQLite, DSN: queuetest.SQLiteDSN}), webchat.Options{})
	c := shopConn(e)
	s := e.open(c, e.visitor(c).Token, 0)
	for i := 0; i < 25; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := s.ws.Write(ctx, websocket.MessageText, []byte("junk"))
		cancel()
		if err != nil {
			break
		}
	}
	if code := s.closeStatus(); code != websocket.StatusPolicyViolation {
		t.Fatalf("closed with %d, want 1008", code)
	}
}
