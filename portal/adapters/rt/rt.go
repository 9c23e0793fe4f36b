// Package rt delivers a portal's batches to Request Tracker 5 through its
// REST2 API: a ticket per conversation (in the RT queue configured for the
// line), each customer message as correspondence, files as links.
package rt

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/portal"
)

// Adapter settings keys (Portal.Adapter).
const (
	SettingURL      = "url"      // RT's base URL, e.g. https://rt.example.com
	SettingToken    = "token"    // a REST2 auth token ("Authorization: token …")
	SettingUser     = "user"     // basic auth instead of a token: user…
	SettingPassword = "password" // …and password
	SettingQueue    = "queue"    // the RT queue of lines without their own
	// SettingQueuePrefix + line id names a line's own RT queue.
	SettingQueuePrefix = "queue."
)

// Adapter is the portal.Deliverer of portals of kind rt.
type Adapter struct {
	IDs    *portal.AdapterIDs
	Client *http.Client
}

var _ portal.Deliverer = (*Adapter)(nil)

// Deliver posts each event of the batch that RT does not have yet, in
// order, recording each success before the next call.
func (a *Adapter) Deliver(ctx context.Context, p portal.Portal, b portal.DeliveryBatch) error {
	err := a.IDs.EachPending(ctx, p.ID, b, func(ev connectors.Event) error { return a.deliverEvent(ctx, p, b.LineID, ev) })
	if err != nil {
		return fmt.Errorf("rt: %w", err)
	}
	return nil
}

func (a *Adapter) deliverEvent(ctx context.Context, p portal.Portal, lineID string, ev connectors.Event) error {
	text := content(ev)
	if text == "" || ev.Chat == nil {
		// Statuses and connection events have no place in a ticket's
		// correspondence; they are accepted and recorded as seen.
		return a.IDs.Put(ctx, p.ID, map[string]string{"event:" + ev.ID: "skipped"})
	}
	chatKey := "chat:" + ev.Connection + ":" + ev.Chat.ID
	ticket, ok, err := a.IDs.Get(ctx, p.ID, chatKey)
	if err != nil {
		return err
	}
	if !ok {
		queue := p.Adapter[SettingQueuePrefix+lineID]
		if queue == "" {
			queue = p.Adapter[SettingQueue]
		}
		var created struct {
			ID string `json:"id"`
		}
		subject := "Chat with " + who(ev) + " (" + ev.Channel + ")"
		if err := a.call(ctx, p, "POST", "/REST/2.0/ticket", map[string]any{
			"Queue": queue, "Subject": subject, "Content": text, "ContentType": "text/plain",
		}, &created); err != nil {
			return fmt.Errorf("rt: create ticket: %w", err)
		}
		back, _ := json.Marshal(chatRef{Line: lineID, Connection: ev.Connection, Chat: ev.Chat.ID})
		return a.IDs.Put(ctx, p.ID, map[string]string{chatKey: created.ID, "ticket:" + created.ID: string(back), "event:" + ev.ID: "ticket:" + created.ID})
	}
	if err := a.call(ctx, p, "POST", "/REST/2.0/ticket/"+ticket+"/correspond", map[string]any{
		"Content": text, "ContentType": "text/plain",
	}, nil); err != nil {
		return fmt.Errorf("rt: correspond on ticket %s: %w", ticket, err)
	}
	return a.IDs.Put(ctx, p.ID, map[string]string{"event:" + ev.ID: "ticket:" + ticket})
}

// chatRef is where a ticket's replies go (stored under "ticket:<id>").
type chatRef struct {
	Line       string `json:"line"`
	Connection string `json:"connection"`
	Chat       string `json:"chat"`
}

func who(ev connectors.Event) string {
	if ev.User != nil && ev.User.Name != "" {
		return ev.User.Name
	}
	return "chat " + ev.Chat.ID
}

// content is the correspondence an event becomes: its text, then its
// files as links (RT keeps no copy; the gateway's links expire).
func content(ev connectors.Event) string {
	if ev.Message == nil || (ev.Type != connectors.TypeMessageCreated && ev.Type != connectors.TypeMessageUpdated) {
		return ""
	}
	var b strings.Builder
	if ev.Type == connectors.TypeMessageUpdated {
		b.WriteString("(edited) ")
	}
	b.WriteString(ev.Message.Text)
	for _, f := range ev.Message.Files {
		fmt.Fprintf(&b, "\n[file] %s %s", f.Name, f.URL)
	}
	return strings.TrimSpace(b.String())
}

func (a *Adapter) call(ctx context.Context, p portal.Portal, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(p.Adapter[SettingURL], "/")+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if tok := p.Adapter[SettingToken]; tok != "" {
		req.Header.Set("Authorization", "token "+tok)
	} else {
		req.SetBasicAuth(p.Adapter[SettingUser], p.Adapter[SettingPassword])
	}
	c := a.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &statusError{Code: resp.StatusCode, Body: fmt.Sprintf("%.200s", bytes.TrimSpace(data))}
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// statusError is a non-2xx answer of RT.
type statusError struct {
	Code int
	Body string
}

func (e *statusError) Error() string { return fmt.Sprintf("RT answered %d: %s", e.Code, e.Body) }
