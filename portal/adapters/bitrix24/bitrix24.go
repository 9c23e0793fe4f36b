// Package bitrix24 delivers a portal's batches to Bitrix24 Open Lines as a
// custom connector of its REST imconnector.* API: the gateway registers
// itself as a connector, activates it on each line's Open Line, and posts
// every customer message, edit and deletion there; the agents' answers
// come back as Bitrix24 events (ServeHook) and leave as outbound requests.
package bitrix24

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/queue"
)

// Adapter settings keys (Portal.Adapter).
const (
	// SettingDomain is the Bitrix24 address, e.g. example.bitrix24.com.
	SettingDomain = "domain"
	// SettingEndpoint is the REST endpoint (Bitrix24's client_endpoint,
	// e.g. https://example.bitrix24.com/rest/); it overrides domain.
	SettingEndpoint     = "endpoint"
	SettingClientID     = "client_id"
	SettingClientSecret = "client_secret"
	SettingAccessToken  = "access_token"
	SettingRefreshToken = "refresh_token"
	// SettingExpires is when the access token runs out (Unix seconds).
	SettingExpires = "expires"
	// SettingApplicationToken authenticates Bitrix24's events
	// (auth[application_token]).
	SettingApplicationToken = "application_token"
	// SettingConnectorID is the connector's id in Bitrix24 (default
	// DefaultConnectorID): lower-case letters, digits and '_'.
	SettingConnectorID = "connector_id"
	// SettingOAuthURL is the authorization server (default DefaultOAuthURL).
	SettingOAuthURL = "oauth_url"
	// SettingLine is the Open Line of lines without their own;
	// SettingLinePrefix + gateway line id names a line's own Open Line.
	SettingLine       = "line"
	SettingLinePrefix = "line."
	// SettingInstallSecret, when set, enables the installation callback
	// POST /adapters/{portal}/install/{install_secret}, which stores the
	// tokens Bitrix24 posts when the application is installed.
	SettingInstallSecret = "install_secret"
)

// DefaultConnectorID is the connector id registered in Bitrix24 when the
// settings name none.
const DefaultConnectorID = "connector_gateway"

// Adapter is the portal.Deliverer of portals of kind bitrix24. Its
// methods are safe for concurrent use.
type Adapter struct {
	IDs *portal.AdapterIDs
	// Portals reads a portal's current settings and stores renewed tokens
	// and installations, compare-and-swap (portal.Records).
	Portals interface {
		GetPortal(ctx context.Context, id string) (portal.Portal, error)
		UpdatePortalAdapter(ctx context.Context, id string, change func(cur portal.Portal) (string, map[string]string, error)) error
	}
	// Outbound takes the agents' replies (ServeHook).
	Outbound *queue.Outbound
	// Wake tells the sender there is work (optional).
	Wake func()
	// PublicURL is where Bitrix24 reaches the gateway; events go to
	// PublicURL/adapters/{portal}/events.
	PublicURL string
	Client    *http.Client
	Now       func() time.Time
	// Logger hears what a webhook could not store (default slog.Default).
	Logger *slog.Logger

	// refreshMu serializes token renewals: a refresh token is spent by
	// its use, so two batches of one portal must not both spend it.
	refreshMu sync.Mutex
}

var (
	_ portal.Deliverer      = (*Adapter)(nil)
	_ portal.HookReceiver   = (*Adapter)(nil)
	_ portal.Tester         = (*Adapter)(nil)
	_ portal.SettingsTester = (*Adapter)(nil)
	_ portal.Describer      = (*Adapter)(nil)
)

func (a *Adapter) client() *http.Client {
	if a.Client != nil {
		return a.Client
	}
	return http.DefaultClient
}

func (a *Adapter) log() *slog.Logger {
	if a.Logger != nil {
		return a.Logger
	}
	return slog.Default()
}

