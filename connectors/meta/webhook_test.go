package meta_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/meta"
	"github.com/connector-gateway/connector/connectors/meta/metatest"
)

func allThree() []receiver {
	o := meta.Options{}
	return []receiver{meta.NewWhatsApp(o), meta.NewMessenger(o), meta.NewInstagram(o)}
}

func TestHandshake(t *testing.T) {
	for _, cn := range allThree() {
		hs := cn.(connectors.Handshaker)
		c := conn(t, cn)
		get := func(q string) (connectors.Response, error) {
			v, _ := url.ParseQuery(q)
			return hs.Handshake(context.Background(), c, connectors.Request{Method: http.MethodGet, URL: entryURL + "?" + q, Query: v, Header: http.Header{}})
		}
		resp, err := get(metatest.Handshake(verify, "1158201444"))
		if err != nil || resp.Status != 200 || string(resp.Body) != "1158201444" || !strings.HasPrefix(resp.ContentType, "text/plain") {
			t.Fatalf("%s: right token: %+v %v", cn.Describe().Type, resp, err)
		}
		if _, err := get(metatest.Handshake("wrong", "1158201444")); !errors.Is(err, connectors.ErrUnauthorized) {
			t.Fatalf("%s: wrong token: %v", cn.Describe().Type, err)
		}
		if _, err := get(metatest.Handshake("", "1158201444")); !errors.Is(err, connectors.ErrUnauthorized) {
			t.Fatalf("%s: empty token: %v", cn.Describe().Type, err)
		}
		if _, err := get("hub.mode=unsubscribe&hub.verify_token=" + verify + "&hub.challenge=1"); !errors.Is(err, connectors.ErrMalformed) {
			t.Fatalf("%s: other mode: %v", cn.Describe().Type, err)
		}
	}
}

func TestSignature(t *testing.T) {
	bodies := map[string][]byte{
		meta.TypeWhatsApp:  metatest.WAMessages(wabaID, numberID, metatest.WAText("wamid.A1", "hi", at)),
		meta.TypeMessenger: metatest.MessagingWebhook("page", pageID, at, metatest.MText(metatest.CustomerPSID, pageID, "m_1", "hi", at)),
		meta.TypeInstagram: metatest.MessagingWebhook("instagram", accountID, at, metatest.MText(metatest.CustomerIGSID, accountID, "aWdfMQ", "hi", at)),
	}
	for _, cn := range allThree() {
		typ := cn.Describe().Type
		body := bodies[typ]
		c := conn(t, cn)
		ok, err := cn.Parse(context.Background(), c, post(body, appSecret))
		if err != nil || len(ok.Events) != 1 {
			t.Fatalf("%s: signed body: %d events, %v", typ, len(ok.Events), err)
		}
		refuse := func(name string, r connectors.Request) {
			t.Helper()
			in, err := cn.Parse(context.Background(), c, r)
			if !errors.Is(err, connectors.ErrUnauthorized) || len(in.Events) != 0 {
				t.Fatalf("%s: %s: %d events, %v", typ, name, len(in.Events), err)
			}
			if strings.Contains(err.Error(), appSecret) {
				t.Fatalf("%s: the error names the app secret: %v", typ, err)
			}
		}
		refuse("unsigned", post(body, ""))
		refuse("other secret", post(body, "ffffffffffffffffffffffffffffffff"))
		tampered := post(body, appSecret)
		tampered.Body = []byte(strings.Replace(string(body), "hi", "ho", 1))
		refuse("tampered body", tampered)
		sha1 := post(body, "")
		sha1.Header.Set("X-Hub-Signature", "sha1=0000")
		refuse("sha1 only", sha1)
		garbage := post(body, "")
		garbage.Header.Set(metatest.SignatureHeader, "sha256=zz")
		refuse("not hex", garbage)
		noSecret := c
		noSecret.Settings = connectors.Settings{}
		if _, err := cn.Parse(context.Background(), noSecret, post(body, appSecret)); !errors.Is(err, connectors.ErrUnauthorized) {
			t.Fatalf("%s: connection without app secret: %v", typ, err)
		}
	}
}

func TestParseMalformed(t *testing.T) {
	for _, cn := range allThree() {
		for _, body := range []string{`not json`, `{"object":"something_else","entry":[]}`, `{"object":"page","entry":"x"}`} {
			_, err := cn.Parse(context.Background(), conn(t, cn), post([]byte(body), appSecret))
			if !errors.Is(err, connectors.ErrMalformed) {
				t.Fatalf("%s: %s: %v", cn.Describe().Type, body, err)
			}
		}
	}
}
