package bitrix24

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/queue"
)

// Bitrix24's event names, as its event handler receives them.
const (
	eventMessageAdd    = "ONIMCONNECTORMESSAGEADD"
	eventMessageUpdate = "ONIMCONNECTORMESSAGEUPDATE"
	eventMessageDelete = "ONIMCONNECTORMESSAGEDELETE"
)

// agentMessage is one element of data[MESSAGES] of an event.
type agentMessage struct {
	IMChat    string
	IMMessage string
	// Chat is the external chat id the gateway gave Bitrix24.
	Chat string
	Text string
	// IDs are the external message ids Bitrix24 names (update, delete).
	IDs   []string
	Files []connectors.OutFile
}

// ServeHook takes Bitrix24's events at POST /adapters/{portal}/events: an
// agent's answer, edit or deletion in an Open Line chat the gateway opened
// becomes an outbound request to that chat (idempotent on Bitrix24's
// message id, so a repeated event submits once), answered 200 only once
// stored. The event must carry the application's auth[application_token].
// POST /adapters/{portal}/settings is the page Bitrix24 shows for the
// connector's settings; POST /adapters/{portal}/install/{secret} the
// installation callback (install.go).
func (a *Adapter) ServeHook(w http.ResponseWriter, r *http.Request, p portal.Portal) {
	rest := r.PathValue("rest")
	if rest == "settings" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, settingsPage)
		return
	}
	if secret, ok := strings.CutPrefix(rest, "install/"); ok {
		a.install(w, r, p, secret)
		return
	}
	if err := r.ParseForm(); err != nil {
		if tooLarge(err) {
			http.Error(w, "bitrix24: the event is over the body limit", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "bitrix24: the event is not a readable form", http.StatusBadRequest)
		return
	}
	form := parseNested(r.PostForm)
	want := p.Adapter[SettingApplicationToken]
	got := form.get("auth", "application_token")
	if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		http.Error(w, "bitrix24: the event's application_token is not this portal's", http.StatusUnauthorized)
		return
	}
	event := strings.ToUpper(form.get("event"))
	if event == "" {
		http.Error(w, "bitrix24: the request names no event", http.StatusBadRequest)
		return
	}
	s := a.session(p)
	if event != eventMessageAdd && event != eventMessageUpdate && event != eventMessageDelete {
		writeOK(w) // an event the gateway has no use for
		return
	}
	if c := strings.ToLower(form.get("data", "CONNECTOR")); c != s.connectorID() {
		writeOK(w) // another connector of the same application
		return
	}
	var msgs []agentMessage
	for _, n := range form.child("data").child("MESSAGES").list() {
		m := agentMessage{
			IMChat:    n.get("im", "chat_id"),
			IMMessage: n.get("im", "message_id"),
			Chat:      n.get("chat", "id"),
			Text:      plainText(n.get("message", "text")),
		}
		if id := n.child("message").child("id"); id != nil {
			if id.val != "" {
				m.IDs = append(m.IDs, id.val)
			}
			for _, e := range id.list() {
				if e.val != "" {
					m.IDs = append(m.IDs, e.val)
				}
			}
		}
		for _, f := range n.child("message").child("files").list() {
			u := f.get("link")
			if u == "" {
				u = f.get("url")
			}
			if u != "" {
				m.Files = append(m.Files, connectors.OutFile{URL: u, Name: f.get("name")})
			}
		}
		if m.IMMessage == "" || m.Chat == "" {
			http.Error(w, "bitrix24: a message of the event has no im[message_id] or chat[id]", http.StatusBadRequest)
			return
		}
		msgs = append(msgs, m)
	}
	if len(msgs) == 0 {
		http.Error(w, "bitrix24: the event has no data[MESSAGES]", http.StatusBadRequest)
		return
	}
	line := form.get("data", "LINE")
	// Message ids are unique within one Bitrix24 account; the account's
	// member_id keeps a portal moved to another account from taking its
	// new messages for repeats of old ones.
	account := form.get("auth", "member_id")
	submitted := false
	for _, m := range msgs {
		did, err := a.take(r.Context(), p.ID, event, line, account, m)
		if err != nil {
			a.log().Error("bitrix24: store an agent's message", slog.String("portal", p.ID), slog.Any("err", err))
			http.Error(w, "bitrix24: could not store the message; try again", http.StatusServiceUnavailable)
			return
		}
		submitted = submitted || did
	}
	if submitted && a.Wake != nil {
		a.Wake()
	}
	writeOK(w)
}