func (a *Adapter) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// Settings lists the adapter's settings, in the order a form shows them.
func (a *Adapter) Settings() []portal.AdapterSetting {
	return []portal.AdapterSetting{
		{Key: SettingDomain, Label: "Bitrix24 address", Help: "Your Bitrix24, e.g. example.bitrix24.com.", Required: true},
		{Key: SettingEndpoint, Label: "REST endpoint", Help: "Only where it is not https://<address>/rest/ (the client_endpoint Bitrix24 gave the application)."},
		{Key: SettingClientID, Label: "Application ID (client_id)", Help: "From the local application's card in Bitrix24 (Developer resources → Other → Local application).", Required: true},
		{Key: SettingClientSecret, Label: "Application key (client_secret)", Help: "From the same card; used only with oauth.bitrix.info to renew tokens.", Required: true, Secret: true},
		{Key: SettingAccessToken, Label: "Access token", Help: "The application's access_token from its installation (stored by the installation callback where install_secret is set); renewed by the gateway when it expires.", Secret: true},
		{Key: SettingRefreshToken, Label: "Refresh token", Help: "The application's refresh_token (likewise); valid 180 days, renewed with every new access token.", Secret: true},
		{Key: SettingExpires, Label: "Access token expiry", Help: "Unix time the access token runs out (the expires of the installation); optional."},
		{Key: SettingApplicationToken, Label: "Application token", Help: "auth[application_token] of the application's events (likewise); the gateway refuses events without it.", Secret: true},
		{Key: SettingInstallSecret, Label: "Installation secret", Help: "A random string of yours: with it, give Bitrix24 <public_url>/adapters/<portal id>/install/<secret> as the application's initial installation path and the gateway stores the tokens itself.", Secret: true},
		{Key: SettingConnectorID, Label: "Connector ID", Help: "The connector's id in Bitrix24 (default " + DefaultConnectorID + "): lower-case letters, digits and _."},
		{Key: SettingLine, Label: "Open Line", Help: "The Open Line ID of lines without their own."},
		{Key: SettingLinePrefix + "<line id>", Label: "Open Line of a line", Help: "line.<gateway line id> = the Bitrix24 Open Line ID (LINE) that line's conversations go to."},
		{Key: SettingOAuthURL, Label: "Authorization server", Help: "Only for a private or test authorization server; default " + DefaultOAuthURL + "."},
	}
}

// Deliver posts each event of the batch that Bitrix24 does not have yet, in
// order, recording each success before the next call.
func (a *Adapter) Deliver(ctx context.Context, p portal.Portal, b portal.DeliveryBatch) error {
	s := a.session(p)
	if err := a.IDs.EachPending(ctx, p.ID, b, func(ev connectors.Event) error { return s.deliverEvent(ctx, b.LineID, ev) }); err != nil {
		return fmt.Errorf("bitrix24: %w", err)
	}
	return nil
}

// chatRef is where an Open Line chat's replies go (stored under
// "chat:<external chat id>").
type chatRef struct {
	Line       string `json:"line"`
	OpenLine   string `json:"open_line"`
	Connection string `json:"connection"`
	Chat       string `json:"chat"`
	User       string `json:"user,omitempty"`
}

// imRef is an agent's message in Bitrix24 that became an outbound request
// (stored under "request:<request id>"): what the status calls name.
type imRef struct {
	OpenLine  string `json:"open_line"`
	IMChat    string `json:"im_chat"`
	IMMessage string `json:"im_message"`
	// Chat is the external chat id Bitrix24 knows the chat by.
	Chat       string `json:"chat"`
	Connection string `json:"connection"`
	ChatID     string `json:"chat_id"`
	Op         string `json:"op"`
}

// externalChat is the chat id Bitrix24 gets: one gateway chat is one
// connection's chat, so the connection is part of it.
func externalChat(connection, chat string) string { return connection + ":" + chat }

func (s *session) skip(ctx context.Context, id string) error {
	return s.a.IDs.Put(ctx, s.portalID, map[string]string{"event:" + id: "skipped"})
}

func (s *session) deliverEvent(ctx context.Context, lineID string, ev connectors.Event) error {
	switch ev.Type {
	case connectors.TypeMessageCreated, connectors.TypeMessageUpdated, connectors.TypeMessageDeleted:
		if ev.Chat == nil || ev.Message == nil || ev.Message.ID == "" {
			return s.skip(ctx, ev.ID)
		}
		return s.message(ctx, lineID, ev)
	case connectors.TypeStatusDelivered, connectors.TypeStatusRead:
		return s.status(ctx, ev)
	}
	// Failures, connection and call events have no place in an Open
	// Line's chat; they are accepted and recorded as seen.
	return s.skip(ctx, ev.ID)
}

func (s *session) openLine(lineID string) (string, error) {
	if l := strings.TrimSpace(s.set[SettingLinePrefix+lineID]); l != "" {
		return l, nil
	}
	if l := strings.TrimSpace(s.set[SettingLine]); l != "" {
		return l, nil
	}
	return "", fmt.Errorf("no Open Line for line %s: set %q (or %q) to the Bitrix24 Open Line ID", lineID, SettingLinePrefix+lineID, SettingLine)
}

