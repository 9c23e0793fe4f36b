package demo

import (
	"errors"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/portal/sdk"
)

// keepEvents is how many received events the live event list keeps.
const keepEvents = 200

// inbox is what the demo portal stored: conversations and the events that
// arrived. It is the portal's own store (in memory).
type inbox struct {
	mu     sync.Mutex
	seen   map[string]bool // event ids: delivery is at-least-once
	convs  map[string]*Conversation
	events []Received
	// byRequest finds the conversation of an outbound request.
	byRequest map[string]string
}

// Conversation is one chat on one connection.
type Conversation struct {
	Key        string    `json:"key"`
	Connection string    `json:"connection"`
	Connector  string    `json:"connector"`
	ChatID     string    `json:"chat_id"`
	Title      string    `json:"title"`
	Updated    time.Time `json:"updated"`
	Items      []*Item   `json:"items"`
}

// Item is one message of a conversation: the customer's ("in") or the
// agent's ("out").
type Item struct {
	Dir       string    `json:"dir"`
	MessageID string    `json:"message_id,omitempty"`
	Text      string    `json:"text"`
	At        time.Time `json:"at"`
	Edited    bool      `json:"edited,omitempty"`
	Deleted   bool      `json:"deleted,omitempty"`
	// Outbound only: the request, its state ("pending", "delivered",
	// "failed"), the messenger's ids and the last error.
	RequestID    string   `json:"request_id,omitempty"`
	State        string   `json:"state,omitempty"`
	MessengerIDs []string `json:"messenger_ids,omitempty"`
	Error        string   `json:"error,omitempty"`
	// Pending edit or delete request ids (their status events settle them).
	EditText string `json:"edit_text,omitempty"`
}

// Received is one event as it arrived, for the live event list.
type Received struct {
	Batch      string    `json:"batch"`
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	Connector  string    `json:"connector"`
	Chat       string    `json:"chat,omitempty"`
	ReceivedAt time.Time `json:"received_at"`
}

func newInbox() *inbox {
	return &inbox{seen: map[string]bool{}, convs: map[string]*Conversation{}, byRequest: map[string]string{}}
}

