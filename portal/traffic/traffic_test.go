package traffic

import (
	"errors"
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