func writeOK(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"result":true}`))
}

// take submits one agent message as an outbound request. The mapping the
// status events need is stored first, under a request id derived from
// Bitrix24's message id, so a delivery the sender reports at once finds
// it, and a repeated event lands on the same request.
func (a *Adapter) take(ctx context.Context, portalID, event, line, account string, m agentMessage) (bool, error) {
	raw, ok, err := a.IDs.Get(ctx, portalID, "chat:"+m.Chat)
	if err != nil {
		return false, err
	}
	if !ok {
		return false, nil // a chat the gateway did not open
	}
	var to chatRef
	if err := json.Unmarshal([]byte(raw), &to); err != nil {
		return false, fmt.Errorf("bitrix24: chat %s: %w", m.Chat, err)
	}
	openLine := to.OpenLine
	if line != "" {
		openLine = line
	}
	ref := imRef{OpenLine: openLine, IMChat: m.IMChat, IMMessage: m.IMMessage, Chat: m.Chat, Connection: to.Connection, ChatID: to.Chat}
	type request struct {
		op, idem string
		payload  any
	}
	var reqs []request
	idem := "bitrix24-"
	if account != "" {
		idem += account + "-"
	}
	switch event {
	case eventMessageAdd:
		if m.Text == "" && len(m.Files) == 0 {
			return false, nil
		}
		reqs = append(reqs, request{portal.OpSend, idem + "message-" + m.IMMessage, connectors.Outbound{ChatID: to.Chat, Text: m.Text, Files: m.Files}})
	case eventMessageUpdate, eventMessageDelete:
		mids, err := a.messengerIDs(ctx, portalID, m)
		if err != nil || len(mids) == 0 {
			return false, err // nothing the messenger has to change
		}
		if event == eventMessageUpdate {
			if m.Text == "" {
				return false, nil // an edit to nothing: messengers keep a text
			}
			sum := sha256.Sum256([]byte(m.Text))
			reqs = append(reqs, request{portal.OpEdit, idem + "edit-" + m.IMMessage + "-" + hex.EncodeToString(sum[:8]), connectors.Edit{ChatID: to.Chat, MessageID: mids[0], Text: m.Text}})
		} else {
			for _, mid := range mids {
				reqs = append(reqs, request{portal.OpDelete, idem + "delete-" + m.IMMessage + "-" + mid, connectors.Delete{ChatID: to.Chat, MessageID: mid}})
			}
		}
	}
	for _, rq := range reqs {
		id := requestID(portalID, rq.idem)
		ref.Op = rq.op
		back, _ := json.Marshal(ref)
		if err := a.IDs.Put(ctx, portalID, map[string]string{"request:" + id: string(back)}); err != nil {
			return false, err
		}
		payload, err := json.Marshal(rq.payload)
		if err != nil {
			return false, err
		}
		if _, _, err := a.Outbound.Submit(ctx, queue.OutboundRequest{
			ID: id, PortalID: portalID, LineID: to.Line, ConnectionID: to.Connection, ChatID: to.Chat,
			Op: rq.op, Payload: payload, IdemKey: rq.idem,
		}); err != nil {
			return false, fmt.Errorf("bitrix24: submit the agent's message %s: %w", m.IMMessage, err)
		}
	}
	return len(reqs) > 0, nil
}

// messengerIDs are the messenger's ids of an agent's earlier message: those
// its delivery reported, else the external ids the event names (the ones
// the gateway gave Bitrix24 with the delivery status).
func (a *Adapter) messengerIDs(ctx context.Context, portalID string, m agentMessage) ([]string, error) {
	raw, ok, err := a.IDs.Get(ctx, portalID, "mids:"+m.IMMessage)
	if err != nil {
		return nil, err
	}
	if ok {
		var ids []string
		if json.Unmarshal([]byte(raw), &ids) == nil && len(ids) > 0 {
			return ids, nil
		}
	}
	return m.IDs, nil
}

var reqIDEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// requestID is the outbound request id of one of Bitrix24's messages: the
// same event always names the same request.
func requestID(portalID, idem string) string {
	sum := sha256.Sum256([]byte("bitrix24\x00" + portalID + "\x00" + idem))
	return "out_" + strings.ToLower(reqIDEncoding.EncodeToString(sum[:10]))
}

var (
	bbURL  = regexp.MustCompile(`(?i)\[url=([^\]]+)\](.*?)\[/url\]`)
	bbTags = regexp.MustCompile(`(?i)\[/?(b|i|u|s|url|quote|code|color(=[^\]]*)?|size(=[^\]]*)?|user(=[^\]]*)?)\]`)
)

// plainText turns an Open Line message's BB codes into the plain text the
// messengers get: [br] is a new line, links keep their address, other
// markup goes.
func plainText(s string) string {
	s = strings.NewReplacer("[br]", "\n", "[BR]", "\n", "[br/]", "\n").Replace(s)
	s = bbURL.ReplaceAllString(s, "$2 ($1)")
	s = bbTags.ReplaceAllString(s, "")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

const settingsPage = `<!doctype html><meta charset="utf-8"><title>Connector gateway</title>
<p>This Open Lines connector is managed by the connector gateway: its settings are the portal's adapter settings there.</p>`

