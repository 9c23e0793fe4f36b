package xmpp

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/connector-gateway/connector/connectors"
)

// Test implements connectors.Connector: it logs in with the connection's
// settings, asks whether the server archives the account's messages, and
// finds the group chat service, and says what it found in plain words.
func (cn *Connector) Test(ctx context.Context, c connectors.Conn) (connectors.TestReport, error) {
	var r connectors.TestReport
	st, fe := parseSettings(c.Settings)
	if fe != nil {
		r.Checks = append(r.Checks, connectors.Check{Name: "Settings", Detail: fe.Error(), Fix: "Correct the fields named above."})
		return r, nil
	}
	sess, err := cn.dial(ctx, st)
	if err != nil {
		chk := connectors.Check{Name: "Log in as " + st.JID.String(), Detail: err.Error()}
		if errors.Is(err, errAuth) && st.Mode == ModeComponent {
			chk.Fix = "Check that component_secret matches the server's config for " + st.JID.String() + "."
		} else if errors.Is(err, errAuth) {
			chk.Fix = "Check the password; create the account on the server if it does not exist (prosodyctl adduser " + st.JID.String() + ")."
		} else {
			chk.Fix = "Check that " + st.Server + " is the server's client port (5222) and reachable from the gateway, and that it offers TLS."
		}
		r.Checks = append(r.Checks, chk)
		return r, nil
	}
	done := make(chan struct{})
	go func() { _ = sess.Serve(nil); close(done) }()
	defer func() { _ = sess.Close(); <-done; _ = sess.Conn().Close() }()
	r.Checks = append(r.Checks, connectors.Check{Name: "Log in as " + st.JID.String(), OK: true, Detail: "Logged in on " + st.Server + "."})
	if st.Mode == ModeComponent {
		r.Checks[0].Detail = "Connected as component " + st.JID.String() + " on " + st.Server + "."
		r.Checks = append(r.Checks, connectors.Check{Name: "Message archive", OK: true,
			Detail: "Components have no archive at the server: messages sent while the gateway is away are bounced to their senders, not kept."})
		r.OK = true
		return r, nil
	}

	info, err := discoInfo(ctx, sess, st.JID)
	archive := connectors.Check{Name: "Message archive", OK: err == nil && info.has(nsMAM)}
	if archive.OK {
		archive.Detail = "The server archives the account's messages, so nothing is lost while the gateway is offline."
	} else {
		archive.Detail = "The server keeps no archive (XEP-0313) for this account."
		archive.Fix = `Enable mod_mam on the server (Prosody: add "mam" to modules_enabled).`
	}
	r.Checks = append(r.Checks, archive)

	muc, err := findMUC(ctx, sess, st)
	chk := connectors.Check{Name: "Group chat service", OK: err == nil && muc != ""}
	switch {
	case chk.OK:
		chk.Detail = "Rooms are served by " + muc + "."
	case err != nil:
		chk.Detail, chk.Fix = "Could not ask the server: "+err.Error(), "Try again; if it persists, check the server's log."
	default:
		chk.Detail = "The server lists no group chat service."
		chk.Fix = `Add a MUC component (Prosody: Component "conference.` + st.JID.Domainpart() + `" "muc") or name one in the settings.`
	}
	r.Checks = append(r.Checks, chk)
	r.OK = r.Checks[0].OK && archive.OK // group chat is optional for 1:1 chats
	if st.Pool > 0 {
		pc := poolCheck(ctx, cn, st, sess)
		r.Checks = append(r.Checks, pc)
		r.OK = r.OK && pc.OK
	}
	if st.WebchatWS != "" {
		web := webchatCheck(ctx, st, c.EntryURL)
		r.Checks = append(r.Checks, web)
		r.OK = r.OK && web.OK && chk.OK
	}
	return r, nil
}

// webchatCheck asks the web chat's WebSocket endpoint over plain HTTP, as
// a browser's first request would reach it (Prosody's mod_websocket
// answers a GET without upgrade with a short page), and checks that the
// gateway has a public URL for the snippet.
func webchatCheck(ctx context.Context, st settings, entryURL string) connectors.Check {
	chk := connectors.Check{Name: "Web chat"}
	if entryURL == "" {
		chk.Detail = "The gateway has no public URL, so there is no snippet to paste."
		chk.Fix = "Set public_url in the gateway's configuration to the address browsers reach it at."
		return chk
	}
	u, _ := url.Parse(st.WebchatWS)
	if u.Scheme == "wss" {
		u.Scheme = "https"
	} else {
		u.Scheme = "http"
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err == nil {
		var resp *http.Response
		resp, err = http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode >= 500 || resp.StatusCode == http.StatusNotFound {
				err = fmt.Errorf("it answered %s", resp.Status)
			}
		}
	}
	if err != nil {
		chk.Detail = "The WebSocket endpoint " + st.WebchatWS + " did not answer: " + err.Error() + "."
		chk.Fix = `Enable WebSocket on the server (Prosody: add "websocket" to modules_enabled, and proxy /xmpp-websocket on your HTTPS host) and check the URL.`
		return chk
	}
	chk.OK = true
	chk.Detail = "Visitors log in anonymously on " + st.WebchatDomain + " through " + st.WebchatWS + "; the chat may be shown on " + st.WebchatOrigins + "."
	return chk
}

