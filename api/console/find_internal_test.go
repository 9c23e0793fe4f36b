package console

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/connector-gateway/connector/portal/traffic"
	"github.com/connector-gateway/connector/queue"
)

// A path with more attempts than the trace keeps shows the first ones, how
// many posts were not kept, and then the latest: the delivery.
func TestFindShowsAttemptsNotKept(t *testing.T) {
	c := &base{cfg: Config{Now: time.Now}}
	p, err := loadPages(embedded, c.funcs())
	if err != nil {
		t.Fatal(err)
	}
	r := traffic.New(nil)
	item := []queue.Item{{EventID: "evt_a", CreatedAt: time.Now()}}
	for i := 0; i < 60; i++ {
		r.BatchPosted("prt_1", "lin_1", fmt.Sprintf("bat_%d", i), item, time.Millisecond, errors.New("portal answered 503"))
	}
	r.BatchPosted("prt_1", "lin_1", "bat_ok", item, time.Millisecond, nil)
	var buf bytes.Buffer
	v := findView{Query: "evt_a", Enabled: true, Traces: r.Find("evt_a")}
	if err := p.byName["find"].ExecuteTemplate(&buf, "content", page{Data: v}); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	omitted := strings.Index(html, `data-step="omitted"`)
	last := strings.Index(html, "bat_ok")
	if omitted < 0 || last < omitted || strings.Index(html, "bat_48") > omitted || strings.Contains(html, "bat_49<") {
		t.Fatalf("path does not read first entries, omitted, latest:\n%s", html)
	}
	// 61 posts: 49 first entries, the latest, 11 not kept.
	if !strings.Contains(html, "11 more posts not kept") || strings.Count(html, `data-step="attempt"`) != 50 {
		t.Errorf("want 50 entries and 11 posts not kept:\n%s", html)
	}
}
