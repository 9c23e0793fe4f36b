package traffic

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/queue"
)

func TestSeriesAndFind(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 30, 0, time.UTC)
	r := New(func() time.Time { return now })
	evs := []connectors.Event{{ID: "evt_a", Type: "message.created", Chat: &connectors.Chat{ID: "42"}}, {ID: "evt_b", Type: "message.created", Chat: &connectors.Chat{ID: "42"}}}
	r.Received("prt_1", "lin_1", evs, 2)
	r.Received("prt_1", "lin_1", evs[:1], 0) // a messenger retry
	items := []queue.Item{{EventID: "evt_a"}, {EventID: "evt_b"}, {EventID: "evt_s", Payload: []byte(`{"type":"status.delivered","chat":{"id":"42"},"status":{"request_id":"req_1"}}`)}}
	r.BatchDone("prt_1", 3, time.Millisecond, errors.New("portal answered 503"))
	r.BatchPosted("prt_1", "lin_1", "bat_1", items, time.Millisecond, errors.New("portal answered 503"))
	now = now.Add(time.Minute)
	r.BatchDone("prt_1", 3, time.Millisecond, nil)
	r.BatchPosted("prt_1", "lin_1", "bat_1", items, time.Millisecond, nil)
	r.Depth(map[string]int64{"prt_1": 7})

	s := r.Series("prt_1")
	if len(s) != 60 || s[58].In != 2 || s[58].Failed != 3 || s[59].Delivered != 3 || s[59].Depth != 7 || s[0].In != 0 {
		t.Fatalf("series tail = %+v %+v", s[58], s[59])
	}
	// An hour later the old minutes are gone.
	now = now.Add(Window)
	if s := r.Series("prt_1"); s[58].In != 0 || s[59].Delivered != 0 {
		t.Fatalf("an hour later: %+v %+v", s[58], s[59])
	}

	a := r.Find("evt_a")
	if len(a) != 1 || a[0].Duplicates != 1 || len(a[0].Attempts) != 2 || a[0].Attempts[0].Error == "" || a[0].Attempts[1].Error != "" || a[0].DeliveredAt.IsZero() {
		t.Fatalf("evt_a = %+v", a)
	}
	if got := r.Find("42"); len(got) != 3 {
		t.Fatalf("chat 42: %d traces", len(got))
	}
	if got := r.Find("req_1"); len(got) != 1 || got[0].Type != "status.delivered" {
		t.Fatalf("req_1: %+v", got)
	}
	if got := r.Find("bat_1"); len(got) != 3 {
		t.Fatalf("bat_1: %d traces", len(got))
	}
}

// Retries of one batch that fail the same way make one entry with a count:
// a portal that is down for long does not grow each event's path (and the
// memory it takes) by one entry per retry. A new answer, a new batch or the
// acknowledgement starts a new entry, and every batch id can still be
// found.
func TestRepeatedFailuresShareOneEntry(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	r := New(func() time.Time { return now })
	r.Received("prt_1", "lin_1", []connectors.Event{{ID: "evt_a"}}, 1)
	one := []queue.Item{{EventID: "evt_a"}}
	two := []queue.Item{{EventID: "evt_a"}, {EventID: "evt_b"}}
	down := errors.New("portal answered 503")
	post := func(batch string, items []queue.Item, took time.Duration, err error) {
		now = now.Add(time.Second)
		r.BatchPosted("prt_1", "lin_1", batch, items, took, err)
	}
	for i := 0; i < 200; i++ {
		post("bat_1", one, time.Duration(i)*time.Millisecond, down)
	}
	post("bat_1", one, time.Millisecond, errors.New("portal answered 500"))
	post("bat_2", two, time.Millisecond, errors.New("portal answered 500"))
	post("bat_2", two, 2*time.Millisecond, errors.New("portal answered 500"))
	post("bat_2", two, 3*time.Millisecond, nil)

	got := r.Find("evt_a")
	if len(got) != 1 {
		t.Fatalf("evt_a: %d traces", len(got))
	}
	at := got[0].Attempts
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	want := []Attempt{
		{Batch: "bat_1", At: start.Add(time.Second), Last: start.Add(200 * time.Second), Took: 199 * time.Millisecond, Error: "portal answered 503", Count: 200},
		{Batch: "bat_1", At: start.Add(201 * time.Second), Last: start.Add(201 * time.Second), Took: time.Millisecond, Error: "portal answered 500", Count: 1},
		{Batch: "bat_2", At: start.Add(202 * time.Second), Last: start.Add(203 * time.Second), Took: 2 * time.Millisecond, Error: "portal answered 500", Count: 2},
		{Batch: "bat_2", At: start.Add(204 * time.Second), Last: start.Add(204 * time.Second), Took: 3 * time.Millisecond, Count: 1},
	}
	if len(at) != len(want) {
		t.Fatalf("attempts = %+v", at)
	}
	for i := range want {
		if at[i] != want[i] {
			t.Errorf("attempt %d = %+v, want %+v", i, at[i], want[i])
		}
	}
	if got[0].DeliveredAt.IsZero() {
		t.Error("not delivered")
	}
	for b, n := range map[string]int{"bat_1": 1, "bat_2": 2} {
		if got := len(r.Find(b)); got != n {
			t.Errorf("%s: %d traces, want %d", b, got, n)
		}
	}
}

// Distinct entries are still bounded: a batch that changes at every retry
// (new events joining it) adds an entry each time, up to maxAttempts.
func TestAttemptsAreBounded(t *testing.T) {
	r := New(nil)
	for i := 0; i < 3*maxAttempts; i++ {
		r.BatchPosted("prt_1", "lin_1", fmt.Sprintf("bat_%d", i), []queue.Item{{EventID: "evt_a"}}, 0, errors.New("portal answered 503"))
	}
	r.BatchPosted("prt_1", "lin_1", "bat_last", []queue.Item{{EventID: "evt_a"}}, 0, nil)
	got := r.Find("evt_a")
	if len(got) != 1 || len(got[0].Attempts) != maxAttempts {
		t.Fatalf("got %+v", got)
	}
	tr := got[0]
	// The first entries, then the count of the ones not kept, then the
	// delivery: every post is accounted for.
	if tr.Attempts[0].Batch != "bat_0" || tr.Attempts[maxAttempts-2].Batch != fmt.Sprintf("bat_%d", maxAttempts-2) {
		t.Errorf("first entries: %s … %s", tr.Attempts[0].Batch, tr.Attempts[maxAttempts-2].Batch)
	}
	if last := tr.Attempts[maxAttempts-1]; last.Batch != "bat_last" || last.Error != "" || tr.DeliveredAt.IsZero() {
		t.Errorf("last entry %+v, delivered at %v; want the acknowledged bat_last", last, tr.DeliveredAt)
	}
	if want := 3*maxAttempts + 1 - maxAttempts; tr.Omitted != want || tr.OmittedBefore() != maxAttempts-1 {
		t.Errorf("omitted %d before entry %d, want %d before %d", tr.Omitted, tr.OmittedBefore(), want, maxAttempts-1)
	}
}
