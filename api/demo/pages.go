package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/portal/sdk"
)

func (d *Demo) render(w http.ResponseWriter, name string, data any) {
	var buf bytes.Buffer
	if err := d.pages.ExecuteTemplate(&buf, name, data); err != nil {
		d.cfg.Logger.Error("demo: render", "page", name, "err", err)
		http.Error(w, "page failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

// sitePage is a shop's page carrying the demo widget's snippet.
func (d *Demo) sitePage(w http.ResponseWriter, _ *http.Request) {
	_, _, _, snippet, _, err := d.current()
	data := struct {
		Snippet template.HTML
		Inbox   string
		Waiting bool
		Error   string
	}{Snippet: template.HTML(snippet), Inbox: InboxPath, Waiting: snippet == ""}
	if err != nil {
		data.Error = err.Error()
	}
	d.render(w, "site.html", data)
}

func (d *Demo) inboxPage(w http.ResponseWriter, _ *http.Request, csrf string) {
	_, _, _, _, tg, err := d.current()
	data := struct {
		CSRF, Site, Error string
		Telegram          bool
	}{CSRF: csrf, Site: SitePath, Telegram: tg != ""}
	if err != nil {
		data.Error = err.Error()
	}
	d.render(w, "inbox.html", data)
}

// state is the inbox for the page's script, polled every second.
func (d *Demo) state(w http.ResponseWriter, _ *http.Request, _ string) {
	convs, events := d.inbox.snapshot()
	_, _, _, _, _, err := d.current()
	out := map[string]any{"conversations": convs, "events": events}
	if err != nil {
		out["setup_error"] = err.Error()
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(out)
}

// answer writes an action's outcome for the page's script: the gateway's
// error (code and message) when the API refused.
func answer(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err == nil {
		_, _ = w.Write([]byte(`{"ok":true}`))
		return
	}
	var apiErr *sdk.APIError
	status, out := http.StatusBadGateway, map[string]any{"ok": false, "error": err.Error()}
	if errors.As(err, &apiErr) {
		status = http.StatusUnprocessableEntity
		out["code"], out["error"] = apiErr.Code, apiErr.Message
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(out)
}

func (d *Demo) callCtx(r *http.Request) (context.Context, context.CancelFunc, *sdk.Client, error) {
	client, _, _, _, _, _ := d.current()
	if client == nil {
		return nil, nil, nil, errors.New("the demo portal is not set up yet")
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	return ctx, cancel, client, nil
}

// reply sends the agent's answer through the signed API.
func (d *Demo) reply(w http.ResponseWriter, r *http.Request, _ string) {
	key, text := r.PostForm.Get("conversation"), strings.TrimSpace(r.PostForm.Get("text"))
	c, ok := d.inbox.conversation(key)
	if !ok || text == "" {
		http.Error(w, "no such conversation, or no text", http.StatusBadRequest)
		return
	}
	ctx, cancel, client, err := d.callCtx(r)
	if err != nil {
		answer(w, err)
		return
	}
	defer cancel()
	acc, err := client.Send(ctx, c.Connection, connectors.Outbound{ChatID: c.ChatID, Text: text})
	if err == nil {
		d.inbox.sent(key, "send", acc.ID, "", text, time.Now())
	}
	answer(w, err)
}

// edit changes a delivered answer: one PATCH per messenger message.
func (d *Demo) edit(w http.ResponseWriter, r *http.Request, _ string) {
	key, req, text := r.PostForm.Get("conversation"), r.PostForm.Get("request"), strings.TrimSpace(r.PostForm.Get("text"))
	it, c, ok := d.inbox.find(key, req)
	if !ok || text == "" || len(it.MessengerIDs) == 0 {
		http.Error(w, "no such delivered message, or no text", http.StatusBadRequest)
		return
	}
	ctx, cancel, client, err := d.callCtx(r)
	if err != nil {
		answer(w, err)
		return
	}
	defer cancel()
	var acc sdk.Accepted
	err = client.Do(ctx, http.MethodPatch, "/v1/connections/"+c.Connection+"/messages/"+url.PathEscape(it.MessengerIDs[0]),
		map[string]string{"chat_id": c.ChatID, "text": text}, &acc, nil)
	if err == nil {
		d.inbox.sent(key, "edit", acc.ID, req, text, time.Now())
	} else {
		d.inbox.refused(key, req, "edit refused: "+err.Error())
	}
	answer(w, err)
}

// remove deletes a delivered answer: one DELETE per messenger message.
func (d *Demo) remove(w http.ResponseWriter, r *http.Request, _ string) {
	key, req := r.PostForm.Get("conversation"), r.PostForm.Get("request")
	it, c, ok := d.inbox.find(key, req)
	if !ok || len(it.MessengerIDs) == 0 {
		http.Error(w, "no such delivered message", http.StatusBadRequest)
		return
	}
	ctx, cancel, client, err := d.callCtx(r)
	if err != nil {
		answer(w, err)
		return
	}
	defer cancel()
	for _, mid := range it.MessengerIDs {
		var acc sdk.Accepted
		err = client.Do(ctx, http.MethodDelete, "/v1/connections/"+c.Connection+"/messages/"+url.PathEscape(mid)+"?chat_id="+url.QueryEscape(c.ChatID), nil, &acc, nil)
		if err != nil {
			d.inbox.refused(key, req, "delete refused: "+err.Error())
			break
		}
		d.inbox.sent(key, "delete", acc.ID, req, "", time.Now())
		req = acc.ID
	}
	answer(w, err)
}
