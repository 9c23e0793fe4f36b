package meta_test

import (
	"context"
	"strings"
	"testing"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/meta"
)

func TestConnectionTest(t *testing.T) {
	srv := fake(t)
	for _, cn := range []connectors.Connector{meta.NewWhatsApp(opts(srv)), meta.NewMessenger(opts(srv)), meta.NewInstagram(opts(srv))} {
		typ := cn.Describe().Type
		c := conn(t, cn)
		rep, err := cn.Test(context.Background(), c)
		if err != nil || !rep.OK {
			t.Fatalf("%s: %+v %v", typ, rep, err)
		}
		last := rep.Checks[len(rep.Checks)-1]
		if !strings.Contains(last.Detail, entryURL) || !strings.Contains(last.Detail, verify) || !strings.Contains(last.Detail, "messages") {
			t.Fatalf("%s: webhook check %+v", typ, last)
		}

		bad := c
		bad.Settings = connectors.Settings{}
		for k, v := range c.Settings {
			bad.Settings[k] = v
		}
		for _, k := range []string{"access_token", "page_access_token"} {
			if _, ok := bad.Settings[k]; ok {
				bad.Settings[k] = "EAAGrevokedtoken00000000000000"
			}
		}
		rep, err = cn.Test(context.Background(), bad)
		if err != nil || rep.OK || rep.Checks[0].OK || rep.Checks[0].Fix == "" {
			t.Fatalf("%s: wrong token: %+v %v", typ, rep, err)
		}
		for _, ch := range rep.Checks {
			if strings.Contains(ch.Detail+ch.Fix, "EAAGrevoked") || strings.Contains(ch.Detail+ch.Fix, appSecret) {
				t.Fatalf("%s: a secret in the report: %+v", typ, ch)
			}
		}
		noURL := c
		noURL.EntryURL = ""
		if rep, _ := cn.Test(context.Background(), noURL); rep.OK {
			t.Fatalf("%s: OK without a public URL", typ)
		}
		if err := cn.Activate(context.Background(), noURL); err == nil {
			t.Fatalf("%s: activated without a public URL", typ)
		}
		for i := 0; i < 2; i++ {
			if err := cn.Activate(context.Background(), c); err != nil {
				t.Fatal(err)
			}
			if err := cn.Deactivate(context.Background(), c); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A WABA id the number is not part of.
	wa := meta.NewWhatsApp(opts(srv))
	c := conn(t, wa)
	c.Settings["waba_id"] = "5555"
	if rep, _ := wa.Test(context.Background(), c); rep.OK {
		t.Fatalf("OK with a wrong WABA id: %+v", rep)
	}
}