// ensureConnector registers the gateway as a connector and binds its
// events, once per connector id (remembered in AdapterIDs).
func (s *session) ensureConnector(ctx context.Context) error {
	cid := s.connectorID()
	key := "connector:" + cid
	// An installation clears the mark (""): Bitrix24 drops an
	// application's event bindings when it is reinstalled.
	if v, _, err := s.a.IDs.Get(ctx, s.portalID, key); err != nil || v != "" {
		return err
	}
	if s.a.PublicURL == "" {
		return fmt.Errorf("the gateway's public_url is not set: Bitrix24 needs it to send the agents' answers back")
	}
	base := strings.TrimRight(s.a.PublicURL, "/") + "/adapters/" + s.portalID + "/"
	var reg json.RawMessage
	err := s.call(ctx, "imconnector.register", map[string]any{
		"ID":                cid,
		"NAME":              "Connector gateway",
		"ICON":              map[string]any{"DATA_IMAGE": icon, "COLOR": "#2fc6f6", "SIZE": "90%", "POSITION": "center"},
		"PLACEMENT_HANDLER": base + "settings",
		"CHAT_GROUP":        false,
	}, &reg)
	if err != nil {
		return fmt.Errorf("register the connector: %w", err)
	}
	if ok, why := accepted(reg); !ok {
		return fmt.Errorf("register the connector: Bitrix24 answered %s", why)
	}
	for _, event := range []string{"OnImConnectorMessageAdd", "OnImConnectorMessageUpdate", "OnImConnectorMessageDelete"} {
		err := s.call(ctx, "event.bind", map[string]any{"event": event, "handler": base + "events"}, nil)
		var be *Error
		if errors.As(err, &be) && strings.Contains(strings.ToLower(be.Description), "already binded") {
			err = nil // bound by an earlier attempt
		}
		if err != nil {
			return fmt.Errorf("subscribe to %s: %w", event, err)
		}
	}
	return s.a.IDs.Put(ctx, s.portalID, map[string]string{key: "registered"})
}

// ensureActive switches the connector on for an Open Line, once.
func (s *session) ensureActive(ctx context.Context, openLine string) error {
	key := "active:" + s.connectorID() + ":" + openLine
	if v, _, err := s.a.IDs.Get(ctx, s.portalID, key); err != nil || v != "" {
		return err
	}
	var res json.RawMessage
	if err := s.call(ctx, "imconnector.activate", map[string]any{"CONNECTOR": s.connectorID(), "LINE": num(openLine), "ACTIVE": "1"}, &res); err != nil {
		return fmt.Errorf("activate the connector on Open Line %s: %w", openLine, err)
	}
	if ok, why := accepted(res); !ok {
		return fmt.Errorf("activate the connector on Open Line %s: Bitrix24 answered %s", openLine, why)
	}
	return s.a.IDs.Put(ctx, s.portalID, map[string]string{key: "1"})
}

