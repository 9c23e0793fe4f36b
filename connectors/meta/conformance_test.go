package meta_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/connectortest"
	"github.com/connector-gateway/connector/connectors/meta"
	"github.com/connector-gateway/connector/connectors/meta/metatest"
)

// fakeMessenger reads the fake Graph API back for the suite.
type fakeMessenger struct {
	srv  *metatest.Server
	chat string
}

func (f fakeMessenger) Chat() string { return f.chat }

func (f fakeMessenger) Received(*testing.T) []connectortest.Op {
	var ops []connectortest.Op
	for _, s := range f.srv.Sent() {
		op := connectortest.Op{Kind: "send", ChatID: s.To, MessageID: s.ID, Text: s.Text}
		if s.Action == "typing_on" {
			op = connectortest.Op{Kind: "typing", ChatID: s.To}
		}
		ops = append(ops, op)
	}
	return ops
}

func signed(c connectors.Conn, body []byte) connectors.Request {
	return connectors.Request{Method: http.MethodPost, URL: c.EntryURL, Query: url.Values{}, Header: metatest.Header(c.Settings["app_secret"], body), Body: body}
}

func forged(body []byte) func(connectors.Conn) []connectortest.Sample {
	return func(c connectors.Conn) []connectortest.Sample {
		return []connectortest.Sample{
			{Name: "unsigned", Request: connectors.Request{Method: http.MethodPost, URL: c.EntryURL, Query: url.Values{}, Header: metatest.Header("", body), Body: body}},
			{Name: "other app secret", Request: connectors.Request{Method: http.MethodPost, URL: c.EntryURL, Query: url.Values{}, Header: metatest.Header("ffffffffffffffffffffffffffffffff", body), Body: body}},
		}
	}
}

func harness(typ string, settings connectors.Settings, caps []string, chat string, samples func() map[string][]byte, tokenKey string) connectortest.Harness {
	newConn := func(t *testing.T) (connectors.Connector, connectors.Conn, connectortest.Messenger) {
		srv := fake(t)
		var cn connectors.Connector
		switch typ {
		case meta.TypeWhatsApp:
			cn = meta.NewWhatsApp(opts(srv))
		case meta.TypeMessenger:
			cn = meta.NewMessenger(opts(srv))
		default:
			cn = meta.NewInstagram(opts(srv))
		}
		s := connectors.Settings{}
		for k, v := range settings {
			s[k] = v
		}
		norm, err := cn.ValidateSettings(s)
		if err != nil {
			t.Fatal(err)
		}
		return cn, connectors.Conn{ID: connID, PortalID: "portal_1", LineID: lineID, Hash: "h4sh", EntryURL: entryURL, Settings: norm, Files: &connectortest.Linker{}},
			fakeMessenger{srv: srv, chat: chat}
	}
	return connectortest.Harness{
		New:          newConn,
		Settings:     settings,
		Capabilities: caps,
		Samples: func(c connectors.Conn) []connectortest.Sample {
			var out []connectortest.Sample
			for name, body := range samples() {
				out = append(out, connectortest.Sample{Name: name, Request: signed(c, body)})
			}
			return out
		},
		Forged: func(c connectors.Conn) []connectortest.Sample { return forged(samples()["text"])(c) },
		Sign:   signed,
		BadCredentials: func(c connectors.Conn) connectors.Conn {
			return connectortest.WithSettings(c, tokenKey, "EAAGrevokedtoken00000000000000")
		},
	}
}

func TestConformanceWhatsApp(t *testing.T) {
	now := time.Now()
	connectortest.Run(t, harness(meta.TypeWhatsApp,
		connectors.Settings{"phone_number_id": numberID, "waba_id": wabaID, "access_token": waToken, "app_secret": appSecret, "verify_token": verify},
		[]string{"webhook", "handshake", "files", "identify", "read"}, metatest.CustomerWaID,
		func() map[string][]byte {
			return map[string][]byte{
				"text":     metatest.WAMessages(wabaID, numberID, metatest.WAText("wamid.C1", "hello", now)),
				"image":    metatest.WAMessages(wabaID, numberID, metatest.WAMedia("wamid.C2", "image", "1111", "image/jpeg", "look", "", now)),
				"location": metatest.WAMessages(wabaID, numberID, metatest.WALocation("wamid.C3", 52.5, 13.4, "HQ", "Berlin", now)),
				"button":   metatest.WAMessages(wabaID, numberID, metatest.WAButtonReply("wamid.C4", "yes", "Yes", now)),
				"statuses": metatest.WAStatuses(wabaID, numberID, metatest.WAStatus("wamid.OUT", "read", "req_1", now),
					metatest.WAFailed("wamid.OUT2", "req_2", 131047, "Re-engagement message", "more than 24 hours", now)),
			}
		}, "access_token"))
}

func TestConformanceMessenger(t *testing.T) {
	now := time.Now()
	connectortest.Run(t, harness(meta.TypeMessenger,
		connectors.Settings{"page_id": pageID, "page_access_token": pageToken, "app_secret": appSecret, "verify_token": verify},
		[]string{"webhook", "handshake", "typing", "identify", "read"}, metatest.CustomerPSID,
		func() map[string][]byte {
			return map[string][]byte{
				"text":     page(metatest.MText(psid, pageID, "m_C1", "hello", now)),
				"image":    page(metatest.MAttachment(psid, pageID, "m_C2", "image", "https://scontent.xx.fbcdn.net/x.jpg", now)),
				"edit":     page(metatest.MEdit(psid, pageID, "m_C1", "hello!", 1, now)),
				"postback": page(metatest.MPostback(psid, pageID, "m_C3", "Start", "GET_STARTED", now)),
				"delivery": page(metatest.MDelivery(psid, pageID, now, "m_OUT")),
				"read":     page(metatest.MRead(psid, pageID, now)),
			}
		}, "page_access_token"))
}

func TestConformanceInstagram(t *testing.T) {
	now := time.Now()
	igsid := metatest.CustomerIGSID
	connectortest.Run(t, harness(meta.TypeInstagram,
		connectors.Settings{"account_id": accountID, "access_token": igToken, "app_secret": appSecret, "verify_token": verify},
		[]string{"webhook", "handshake", "typing", "identify", "read"}, igsid,
		func() map[string][]byte {
			return map[string][]byte{
				"text":          ig(metatest.MText(igsid, accountID, "aWdC1", "hello", now)),
				"story reply":   ig(metatest.IGStoryReply(igsid, accountID, "aWdC2", "nice", "https://lookaside.fbsbx.com/s", now)),
				"story mention": ig(metatest.IGStoryMention(igsid, accountID, "aWdC3", "https://lookaside.fbsbx.com/m", now)),
				"unsend":        ig(metatest.IGUnsend(igsid, accountID, "aWdC1", now)),
				"read":          ig(metatest.IGRead(igsid, accountID, "aWdOUT", now)),
			}
		}, "access_token"))
}