// batches is the demo portal's webhook: verify with the portal's secret,
// store, acknowledge.
func (d *Demo) batches(w http.ResponseWriter, r *http.Request) {
	_, secret, _, _, _, _ := d.current()
	if secret == "" {
		http.Error(w, "demo portal not set up yet", http.StatusServiceUnavailable)
		return
	}
	b, err := sdk.ReadBatch(r, []string{secret}, 16<<20)
	if errors.Is(err, sdk.ErrTooLarge) {
		http.Error(w, "too large", http.StatusRequestEntityTooLarge)
		return
	}
	if err != nil {
		d.cfg.Logger.Warn("demo: batch refused", "err", err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	d.inbox.add(b, time.Now())
	w.WriteHeader(http.StatusNoContent)
}

func convKey(connection, chat string) string { return connection + "/" + chat }

func (in *inbox) add(b sdk.Batch, now time.Time) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, ev := range b.Events {
		if in.seen[ev.ID] {
			continue
		}
		in.seen[ev.ID] = true
		rec := Received{Batch: b.ID, ID: ev.ID, Type: ev.Type, Connector: ev.Connector, ReceivedAt: now}
		if ev.Chat != nil {
			rec.Chat = ev.Chat.ID
		}
		in.events = append(in.events, rec)
		if len(in.events) > keepEvents {
			in.events = in.events[len(in.events)-keepEvents:]
		}
		in.apply(ev, now)
	}
}

func (in *inbox) conv(ev connectors.Event) *Conversation {
	k := convKey(ev.Connection, ev.Chat.ID)
	c := in.convs[k]
	if c == nil {
		c = &Conversation{Key: k, Connection: ev.Connection, Connector: ev.Connector, ChatID: ev.Chat.ID}
		in.convs[k] = c
	}
	if ev.User != nil && ev.User.Name != "" {
		c.Title = ev.User.Name
	} else if ev.Chat.Title != "" {
		c.Title = ev.Chat.Title
	}
	if c.Title == "" {
		id := ev.Chat.ID
		if len(id) > 12 {
			id = id[:12] + "…"
		}
		c.Title = "Visitor " + id
	}
	return c
}

func (in *inbox) apply(ev connectors.Event, now time.Time) {
	switch ev.Type {
	case connectors.TypeMessageCreated, connectors.TypeMessageUpdated, connectors.TypeMessageDeleted:
		if ev.Chat == nil || ev.Message == nil {
			return
		}
		c := in.conv(ev)
		c.Updated = now
		if ev.Type == connectors.TypeMessageCreated {
			text := ev.Message.Text
			for _, f := range ev.Message.Files {
				text += "\n[file] " + f.Name
			}
			c.Items = append(c.Items, &Item{Dir: "in", MessageID: ev.Message.ID, Text: text, At: ev.OccurredAt})
			return
		}
		for _, it := range c.Items {
			if it.Dir == "in" && it.MessageID == ev.Message.ID {
				if ev.Type == connectors.TypeMessageUpdated {
					it.Text, it.Edited = ev.Message.Text, true
				} else {
					it.Deleted = true
				}
			}
		}
	case connectors.TypeStatusDelivered, connectors.TypeStatusFailed:
		if ev.Status == nil {
			return
		}
		c := in.convs[in.byRequest[ev.Status.RequestID]]
		if c == nil {
			return
		}
		c.Updated = now
		for _, it := range c.Items {
			if it.RequestID != ev.Status.RequestID {
				continue
			}
			failed := ev.Type == connectors.TypeStatusFailed
			switch ev.Status.Operation {
			case "send", "":
				it.State = "delivered"
				if failed {
					it.State, it.Error = "failed", ev.Status.Error
				}
				it.MessengerIDs = ev.Status.MessengerMessageIDs
			case "edit":
				if failed {
					it.Error = "edit failed: " + ev.Status.Error
				} else {
					it.Text, it.Edited, it.Error = it.EditText, true, ""
				}
				it.EditText = ""
			case "delete":
				if failed {
					it.Error = "delete failed: " + ev.Status.Error
				} else {
					it.Deleted, it.Error = true, ""
				}
			}
		}
	}
}

// sent records an outbound request the agent made; op is "send", "edit"
// or "delete"; for edits and deletes item is the message's request id.
func (in *inbox) sent(key, op, requestID, item, text string, now time.Time) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	c := in.convs[key]
	if c == nil {
		return false
	}
	in.byRequest[requestID] = key
	c.Updated = now
	if op == "send" {
		c.Items = append(c.Items, &Item{Dir: "out", Text: text, At: now, RequestID: requestID, State: "pending"})
		return true
	}
	for _, it := range c.Items {
		if it.RequestID == item {
			// The edit's status event names the edit's request: point
			// it at this item too.
			it.RequestID = requestID
			if op == "edit" {
				it.EditText = text
			}
			return true
		}
	}
	return false
}

// failed notes an API refusal on an outbound item (or the conversation).
func (in *inbox) refused(key, item, msg string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	c := in.convs[key]
	if c == nil {
		return
	}
	for _, it := range c.Items {
		if it.RequestID == item {
			it.Error = msg
		}
	}
}

// find returns a copy of an outbound item and its conversation's chat.
func (in *inbox) find(key, requestID string) (Item, Conversation, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	c := in.convs[key]
	if c == nil {
		return Item{}, Conversation{}, false
	}
	for _, it := range c.Items {
		if it.Dir == "out" && it.RequestID == requestID {
			return *it, Conversation{Key: c.Key, Connection: c.Connection, ChatID: c.ChatID, Connector: c.Connector}, true
		}
	}
	return Item{}, Conversation{}, false
}

func (in *inbox) conversation(key string) (Conversation, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	c := in.convs[key]
	if c == nil {
		return Conversation{}, false
	}
	return Conversation{Key: c.Key, Connection: c.Connection, ChatID: c.ChatID, Connector: c.Connector}, true
}

// snapshot is the inbox as JSON-ready copies, newest conversation first.
func (in *inbox) snapshot() ([]Conversation, []Received) {
	in.mu.Lock()
	defer in.mu.Unlock()
	convs := make([]Conversation, 0, len(in.convs))
	for _, c := range in.convs {
		cp := *c
		cp.Items = make([]*Item, len(c.Items))
		for i, it := range c.Items {
			x := *it
			cp.Items[i] = &x
		}
		convs = append(convs, cp)
	}
	sort.Slice(convs, func(i, j int) bool { return convs[i].Updated.After(convs[j].Updated) })
	events := make([]Received, len(in.events))
	for i := range in.events {
		events[i] = in.events[len(in.events)-1-i]
	}
	return convs, events
}
