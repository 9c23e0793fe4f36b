package meta_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/meta"
	"github.com/connector-gateway/connector/connectors/meta/metatest"
)

const (
	waToken    = "EAAGfakeWhatsAppSystemUserToken0123456789abcdef"
	pageToken  = "EAAGfakeMessengerPageToken0123456789abcdefghij"
	igToken    = "IGQfakeInstagramToken0123456789abcdefghijklmn"
	appSecret  = "0123456789abcdef0123456789abcdef"
	verify     = "verify-me_42"
	numberID   = "106540352242922"
	wabaID     = "102290129340398"
	pageID     = "112233445566778"
	accountID  = "17841400000000001"
	entryURL   = "https://gw.example.com/hook/h4sh"
	connID     = "conn_1"
	lineID     = "line_7"
	mediaToken = waToken
)

// conn is a connection of the given type with normalized settings for the
// fake's ids and tokens, and a readable file linker.
func conn(t testing.TB, cn connectors.Connector) connectors.Conn {
	t.Helper()
	var s connectors.Settings
	switch cn.Describe().Type {
	case meta.TypeWhatsApp:
		s = connectors.Settings{"phone_number_id": numberID, "waba_id": wabaID, "access_token": waToken}
	case meta.TypeMessenger:
		s = connectors.Settings{"page_id": pageID, "page_access_token": pageToken}
	case meta.TypeInstagram:
		s = connectors.Settings{"account_id": accountID, "access_token": igToken}
	}
	s["app_secret"], s["verify_token"] = appSecret, verify
	norm, err := cn.ValidateSettings(s)
	if err != nil {
		t.Fatalf("ValidateSettings: %v", err)
	}
	return connectors.Conn{ID: connID, PortalID: "portal_1", LineID: lineID, Hash: "h4sh", EntryURL: entryURL, Settings: norm, Files: linker{}}
}

// fake starts a fake Graph API knowing the test number, page and account.
func fake(t testing.TB) *metatest.Server {
	srv := metatest.New(t)
	srv.AddNumber(numberID, waToken, "15550001111", wabaID)
	srv.AddPage(pageID, pageToken, "Acme Support")
	srv.AddAccount(accountID, igToken, "acme")
	return srv
}

func opts(srv *metatest.Server) meta.Options {
	return meta.Options{APIURL: srv.URL(), Version: "v21.0"}
}

// linker makes readable test links: https://gw.example.com/files/<ref>?name=..&mime=..
type linker struct{}

func (linker) FileURL(ref, name, mime string) string {
	return "https://gw.example.com/files/" + url.PathEscape(ref) + "?" + url.Values{"name": {name}, "mime": {mime}}.Encode()
}

// post is a webhook POST as Meta sends it, signed with secret ("" unsigned).
func post(body []byte, secret string) connectors.Request {
	return connectors.Request{Method: http.MethodPost, URL: entryURL, Query: url.Values{}, Header: metatest.Header(secret, body), Body: body}
}

// receiver is a connector that parses webhooks.
type receiver interface {
	connectors.Connector
	connectors.WebhookReceiver
}

// parse signs body with the app secret and parses it, failing on error.
func parse(t testing.TB, cn receiver, body []byte) []connectors.Keyed {
	t.Helper()
	in, err := cn.Parse(context.Background(), conn(t, cn), post(body, appSecret))
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, body)
	}
	return in.Events
}

// one parses body and wants exactly one event.
func one(t testing.TB, cn receiver, body []byte) connectors.Keyed {
	t.Helper()
	evs := parse(t, cn, body)
	if len(evs) != 1 {
		t.Fatalf("got %d events, want 1: %+v", len(evs), evs)
	}
	return evs[0]
}

var at = time.Date(2026, 11, 30, 9, 15, 0, 0, time.UTC)
