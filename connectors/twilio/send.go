package twilio

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/connector-gateway/connector/connectors"
)

// maxBodyRunes is the longest Body Twilio's Messages API takes.
const maxBodyRunes = 1600

// maxMediaPerMessage is how many MediaUrl one message may carry: ten on
// MMS, one on WhatsApp.
func maxMediaPerMessage(whatsapp bool) int {
	if whatsapp {
		return 1
	}
	return 10
}

// message is one Messages API request of an outbound message.
type message struct {
	body  string
	media []string
}

// plan cuts m into the messages Twilio gets, in order: the text in pieces
// of at most 1600 characters, then the files (ten to a message on SMS, one
// on WhatsApp); a text that fits one piece rides on the first files'
// message. The plan depends only on m, so a retry that skips m.SentParts
// messages continues where the earlier attempt stopped.
func plan(m connectors.Outbound, whatsapp bool) ([]message, error) {
	hasText := strings.TrimSpace(m.Text) != ""
	if !hasText && len(m.Files) == 0 {
		return nil, permanent("send: nothing to send: the text is empty and there are no files")
	}
	for i, f := range m.Files {
		u, err := url.Parse(f.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, permanent("send: file %d: %q is not an absolute http(s) URL Twilio could fetch", i+1, f.URL)
		}
	}
	var texts []string
	if hasText {
		texts = split(m.Text, maxBodyRunes)
	}
	var out []message
	if len(m.Files) == 0 || len(texts) > 1 {
		for _, t := range texts {
			out = append(out, message{body: t})
		}
		texts = nil
	}
	per := maxMediaPerMessage(whatsapp)
	for i := 0; i < len(m.Files); i += per {
		msg := message{}
		for _, f := range m.Files[i:min(i+per, len(m.Files))] {
			msg.media = append(msg.media, f.URL)
		}
		if i == 0 && len(texts) == 1 {
			msg.body = texts[0]
		}
		out = append(out, msg)
	}
	return out, nil
}

// split cuts s into pieces of at most n runes, at a line break or space
// in the last fifth of a piece where there is one.
func split(s string, n int) []string {
	var out []string
	for utf8.RuneCountInString(s) > n {
		cut := 0
		for range n {
			_, size := utf8.DecodeRuneInString(s[cut:])
			cut += size
		}
		if j := strings.LastIndexAny(s[:cut], "\n "); j > cut*4/5 {
			cut = j + 1
		}
		out = append(out, s[:cut])
		s = s[cut:]
	}
	if s != "" {
		out = append(out, s)
	}
	return out
}

// Send delivers m to m.ChatID, the customer's address as events name it
// ("+14155550100" for SMS, "whatsapp:+14155550100" for WhatsApp), as the
// messages plan makes of it, skipping the m.SentParts an earlier attempt
// sent. Replies go through the Messaging Service when one is set, else
// from the connection's number (or WhatsApp sender). Each message asks for
// status callbacks at the entry URL, naming m.RequestID, so delivered,
// read and failed statuses come back for the portal's request. Twilio has
// no replies to a particular message: m.ReplyTo is not sent.
func (cn *Connector) Send(ctx context.Context, c connectors.Conn, m connectors.Outbound) (connectors.Delivery, error) {
	s := c.Settings
	to := m.ChatID
	whatsapp := strings.HasPrefix(to, "whatsapp:")
	if !e164Shape.MatchString(strings.TrimPrefix(to, "whatsapp:")) {
		return connectors.Delivery{}, permanent("send: chat id %q is not a phone number (+E.164) or whatsapp:+E.164 address", to)
	}
	from := s[SettingPhoneNumber]
	if whatsapp {
		from = ""
		if wa := s[SettingWhatsAppNumber]; wa != "" {
			from = "whatsapp:" + wa
		}
	}
	if from == "" && s[SettingMessagingService] == "" {
		kind := "phone number"
		if whatsapp {
			kind = "WhatsApp sender"
		}
		return connectors.Delivery{}, permanent("send: the connection has no %s to send from", kind)
	}
	parts, err := plan(m, whatsapp)
	if err != nil {
		return connectors.Delivery{}, err
	}
	var d connectors.Delivery
	for i := max(m.SentParts, 0); i < len(parts); i++ {
		form := url.Values{"To": {to}}
		if svc := s[SettingMessagingService]; svc != "" {
			form.Set("MessagingServiceSid", svc)
		} else {
			form.Set("From", from)
		}
		if parts[i].body != "" {
			form.Set("Body", parts[i].body)
		}
		for _, u := range parts[i].media {
			form.Add("MediaUrl", u)
		}
		if c.EntryURL != "" && m.RequestID != "" {
			form.Set("StatusCallback", hookURL(c, kindStatus, requestParam, m.RequestID))
		}
		sid, err := cn.createMessage(ctx, c, form)
		if err != nil {
			return d, err
		}
		d.MessageIDs = append(d.MessageIDs, sid)
	}
	return d, nil
}

// createMessage posts one message to the Messages API and returns its SID.
func (cn *Connector) createMessage(ctx context.Context, c connectors.Conn, form url.Values) (string, error) {
	resp, err := cn.do(ctx, c, http.MethodPost, "/Messages.json", form)
	if err != nil {
		return "", transportError(ctx, "send", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return "", classify("send", resp)
	}
	var msg struct {
		SID string `json:"sid"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&msg); err != nil || msg.SID == "" {
		return "", fmt.Errorf("twilio: send: Twilio accepted the message but gave no message SID")
	}
	return msg.SID, nil
}

// do makes a REST request below the connection's account
// ({api}/2010-04-01/Accounts/{sid}{path}) with its credentials: the API
// key when one is set, else the Account SID and Auth Token, always in the
// Authorization header (never in a URL).
func (cn *Connector) do(ctx context.Context, c connectors.Conn, method, path string, form url.Values) (*http.Response, error) {
	return cn.doClient(ctx, cn.client, c, method, cn.accountURL(c)+path, form)
}

func (cn *Connector) accountURL(c connectors.Conn) string {
	return cn.apiURL + "/2010-04-01/Accounts/" + url.PathEscape(c.Settings[SettingAccountSID])
}

func (cn *Connector) doClient(ctx context.Context, client *http.Client, c connectors.Conn, method, u string, form url.Values) (*http.Response, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept", "application/json")
	user, pass := c.Settings[SettingAccountSID], c.Settings[SettingAuthToken]
	if k := c.Settings[SettingAPIKeySID]; k != "" {
		user, pass = k, c.Settings[SettingAPIKeySecret]
	}
	req.SetBasicAuth(user, pass)
	return client.Do(req)
}
