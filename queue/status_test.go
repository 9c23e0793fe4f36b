package queue_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/connector-gateway/connector/queue"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// Statuses (the console's all-lines view) reports each line exactly as
// Status does: waiting, locked out, dead letters, and lines never used.
func TestStatusesMatchStatus(t *testing.T) {
	for _, b := range queuetest.Backends() {
		t.Run(b.Driver, func(t *testing.T) {
			ctx := context.Background()
			clock := queuetest.NewClock(time.Now().Truncate(time.Millisecond))
			o, err := queue.NewOutbox(queuetest.Open(t, b), queue.Config{
				Schedule: []time.Duration{time.Minute}, Window: time.Hour, Now: clock.Now,
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(o.Close)
			enqueue := func(line string, n int) {
				t.Helper()
				var evs []queue.NewEvent
				for i := 0; i < n; i++ {
					evs = append(evs, queue.NewEvent{PortalID: "p1", LineID: line, EventID: fmt.Sprintf("%s-%d", line, i), Payload: []byte(`{}`)})
				}
				if _, err := o.Enqueue(ctx, evs); err != nil {
					t.Fatal(err)
				}
				clock.Advance(time.Second)
			}
			fail := func(line string) {
				t.Helper()
				l, err := queuetest.ClaimLine(ctx, o, queue.LineRef{LineID: line, PortalID: "p1"}, "me", time.Minute)
				if err != nil || l == nil {
					t.Fatalf("claim %s: %v %v", line, l, err)
				}
				b, err := o.Next(ctx, l, 10)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := o.Fail(ctx, b, "portal answered 500"); err != nil {
					t.Fatal(err)
				}
			}
			enqueue("dead", 2)
			fail("dead")
			clock.Advance(2 * time.Hour)
			fail("dead") // past the window: dead letters
			enqueue("dead", 1)
			enqueue("waiting", 3)
			enqueue("locked", 2)
			fail("locked")

			all, err := o.Statuses(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range []string{"waiting", "locked", "dead", "never"} {
				want, err := o.Status(ctx, line)
				if err != nil {
					t.Fatal(err)
				}
				got, ok := all[line]
				if !ok {
					got = queue.LineStatus{LineID: line}
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("line %s: Statuses = %+v, Status = %+v", line, got, want)
				}
			}
			if all["dead"].DeadLetters != 2 || all["dead"].Pending != 1 || all["waiting"].Pending != 3 || all["waiting"].OldestAt == nil {
				t.Errorf("statuses = %+v", all)
			}
			if all["locked"].Failures != 1 || all["locked"].LockedUntil == nil || all["dead"].LockedUntil != nil {
				t.Errorf("locked line = %+v", all["locked"])
			}
		})
	}
}
