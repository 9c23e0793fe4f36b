package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/portal/adapters/rt/rttest"
)

// set-kind against a real RT: a missing key and a wrong password are
// refused in plain words and save nothing; good settings pass the live
// test, are saved, and portal list shows the kind; native undoes it.
func TestSetKindRTRunsTheLiveTest(t *testing.T) {
	r := rttest.Start(t)
	_, dbFlags, a := apiGateway(t)
	ctx := context.Background()
	p, _, err := a.Store().Records.CreatePortal(ctx, "Acme RT", "http://127.0.0.1:1/unused")
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (int, string, string) {
		t.Helper()
		return runCLI(t, append(append([]string{"portal"}, args...), dbFlags...)...)
	}
	kind := func() portal.Portal {
		t.Helper()
		got, err := a.Store().Records.GetPortal(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	code, out, errOut := run("set-kind", "--help")
	for _, want := range []string{"native", "chatwoot", "bitrix24", "rt", "docs/adapters/", "--no-test"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("set-kind --help (exit %d) lacks %q:\n%s%s", code, want, out, errOut)
		}
	}

	code, _, errOut = run("set-kind", p.ID, "--kind", "rt", "--set", "url="+r.URL, "--set", "user=root", "--set", "password=password")
	if code == 0 || !strings.Contains(errOut, "queue: required") {
		t.Fatalf("missing queue: exit %d, stderr %s", code, errOut)
	}
	code, _, errOut = run("set-kind", p.ID, "--kind", "rt", "--set", "url="+r.URL, "--set", "queue=Support", "--set", "user=root", "--set", "password=wrong")
	if code == 0 || !strings.Contains(errOut, "RT refused the credentials") || !strings.Contains(errOut, "nothing saved") {
		t.Fatalf("wrong password: exit %d, stderr %s", code, errOut)
	}
	if k := kind().Kind; k != portal.KindNative {
		t.Fatalf("after failed tests the kind is %q", k)
	}

	tok := r.Token(rttest.RootUser)
	code, out, errOut = run("set-kind", p.ID, "--kind", "rt", "--set", "url="+r.URL, "--set", "queue="+rttest.Queue, "--set", "token="+tok)
	if code != 0 || !strings.Contains(out, "live test passed") {
		t.Fatalf("good settings: exit %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(out, tok) {
		t.Errorf("set-kind printed the token:\n%s", out)
	}
	if got := kind(); got.Kind != portal.KindRT || got.Adapter["token"] != tok || got.Adapter["queue"] != rttest.Queue {
		t.Fatalf("stored kind %q settings %v", got.Kind, got.Adapter)
	}
	// Changing one key keeps the others.
	code, out, errOut = run("set-kind", p.ID, "--kind", "rt", "--set", "queue=General")
	if code != 0 || kind().Adapter["token"] != tok || kind().Adapter["queue"] != "General" {
		t.Fatalf("one key changed: exit %d\n%s%s\n%v", code, out, errOut, kind().Adapter)
	}
	code, out, _ = run("list")
	if code != 0 || !strings.Contains(out, "KIND") || !strings.Contains(out, p.ID) || !strings.Contains(out, " rt ") {
		t.Fatalf("portal list:\n%s", out)
	}
	code, _, errOut = run("set-kind", p.ID, "--kind", "native")
	if code != 0 || kind().Kind != portal.KindNative {
		t.Fatalf("back to native: exit %d %s kind %q", code, errOut, kind().Kind)
	}
}

// portal create --kind makes a portal for an adapter without a webhook
// URL; a native one still needs it.
func TestCreatePortalOfKind(t *testing.T) {
	_, dbFlags, a := apiGateway(t)
	run := func(args ...string) (int, string, string) {
		t.Helper()
		return runCLI(t, append(append([]string{"portal"}, args...), dbFlags...)...)
	}
	if code, _, errOut := run("create", "--name", "Native"); code == 0 || !strings.Contains(errOut, "--webhook-url is required") {
		t.Fatalf("native without a URL: exit %d, stderr %s", code, errOut)
	}
	code, out, errOut := run("create", "--name", "Acme RT", "--kind", "rt")
	if code != 0 || !strings.Contains(out, "portal_id: prt_") {
		t.Fatalf("create --kind rt: exit %d, %s%s", code, out, errOut)
	}
	id := strings.TrimSpace(strings.SplitN(strings.TrimPrefix(out, "portal_id: "), "\n", 2)[0])
	p, err := a.Store().Records.GetPortal(context.Background(), id)
	if err != nil || p.Kind != portal.KindRT || p.WebhookURL != "" {
		t.Fatalf("portal %+v %v", p, err)
	}
	if code, _, errOut := run("set-kind", id, "--kind", "native"); code == 0 || !strings.Contains(errOut, "no webhook URL") {
		t.Fatalf("switching it to native: exit %d, stderr %s", code, errOut)
	}
}