// node is a form decoded by its nested keys: data[MESSAGES][0][im][chat_id]
// is the path data → MESSAGES → 0 → im → chat_id.
type node struct {
	val  string
	kids map[string]*node
}

// parseNested decodes PHP-style nested form keys; a key with an unclosed
// bracket is kept whole.
func parseNested(vals map[string][]string) *node {
	root := &node{}
	for k, vs := range vals {
		if len(vs) == 0 {
			continue
		}
		path, ok := splitKey(k)
		if !ok || len(path) > 10 {
			continue
		}
		n := root
		for _, p := range path {
			if p == "" {
				p = fmt.Sprint(len(n.kids))
			}
			if n.kids == nil {
				n.kids = map[string]*node{}
			}
			c := n.kids[p]
			if c == nil {
				c = &node{}
				n.kids[p] = c
			}
			n = c
		}
		n.val = vs[0]
	}
	return root
}

func splitKey(k string) ([]string, bool) {
	i := strings.IndexByte(k, '[')
	if i < 0 {
		return []string{k}, true
	}
	path := []string{k[:i]}
	rest := k[i:]
	for rest != "" {
		if rest[0] != '[' {
			return nil, false
		}
		j := strings.IndexByte(rest, ']')
		if j < 0 {
			return nil, false
		}
		path = append(path, rest[1:j])
		rest = rest[j+1:]
	}
	return path, true
}

func (n *node) child(k string) *node {
	if n == nil {
		return nil
	}
	return n.kids[k]
}

func (n *node) get(path ...string) string {
	for _, p := range path {
		n = n.child(p)
	}
	if n == nil {
		return ""
	}
	return n.val
}

// list returns the entries of a list node (keys 0, 1, …) in index order.
func (n *node) list() []*node {
	if n == nil {
		return nil
	}
	var out []*node
	for i := 0; i < len(n.kids); i++ {
		c, ok := n.kids[fmt.Sprint(i)]
		if !ok {
			break
		}
		out = append(out, c)
	}
	return out
}

// tooLarge tells a body cut by the gateway's body limit (http.MaxBytesReader)
// from one that is merely malformed.
func tooLarge(err error) bool {
	var mb *http.MaxBytesError
	return errors.As(err, &mb)
}
