package app_test

import (
	"context"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/xmpp/xmpptest"
	"github.com/connector-gateway/connector/portal/portaltest"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// The XMPP web chat in a real headless Chromium against a real Prosody, on
// both backends: a shop's page (one loopback origin) carries the snippet;
// the visitor opens the chat, which asks the gateway (another site:
// localhost) for a pool room and frames the Converse.js page; Converse.js
// logs in anonymously over Prosody's WebSocket and joins the room. The
// visitor writes → the portal gets it; the portal replies → the visitor
// sees it; the portal closes the conversation → conversation.closed and
// the room leaves the pool.
func TestXMPPWebChatInBrowser(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		srv := xmpptest.Start(t, map[string]string{"gw": xmppGwPass})
		pt := portaltest.New(t)
		cfg := testConfig(b, b.DSN(t), "http://127.0.0.1:1/bot%s/%s")
		cfg.Addr = freeAddr(t)
		// The gateway is another site than the shop (localhost vs
		// 127.0.0.1), as in production: the browser runs its frame apart.
		cfg.PublicURL = "http://localhost:" + strings.Split(cfg.Addr, ":")[1]
		g := startGateway(t, cfg)
		host := newHostPage(t)
		ctx := context.Background()

		w := newPortal(t, g, pt)
		var line struct{ ID string }
		if err := w.Client.Do(ctx, "POST", "/v1/lines", map[string]string{"name": "Web chat"}, &line, nil); err != nil {
			t.Fatalf("create line: %v", err)
		}
		settings := xmppSettings(srv)
		settings["muc_service"] = xmpptest.MUC
		settings["room_pool"] = "2"
		settings["webchat_websocket_url"] = srv.WebSocketURL()
		settings["webchat_anonymous_domain"] = xmpptest.Anonymous
		settings["webchat_allowed_origins"] = host.srv.URL
		settings["webchat_title"] = "Acme support"
		var conn struct {
			ID      string `json:"id"`
			Snippet string `json:"snippet"`
		}
		if err := w.Client.Do(ctx, "POST", "/v1/lines/"+line.ID+"/connections", map[string]any{"connector": "xmpp", "settings": settings}, &conn, nil); err != nil {
			t.Fatalf("create connection: %v", err)
		}
		var report connectors.TestReport
		if err := w.Client.Do(ctx, "POST", "/v1/connections/"+conn.ID+"/test", nil, &report, nil); err != nil || !report.OK {
			t.Fatalf("connection test: %+v %v", report, err)
		}
		if err := w.Client.Do(ctx, "POST", "/v1/connections/"+conn.ID+"/activate", nil, nil, nil); err != nil {
			t.Fatalf("activate: %v", err)
		}
		want := `<script src="` + cfg.PublicURL + `/pages/`
		if !strings.HasPrefix(conn.Snippet, want) || !strings.HasSuffix(conn.Snippet, `/embed.js" async></script>`) {
			t.Fatalf("snippet %q", conn.Snippet)
		}
		host.snippet.Store(template.HTML(conn.Snippet))
		embed := strings.TrimSuffix(strings.TrimPrefix(conn.Snippet, `<script src="`), `" async></script>`)
		pageBase := strings.TrimSuffix(embed, "embed.js")
		refusedRoom(t, pageBase, "https://elsewhere.example")

		br := newBrowser(t)
		a := br.ctx
		do(t, a, "open the shop's page", chromedp.Navigate(host.srv.URL))
		src := openXMPPChat(t, a, "the first visitor")
		room := roomOf(t, src)
		opened := waitChatEvent(t, pt, line.ID, connectors.TypeConversationOpened, room)
		if opened.Conversation == nil || opened.Conversation.State != "active" {
			t.Fatalf("conversation.opened %+v", opened)
		}

		f := frameContext(t, br, pageBase+"chat")
		const composer = `document.querySelector('textarea.chat-textarea')`
		if _, err := chromedp.Run(f, chromedp.Poll[chromedp.Void](composer+` !== null`, chromedp.WithPollingTimeout(45*time.Second))); err != nil {
			t.Fatalf("Converse.js did not show the room: %v\npage: %.3000s\nresources: %s\nprosody log:\n%s", err, eval[string](t, f, `document.body.innerText`),
				eval[string](t, f, `location.href + ' ' + typeof window.converse + ' ' + JSON.stringify(performance.getEntriesByType('resource').map(e => e.name + ' ' + e.responseStatus))`), srv.Log())
		}
		first := "Hello from the shop page, where is order 42?"
		do(t, f, "type a message", chromedp.SendKeys(chromedp.JSPath(composer), first+"\r"))
		ev := waitText(t, pt, line.ID, connectors.TypeMessageCreated, first)
		if ev.Chat == nil || ev.Chat.ID != room || ev.Connector != "xmpp" || ev.Connection != conn.ID {
			t.Fatalf("portal got %+v", ev)
		}
		answer := "Order 42 left our warehouse this morning."
		if _, err := w.Client.Send(ctx, conn.ID, connectors.Outbound{ChatID: room, Text: answer}); err != nil {
			t.Fatal(err)
		}
		waitJS(t, f, "the reply in Converse.js", `Array.from(document.querySelectorAll('.chat-msg__text')).some(e => e.textContent.trim() === `+jsString(answer)+`)`, 30*time.Second)
		waitJS(t, f, "the room's title", `document.body.innerText.includes('Acme support')`, 10*time.Second)
		shot(t, a, "xmpp-webchat-"+b.Driver+".png")

		// A reload (or the next page of the site) keeps the conversation:
		// the same room, its history shown again.
		do(t, a, "reload the shop's page", chromedp.Reload())
		if again := openXMPPChat(t, a, "the first visitor, after a reload"); again != src {
			t.Fatalf("after a reload the chat frames %s, want the same room %s", again, src)
		}
		f = frameContext(t, br, src)
		for _, text := range []string{first, answer} {
			waitJS(t, f, "the history after reload: "+text, `Array.from(document.querySelectorAll('.chat-msg__text')).some(e => e.textContent.trim() === `+jsString(text)+`)`, 30*time.Second)
		}

		// Another visitor (storage of their own) gets another room.
		o := br.newVisitor()
		do(t, o, "second visitor opens the shop", chromedp.Navigate(host.srv.URL))
		if other := openXMPPChat(t, o, "the second visitor"); other == src {
			t.Fatal("two visitors share one room")
		}

		var closed map[string]string
		if err := w.Client.Do(ctx, "POST", "/v1/connections/"+conn.ID+"/conversations/"+room+"/close", nil, &closed, nil); err != nil {
			t.Fatalf("close conversation: %v", err)
		}
		end := waitChatEvent(t, pt, line.ID, connectors.TypeConversationClosed, room)
		if end.Conversation == nil || end.Conversation.ClosedAt == nil || end.Conversation.ClosedAt.Before(opened.Conversation.OpenedAt) {
			t.Fatalf("conversation.closed %+v", end.Conversation)
		}
		err := w.Client.Do(ctx, "POST", "/v1/connections/"+conn.ID+"/conversations/"+room+"/close", nil, nil, nil)
		if err == nil || !strings.Contains(err.Error(), "422") {
			t.Fatalf("closing a closed conversation: %v, want 422", err)
		}
		// The first visitor comes back after the close: the tab's stored
		// room is gone, so the chat hands out a new one.
		do(t, a, "reload after the close", chromedp.Reload())
		next := openXMPPChat(t, a, "the first visitor, after the close")
		if next == src {
			t.Fatal("after its conversation was closed the visitor is framed into the destroyed room again")
		}
		waitChatEvent(t, pt, line.ID, connectors.TypeConversationOpened, roomOf(t, next))
		if errs := br.scriptErrors(); len(errs) != 0 {
			t.Fatalf("script errors in the pages: %q", errs)
		}
	})
}