// accepted reads a result that is true, or an object whose "result" is
// true (imconnector.register answers {"result":{"result":true}}; a refusal
// there carries error and error_description).
func accepted(raw json.RawMessage) (bool, string) {
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b, string(raw)
	}
	var o struct {
		Result      *bool  `json:"result"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(raw, &o) == nil && o.Result != nil {
		return *o.Result, strings.TrimSpace(o.Error + " " + o.Description)
	}
	return false, fmt.Sprintf("%.200s", raw)
}

// messagesResult is the result of imconnector.send/update/delete.messages.
type messagesResult struct {
	Success bool `json:"SUCCESS"`
	Data    struct {
		Result []struct {
			Success bool     `json:"SUCCESS"`
			Errors  []string `json:"ERRORS"`
			Session struct {
				ChatID string `json:"CHAT_ID"`
			} `json:"session"`
		} `json:"RESULT"`
	} `json:"DATA"`
	Errors []string `json:"ERRORS"`
}

func (r messagesResult) err() error {
	if len(r.Data.Result) > 0 && !r.Data.Result[0].Success {
		return fmt.Errorf("Bitrix24 did not take the message: %s", strings.Join(r.Data.Result[0].Errors, "; "))
	}
	if !r.Success {
		return fmt.Errorf("Bitrix24 did not take the message: %s", strings.Join(r.Errors, "; "))
	}
	return nil
}

func (s *session) message(ctx context.Context, lineID string, ev connectors.Event) error {
	openLine, err := s.openLine(lineID)
	if err != nil {
		return err
	}
	chat := externalChat(ev.Connection, ev.Chat.ID)
	msgKey := "msg:" + chat + ":" + ev.Message.ID
	ref := chatRef{Line: lineID, OpenLine: openLine, Connection: ev.Connection, Chat: ev.Chat.ID}
	stored, known, err := s.a.IDs.Get(ctx, s.portalID, "chat:"+chat)
	if err != nil {
		return err
	}
	if known {
		_ = json.Unmarshal([]byte(stored), &ref)
		ref.Line, ref.OpenLine = lineID, openLine
	}
	if ev.User != nil && ev.User.ID != "" {
		ref.User = ev.Connection + ":" + ev.User.ID
	}
	if ref.User == "" {
		ref.User = chat
	}
	back, _ := json.Marshal(ref)
	if ev.Type != connectors.TypeMessageCreated {
		// Bitrix24 can change only messages it has: an edit or a deletion
		// of one the gateway never posted is accepted and not shown.
		if _, ok, err := s.a.IDs.Get(ctx, s.portalID, msgKey); err != nil {
			return err
		} else if !ok {
			return s.skip(ctx, ev.ID)
		}
	}
	if err := s.ensureConnector(ctx); err != nil {
		return err
	}
	if err := s.ensureActive(ctx, openLine); err != nil {
		return err
	}
	if string(back) != stored {
		// The way back is stored before Bitrix24 has the chat, so an
		// agent's first answer always finds it.
		if err := s.a.IDs.Put(ctx, s.portalID, map[string]string{"chat:" + chat: string(back)}); err != nil {
			return err
		}
	}
	method := "imconnector.send.messages"
	var item map[string]any
	switch ev.Type {
	case connectors.TypeMessageCreated:
		item = s.item(ev, ref, chat)
	case connectors.TypeMessageUpdated:
		method = "imconnector.update.messages"
		item = s.item(ev, ref, chat)
	case connectors.TypeMessageDeleted:
		method = "imconnector.delete.messages"
		item = map[string]any{
			"user":    map[string]any{"id": ref.User},
			"message": map[string]any{"id": ev.Message.ID},
			"chat":    map[string]any{"id": chat},
		}
	}
	var res messagesResult
	if err := s.call(ctx, method, map[string]any{"CONNECTOR": s.connectorID(), "LINE": num(openLine), "MESSAGES": []any{item}}, &res); err != nil {
		return err
	}
	if err := res.err(); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	done := map[string]string{"event:" + ev.ID: method}
	if ev.Type == connectors.TypeMessageCreated {
		done[msgKey] = "1"
	}
	return s.a.IDs.Put(ctx, s.portalID, done)
}

// item is one element of MESSAGES for a customer's message.
func (s *session) item(ev connectors.Event, ref chatRef, chat string) map[string]any {
	user := map[string]any{"id": ref.User}
	name := "chat " + ev.Chat.ID
	if u := ev.User; u != nil {
		if u.Name != "" {
			user["name"] = u.Name
			name = u.Name
		} else if u.Username != "" {
			user["name"] = u.Username
			name = u.Username
		}
		if u.AvatarURL != "" {
			user["picture"] = map[string]any{"url": u.AvatarURL}
		}
		if u.Email != "" {
			user["email"] = u.Email
		}
	}
	if ev.Chat.Title != "" {
		name = ev.Chat.Title
	}
	channel := ev.Channel
	if channel == "" {
		channel = ev.Connector
	}
	if channel != "" {
		name += " (" + channel + ")"
	}
	when := ev.OccurredAt
	if when.IsZero() {
		when = s.a.now()
	}
	msg := map[string]any{"id": ev.Message.ID, "date": when.Unix()}
	text, files := content(ev.Message)
	if text != "" {
		msg["text"] = text
	}
	if len(files) > 0 {
		msg["files"] = files
	}
	return map[string]any{"user": user, "message": msg, "chat": map[string]any{"id": chat, "name": name}}
}

// content is a message's text and its files as links (Bitrix24 fetches
// them while the gateway's links last). Bitrix24 takes a message only with
// text or files, so a location or a file too large to fetch becomes text.
func content(m *connectors.Message) (string, []map[string]any) {
	var b strings.Builder
	b.WriteString(m.Text)
	var files []map[string]any
	for _, f := range m.Files {
		if f.URL == "" {
			fmt.Fprintf(&b, "\n[file too large to pass on: %s]", f.Name)
			continue
		}
		file := map[string]any{"url": f.URL}
		if f.Name != "" {
			file["name"] = f.Name
		}
		files = append(files, file)
	}
	if l := m.Location; l != nil {
		fmt.Fprintf(&b, "\nLocation: %s %s https://www.openstreetmap.org/?mlat=%g&mlon=%g", l.Title, l.Address, l.Latitude, l.Longitude)
	}
	text := strings.TrimSpace(b.String())
	if text == "" && len(files) == 0 {
		text = "(a message without text)"
	}
	return text, files
}

// status reports an agent's message delivered or read. The event names
// the request (status.request_id) the agent's reply became; a read may name
// only the messenger's message id, found through what the delivery stored.
func (s *session) status(ctx context.Context, ev connectors.Event) error {
	st := ev.Status
	if st == nil {
		return s.skip(ctx, ev.ID)
	}
	var ref imRef
	found := false
	if st.RequestID != "" {
		raw, ok, err := s.a.IDs.Get(ctx, s.portalID, "request:"+st.RequestID)
		if err != nil {
			return err
		}
		if ok {
			found = json.Unmarshal([]byte(raw), &ref) == nil
		}
	}
	if !found && ev.Chat != nil && len(st.MessengerMessageIDs) > 0 {
		raw, ok, err := s.a.IDs.Get(ctx, s.portalID, "sent:"+ev.Connection+":"+ev.Chat.ID+":"+st.MessengerMessageIDs[len(st.MessengerMessageIDs)-1])
		if err != nil {
			return err
		}
		if ok {
			found = json.Unmarshal([]byte(raw), &ref) == nil
		}
	}
	if !found || ref.Op == portal.OpDelete {
		// Not an agent's message from Bitrix24 (or a deletion, which has
		// no status there): nothing to report.
		return s.skip(ctx, ev.ID)
	}
	ids := st.MessengerMessageIDs
	if len(ids) == 0 {
		raw, _, err := s.a.IDs.Get(ctx, s.portalID, "mids:"+ref.IMMessage)
		if err != nil {
			return err
		}
		_ = json.Unmarshal([]byte(raw), &ids)
	}
	if len(ids) == 0 {
		return s.skip(ctx, ev.ID)
	}
	method := "imconnector.send.status.delivery"
	msg := map[string]any{"id": ids}
	if ev.Type == connectors.TypeStatusRead {
		method = "imconnector.send.status.reading"
	} else {
		when := ev.OccurredAt
		if when.IsZero() {
			when = s.a.now()
		}
		msg["date"] = when.Unix()
	}
	var res struct {
		Success bool `json:"SUCCESS"`
	}
	err := s.call(ctx, method, map[string]any{
		"CONNECTOR": s.connectorID(), "LINE": num(ref.OpenLine),
		"MESSAGES": []any{map[string]any{
			"im":      map[string]any{"chat_id": num(ref.IMChat), "message_id": num(ref.IMMessage)},
			"message": msg,
			"chat":    map[string]any{"id": ref.Chat},
		}},
	}, &res)
	if err != nil {
		return err
	}
	if !res.Success {
		return fmt.Errorf("%s: Bitrix24 answered SUCCESS false", method)
	}
	done := map[string]string{"event:" + ev.ID: method}
	if ev.Type == connectors.TypeStatusDelivered && ref.Op == portal.OpSend {
		back, _ := json.Marshal(ref)
		for _, id := range ids {
			done["sent:"+ref.Connection+":"+ref.ChatID+":"+id] = string(back)
		}
		raw, _ := json.Marshal(ids)
		done["mids:"+ref.IMMessage] = string(raw)
	}
	return s.a.IDs.Put(ctx, s.portalID, done)
}

// icon is the connector's icon in Bitrix24's contact centre: a speech
// bubble, as the SVG data URI imconnector.register takes.
const icon = "data:image/svg+xml,%3Csvg%20xmlns%3D%22http%3A%2F%2Fwww.w3.org%2F2000%2Fsvg%22%20viewBox%3D%220%200%2024%2024%22%3E%3Cpath%20fill%3D%22%23fff%22%20d%3D%22M4%204h16v12H8l-4%204z%22%2F%3E%3C%2Fsvg%3E"
