package rt

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/queue"
)

// SettingGatewayUser is the RT user the gateway posts as (default: user);
// its correspondence is never sent back to the messenger.
const SettingGatewayUser = "gateway_user"

// Replies reads staff correspondence from RT (every transaction of type
// Correspond after a durable cursor, one search per portal per round) and
// submits each as an outbound request, so it reaches the messenger through
// the sender with its retries. The idempotency key is RT's transaction id:
// a round repeated after a crash submits nothing twice.
type Replies struct {
	IDs     *portal.AdapterIDs
	Portals interface {
		ListPortals(context.Context) ([]portal.Portal, error)
	}
	Outbound *queue.Outbound
	// Wake tells the sender there is work (optional).
	Wake   func()
	Every  time.Duration
	Logger *slog.Logger
	rt     Adapter
}

// Run polls every Every until ctx ends.
func (r *Replies) Run(ctx context.Context) error {
	r.rt.IDs = r.IDs
	every := r.Every
	if every <= 0 {
		every = 5 * time.Second
	}
	log := r.Logger
	if log == nil {
		log = slog.Default()
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		ps, err := r.Portals.ListPortals(ctx)
		if err != nil && ctx.Err() == nil {
			log.Error("rt replies: list portals", slog.Any("err", err))
		}
		for _, p := range ps {
			if p.Kind == portal.KindRT && p.Status == "active" {
				// A hanging RT holds up only its own round.
				pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				err := r.PollOnce(pctx, p)
				cancel()
				if err != nil && ctx.Err() == nil {
					log.Warn("rt replies: poll", slog.String("portal", p.ID), slog.Any("err", err))
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// self is the RT user the gateway writes as: gateway_user, else the
// basic-auth user, else the owner of the token (its id is the token's
// second part, "1-<user id>-…"), looked up by name.
func (a *Adapter) self(ctx context.Context, p portal.Portal) (string, error) {
	if u := p.Adapter[SettingGatewayUser]; u != "" {
		return u, nil
	}
	if u := p.Adapter[SettingUser]; u != "" {
		return u, nil
	}
	parts := strings.SplitN(p.Adapter[SettingToken], "-", 3)
	if len(parts) != 3 {
		return "", fmt.Errorf("rt: set %s: the token's owner is unknown", SettingGatewayUser)
	}
	var u struct {
		Name string `json:"Name"`
	}
	if err := a.call(ctx, p, "GET", "/REST/2.0/user/"+url.PathEscape(parts[1]), nil, &u); err != nil {
		return "", fmt.Errorf("rt: the token's owner: %w", err)
	}
	return u.Name, nil
}

type ref struct {
	ID string `json:"id"`
}

// PollOnce submits the staff replies RT holds after the portal's cursor.
func (r *Replies) PollOnce(ctx context.Context, p portal.Portal) error {
	r.rt.IDs = r.IDs
	cursor, _, err := r.IDs.Get(ctx, p.ID, "cursor:transactions")
	if err != nil {
		return err
	}
	if cursor == "" {
		cursor = "0"
	}
	self, err := r.rt.self(ctx, p)
	if err != nil {
		return err
	}
	var page struct {
		Items []struct {
			ID       string `json:"id"`
			ObjectID string `json:"ObjectId"`
			Creator  ref    `json:"Creator"`
		} `json:"items"`
	}
	query := []map[string]string{
		{"field": "Type", "value": "Correspond"},
		{"field": "ObjectType", "value": "RT::Ticket"},
		{"field": "id", "operator": ">", "value": cursor},
	}
	if err := r.rt.call(ctx, p, "POST", "/REST/2.0/transactions?fields=Creator,ObjectId&orderby=id&order=ASC&per_page=100", query, &page); err != nil {
		return fmt.Errorf("rt: search transactions: %w", err)
	}
	for _, tx := range page.Items {
		if err := r.submit(ctx, p, self, tx.ID, tx.ObjectID, tx.Creator.ID); err != nil {
			return err
		}
		if err := r.IDs.Put(ctx, p.ID, map[string]string{"cursor:transactions": tx.ID}); err != nil {
			return err
		}
	}
	return nil
}

func (r *Replies) submit(ctx context.Context, p portal.Portal, self, txID, ticket, creator string) error {
	if creator == self {
		return nil
	}
	raw, ok, err := r.IDs.Get(ctx, p.ID, "ticket:"+ticket)
	if err != nil || !ok {
		return err // a ticket the gateway did not open: not a chat
	}
	var to chatRef
	if err := json.Unmarshal([]byte(raw), &to); err != nil {
		return fmt.Errorf("rt: chat of ticket %s: %w", ticket, err)
	}
	var atts struct {
		Items []struct {
			ContentType string `json:"ContentType"`
			Content     string `json:"Content"`
		} `json:"items"`
	}
	if err := r.rt.call(ctx, p, "GET", "/REST/2.0/transaction/"+txID+"/attachments?fields=ContentType,Content", nil, &atts); err != nil {
		return fmt.Errorf("rt: content of transaction %s: %w", txID, err)
	}
	var text string
	for _, a := range atts.Items {
		if strings.HasPrefix(a.ContentType, "text/plain") {
			text = a.Content
			if b, err := base64.StdEncoding.DecodeString(text); err == nil {
				text = string(b)
			}
			break
		}
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return nil
	}
	payload, _ := json.Marshal(connectors.Outbound{ChatID: to.Chat, Text: text})
	_, _, err = r.Outbound.Submit(ctx, queue.OutboundRequest{
		ID: portal.NewID("out"), PortalID: p.ID, LineID: to.Line, ConnectionID: to.Connection, ChatID: to.Chat,
		Op: portal.OpSend, Payload: payload, IdemKey: "rt-transaction-" + strconv.Quote(txID),
	})
	if err != nil {
		return fmt.Errorf("rt: submit reply of transaction %s: %w", txID, err)
	}
	if r.Wake != nil {
		r.Wake()
	}
	return nil
}