type discoResult struct {
	Identities []struct {
		Category string `xml:"category,attr"`
	} `xml:"identity"`
	Features []struct {
		Var string `xml:"var,attr"`
	} `xml:"feature"`
	Items []struct {
		JID string `xml:"jid,attr"`
	} `xml:"item"`
}

func (d discoResult) has(feature string) bool {
	for _, f := range d.Features {
		if f.Var == feature {
			return true
		}
	}
	return false
}

func (d discoResult) is(category string) bool {
	for _, i := range d.Identities {
		if i.Category == category {
			return true
		}
	}
	return false
}

func disco(ctx context.Context, s *xmpp.Session, to jid.JID, ns string) (discoResult, error) {
	// UnmarshalIQElement decodes the answer's payload, the <query/>.
	var res discoResult
	q := xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: ns, Local: "query"}})
	err := s.UnmarshalIQElement(ctx, q, stanza.IQ{Type: stanza.GetIQ, To: to}, &res)
	return res, err
}

func discoInfo(ctx context.Context, s *xmpp.Session, to jid.JID) (discoResult, error) {
	return disco(ctx, s, to, "http://jabber.org/protocol/disco#info")
}

// findMUC returns the configured group chat service if it answers as one,
// else the first of the server's items that does.
func findMUC(ctx context.Context, s *xmpp.Session, st settings) (string, error) {
	if st.MUC != "" {
		j, err := jid.Parse(st.MUC)
		if err != nil {
			return "", err
		}
		info, err := discoInfo(ctx, s, j)
		if err != nil {
			return "", fmt.Errorf("%s does not answer: %w", st.MUC, err)
		}
		if !info.is("conference") {
			return "", nil
		}
		return st.MUC, nil
	}
	items, err := disco(ctx, s, st.JID.Domain(), "http://jabber.org/protocol/disco#items")
	if err != nil {
		return "", err
	}
	for _, it := range items.Items {
		j, err := jid.Parse(it.JID)
		if err != nil {
			continue
		}
		if info, err := discoInfo(ctx, s, j); err == nil && info.is("conference") {
			return it.JID, nil
		}
	}
	return "", nil
}

// poolCheck writes and reads back a probe in the account's private
// storage (XEP-0049), where the pool keeps its state, then makes one room
// the way the pool makes its rooms (join, configure persistent, hidden,
// archived) and destroys it again, so a server that cannot keep the pool
// or a service that refuses the gateway rooms is found before a visitor
// waits.
func poolCheck(ctx context.Context, cn *Connector, st settings, sess *xmpp.Session) connectors.Check {
	chk := connectors.Check{Name: "Room pool"}
	p := &pool{cn: cn, st: st, sess: sess}
	if err := privateProbe(ctx, p); err != nil {
		chk.Detail = "The server keeps no private XML storage (XEP-0049) for " + st.JID.String() + ", where the pool keeps its rooms between restarts: " + err.Error() + "."
		chk.Fix = `Enable private storage on the server (Prosody: add "private" to modules_enabled), or set room_pool to 0.`
		return chk
	}
	room := "probe-" + randomID()[:16] + "@" + st.MUC
	err := p.join(ctx, room)
	if err == nil {
		rj, _ := jid.Parse(room)
		err = p.iq(ctx, stanza.SetIQ, rj, fmt.Sprintf(`<query xmlns=%q><destroy><reason>Connection test.</reason></destroy></query>`, nsMUCOwner), nil)
	}
	if err != nil {
		chk.Detail = "Could not make a room on " + st.MUC + ": " + err.Error() + "."
		chk.Fix = "Let " + st.JID.String() + " create rooms on " + st.MUC + " (Prosody: restrict_room_creation = false, or make the account an admin of the service)."
		return chk
	}
	chk.OK = true
	chk.Detail = fmt.Sprintf("The account's private storage keeps the pool's state, and a room could be made and removed on %s; the pool keeps %d ready.", st.MUC, st.Pool)
	return chk
}

// nsProbe is the connection test's element in private storage, apart from
// the pool's own (which a running poller may be writing).
const nsProbe = "urn:connector-gateway:xmpp:probe:0"

// privateProbe stores a random value in private storage and reads it back.
func privateProbe(ctx context.Context, p *pool) error {
	want := randomID()
	set := fmt.Sprintf(`<query xmlns=%q><probe xmlns=%q>%s</probe></query>`, nsPrivate, nsProbe, want)
	if err := p.iq(ctx, stanza.SetIQ, jid.JID{}, set, nil); err != nil {
		return fmt.Errorf("storing failed: %w", err)
	}
	var res struct {
		Probe string `xml:"urn:connector-gateway:xmpp:probe:0 probe"`
	}
	get := fmt.Sprintf(`<query xmlns=%q><probe xmlns=%q/></query>`, nsPrivate, nsProbe)
	if err := p.iq(ctx, stanza.GetIQ, jid.JID{}, get, &res); err != nil {
		return fmt.Errorf("reading failed: %w", err)
	}
	if strings.TrimSpace(res.Probe) != want {
		return errors.New("what was stored did not come back")
	}
	return nil
}
