package app_test

import (
	"context"
	"html/template"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/connector-gateway/connector/portal/portaltest"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// A portal reporting "agent read message X" through the signed API puts a
// "Read" mark under the visitor's message in their open widget, and the
// mark is still there after a reload.
func TestWidgetShowsAgentRead(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		p := portaltest.New(t)
		g := widgetGateway(t, b)
		host := newHostPage(t)
		w := wireWidget(t, g, p, host.srv.URL)
		host.snippet.Store(template.HTML(w.Snippet))
		br := newBrowser(t)
		a := br.ctx

		do(t, a, "open the shop's page", chromedp.Navigate(host.srv.URL))
		waitJS(t, a, "the widget to connect", jsState+` === 'connected'`, 20*time.Second)
		do(t, a, "open the chat", chromedp.Click(launcher()))
		do(t, a, "write", chromedp.SendKeys(composer(), "Do you ship to Norway?\r"))
		ev := waitMessage(t, p, w.Line, 1)
		err := w.Client.Do(context.Background(), "POST", "/v1/connections/"+w.Conn+"/read",
			map[string]string{"chat_id": ev.Chat.ID, "message_id": ev.Message.ID}, nil, nil)
		if err != nil {
			t.Fatalf("portal read: %v", err)
		}
		const jsRead = jsBubbles + `.some(b => b.text === "Do you ship to Norway?\u2713\u2713 Read")`
		waitJS(t, a, "the read mark", jsRead, 20*time.Second)
		shot(t, a, "widget-agent-read-"+b.Driver+".png")
		do(t, a, "reload", chromedp.Reload())
		waitJS(t, a, "the widget to reconnect", jsState+` === 'connected'`, 20*time.Second)
		do(t, a, "open the chat again", chromedp.Click(launcher()))
		waitJS(t, a, "the read mark after the reload", jsRead, 20*time.Second)
		if errs := br.scriptErrors(); len(errs) != 0 {
			t.Fatalf("script errors in the page: %q", errs)
		}
	})
}