// chatRoot is the XMPP web chat button's shadow root on the shop's page.
const chatRoot = `document.querySelector('[data-connector-xmpp-chat]').shadowRoot`

// openXMPPChat clicks the chat button on the shop's page once it is there
// and returns the URL of the chat frame it opens.
func openXMPPChat(t *testing.T, tab context.Context, who string) string {
	t.Helper()
	waitJS(t, tab, who+": the chat button", chatRoot+` && `+chatRoot+`.querySelector('button') !== null`, 10*time.Second)
	do(t, tab, who+": open the chat", chromedp.Click(chromedp.JSPath(chatRoot+`.querySelector('button')`)))
	waitJS(t, tab, who+": the chat frame", chatRoot+`.querySelector('iframe') !== null`, 30*time.Second)
	return eval[string](t, tab, chatRoot+`.querySelector('iframe').src`)
}

// roomOf is the room JID in a chat frame's URL (…/chat#room=<JID>).
func roomOf(t *testing.T, frameURL string) string {
	t.Helper()
	_, frag, _ := strings.Cut(frameURL, "#")
	q, err := url.ParseQuery(frag)
	if err != nil || q.Get("room") == "" {
		t.Fatalf("no room in the chat frame's URL %q", frameURL)
	}
	return q.Get("room")
}

// refusedRoom checks that a page of a site not on the list gets no room.
func refusedRoom(t *testing.T, base, origin string) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"room", nil)
	req.Header.Set("Origin", origin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("room for %s: %d %s", origin, resp.StatusCode, body)
	}
}

// waitChatEvent waits for an event of typ on chat.
func waitChatEvent(t testing.TB, pt *portaltest.Server, line, typ, chat string) connectors.Event {
	t.Helper()
	return waitEventFor(t, pt, line, typ+" for "+chat+" on the line", 30*time.Second, func(ev connectors.Event) bool {
		return ev.Type == typ && ev.Chat != nil && ev.Chat.ID == chat
	})
}

// frameContext attaches to the cross-site frame whose URL starts with
// prefix (Chromium runs it as a target of its own; a frame of the page
// before a reload may still be listed, so the newest match wins).
func frameContext(t *testing.T, br *browser, prefix string) context.Context {
	t.Helper()
	parent := br.ctx
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		infos, err := chromedp.Targets(parent)
		if err != nil {
			t.Fatal(err)
		}
		for i := len(infos) - 1; i >= 0; i-- {
			info := infos[i]
			if info.Type == "iframe" && strings.HasPrefix(info.URL, prefix) {
				f, cancel := chromedp.NewContext(parent, chromedp.WithTargetID(info.TargetID))
				t.Cleanup(cancel)
				br.watch(f)
				return f
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no frame target for %s", prefix)
	return nil
}
