package app_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/connector-gateway/connector/api/console/consoletest"
	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/telegram/telegramtest"
	"github.com/connector-gateway/connector/portal/portaltest"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// The status page draws each portal's last hour (events in, delivered,
// failed, waiting) and the lookup finds a message's path: a delivered event
// shows its batch and both attempts (the failed one with the portal's
// answer, then the acknowledged one); a reply shows its request and the
// status event that reported it.
func TestConsoleTrafficChartAndFindAMessage(t *testing.T) {
	var b queuetest.Backend
	for _, x := range queuetest.Backends() {
		if x.Driver == "sqlite" {
			b = x
		}
	}
	tg := telegramtest.New(t, botToken)
	p := portaltest.New(t)
	cfg := testConfig(b, b.DSN(t), tg.Endpoint())
	cfg.PublicURL = "https://gateway.test"
	cfg.Console.AdminPassword = consolePassword
	cfg.Queue.Schedule = []time.Duration{200 * time.Millisecond}
	g := startGateway(t, cfg)
	w := wire(t, g, tg, p, 1)
	line := w.Lines[0]

	// The first attempt fails (the portal answers 503), the retry is
	// acknowledged.
	p.FailLine(line, http.StatusServiceUnavailable)
	for i := 0; i < 3; i++ {
		if code := postUpdate(t, g, w.Hashes[0], w.Secrets[0], tg.Update(2001+i, 77, fmt.Sprintf("message %d", i))); code != http.StatusOK {
			t.Fatalf("webhook %d", code)
		}
	}
	// Wait until the batch of all three has failed at least twice: its
	// retries must show as one entry with a count.
	sameBatch := func() int {
		n := 0
		for _, a := range p.Attempts(line) {
			if a.Events == 3 && a.Answered == http.StatusServiceUnavailable {
				n++
			}
		}
		return n
	}
	if !p.WaitFor(10*time.Second, func() bool { return sameBatch() >= 2 }) {
		t.Fatalf("the batch of three failed %d times", sameBatch())
	}
	p.FailLine(line, 0)
	if !p.WaitFor(10*time.Second, func() bool { return len(p.Events(line)) == 3 }) {
		t.Fatalf("portal got %d events", len(p.Events(line)))
	}
	first := p.Events(line)[0]
	acc, err := w.Client.Send(context.Background(), w.Conns[0], connectors.Outbound{ChatID: "77", Text: "We are on it"})
	if err != nil {
		t.Fatal(err)
	}
	if !p.WaitFor(10*time.Second, func() bool { return len(p.Events(line)) == 4 }) {
		t.Fatal("no status event")
	}

	br := consoletest.NewBrowser(t)
	consoleSignIn(t, br, g)
	br.WaitFor("the chart", `!!document.querySelector('figure.traffic svg polyline[data-series=delivered]')`, 10*time.Second)
	in := consoletest.Eval[string](br, "chart totals", `(s => s.dataset.in + "/" + s.dataset.delivered + "/" + s.dataset.failed)(document.querySelector('figure.traffic svg'))`)
	var nIn, nDelivered, nFailed int
	if _, err := fmt.Sscanf(in, "%d/%d/%d", &nIn, &nDelivered, &nFailed); err != nil || nIn != 3 || nDelivered != 4 || nFailed < 1 {
		t.Errorf("chart totals in/delivered/failed = %s, want 3 in (the messages), 4 delivered, some failed", in)
	}
	if h := consoletest.Eval[float64](br, "chart height", `document.querySelector('figure.traffic svg').getBoundingClientRect().height`); h < 60 {
		t.Errorf("chart is %v px high", h)
	}
	t.Logf("screenshot %s", br.Shot("traffic-status-chart"))

	// Find the first message by its event id, from the status page's form.
	br.Type("the event id", "#find-q", first.ID)
	br.Click("find", "form.find button")
	br.WaitFor("the event's path", `!!document.querySelector('section.found.event')`, 10*time.Second)
	steps := consoletest.Eval[[]string](br, "steps", `[...document.querySelectorAll('section.found.event ol.path li')].map(li => li.dataset.step + ": " + li.innerText)`)
	joined := strings.Join(steps, "\n")
	if len(steps) < 4 || !strings.HasPrefix(steps[0], "received") || !strings.Contains(joined, "attempt: Batch bat_") ||
		!strings.Contains(joined, "503") || !strings.Contains(joined, "acknowledged") || !strings.HasPrefix(steps[len(steps)-1], "delivered") {
		t.Errorf("path of %s:\n%s", first.ID, joined)
	}
	if !regexp.MustCompile(`attempt: Batch bat_\w+ posted [2-9]\d* times from .+ to .+ \(the last took \d+ ms\): portal answered 503`).MatchString(joined) {
		t.Errorf("path of %s has no entry for the repeated failures of the batch of three:\n%s", first.ID, joined)
	}
	batch := consoletest.Eval[string](br, "batch id", `[...document.querySelectorAll('[data-batch]')].pop().innerText`)
	t.Logf("screenshot %s", br.Shot("traffic-find-event"))

	// By the batch id: the batch's three events.
	br.Open("find the batch", g.URL+"/console/find?q="+batch, "#q")
	if n := consoletest.Eval[int](br, "events of the batch", `document.querySelectorAll('section.found.event').length`); n != 3 {
		t.Errorf("batch %s shows %d events, want 3", batch, n)
	}
	// By the chat id: the three messages and the reply's status event.
	br.Open("find the chat", g.URL+"/console/find?q=77", "#q")
	if n := consoletest.Eval[int](br, "events of the chat", `document.querySelectorAll('section.found.event').length`); n != 4 {
		t.Errorf("chat 77 shows %d events, want 4", n)
	}
	// By the reply's request id: the request and its status event.
	br.Open("find the reply", g.URL+"/console/find?q="+acc.ID, "#q")
	br.WaitText("the reply", "State: done; messenger ids", 5*time.Second)
	if got := br.Text("section.found.event h2"); !strings.Contains(got, "status.delivered") {
		t.Errorf("the reply's status event = %q", got)
	}
	t.Logf("screenshot %s", br.Shot("traffic-find-reply"))
}
