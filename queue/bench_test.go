package queue_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connector-gateway/connector/queue"
	"github.com/connector-gateway/connector/queue/queuetest"
)

var payload = []byte(`{"id":"evt_x","type":"message.created","occurred_at":"2026-01-01T00:00:00Z","connector":"telegram","channel":"telegram","connection":"con_1","line":"lin_1","chat":{"id":"42","type":"private"},"user":{"id":"42","name":"Ann"},"message":{"id":"7","text":"hello"}}`)

func benchOutbox(b *testing.B, be queuetest.Backend) *queue.Outbox {
	o, err := queue.NewOutbox(queuetest.Open(b, be), queue.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(o.Close)
	return o
}

// BenchmarkEnqueue: one event per call from many goroutines, as webhooks
// arrive; concurrent calls share commits.
func BenchmarkEnqueue(b *testing.B) {
	for _, be := range queuetest.Backends() {
		b.Run(be.Driver, func(b *testing.B) {
			o := benchOutbox(b, be)
			var n atomic.Int64
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					i := n.Add(1)
					ev := queue.NewEvent{DedupeKey: fmt.Sprintf("k%d", i), PortalID: "p", LineID: fmt.Sprintf("l%d", i%100), EventID: fmt.Sprintf("e%d", i), Payload: payload}
					if _, err := o.Enqueue(ctx, []queue.NewEvent{ev}); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkClaimNextAck: claim a line, read a batch of 100, ack it (release).
// Reported per event.
func BenchmarkClaimNextAck(b *testing.B) {
	for _, be := range queuetest.Backends() {
		b.Run(be.Driver, func(b *testing.B) {
			o := benchOutbox(b, be)
			ctx := context.Background()
			line := queue.LineRef{LineID: "l1", PortalID: "p"}
			fill := func(n int) {
				evs := make([]queue.NewEvent, n)
				for i := range evs {
					evs[i] = queue.NewEvent{PortalID: "p", LineID: "l1", EventID: "e", Payload: payload}
				}
				if _, err := o.Enqueue(ctx, evs); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for done := 0; done < b.N; done += 100 {
				b.StopTimer()
				fill(100)
				b.StartTimer()
				l, err := queuetest.ClaimLine(ctx, o, line, "w", time.Minute)
				if err != nil || l == nil {
					b.Fatal("claim", err)
				}
				batch, err := o.Next(ctx, l, 100)
				if err != nil || len(batch.Items) != 100 {
					b.Fatal("next", err)
				}
				if err := o.Ack(ctx, batch, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFail: a failed delivery (lock-out bookkeeping).
func BenchmarkFail(b *testing.B) {
	for _, be := range queuetest.Backends() {
		b.Run(be.Driver, func(b *testing.B) {
			clk := queuetest.NewClock(time.Unix(1_700_000_000, 0))
			o, err := queue.NewOutbox(queuetest.Open(b, be), queue.Config{Now: clk.Now, Schedule: []time.Duration{time.Second}, Window: 1000 * time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			defer o.Close()
			ctx := context.Background()
			if _, err := o.Enqueue(ctx, []queue.NewEvent{{PortalID: "p", LineID: "l1", EventID: "e", Payload: payload}}); err != nil {
				b.Fatal(err)
			}
			line := queue.LineRef{LineID: "l1", PortalID: "p"}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				clk.Advance(time.Second)
				l, err := queuetest.ClaimLine(ctx, o, line, "w", time.Minute)
				if err != nil || l == nil {
					b.Fatal("claim", err)
				}
				batch, _ := o.Next(ctx, l, 100)
				if _, err := o.Fail(ctx, batch, "503"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReadKeptLines: the first batches of 64 lines holding two events
// each, as a dispatcher reads the lines whose leases it kept while events
// trickle in: one union of per-line reads (NextLines) against one range
// read (NextRecent). Reported per read of all 64.
func BenchmarkReadKeptLines(b *testing.B) {
	for _, be := range queuetest.Backends() {
		b.Run(be.Driver, func(b *testing.B) {
			o := benchOutbox(b, be)
			ctx := context.Background()
			var evs []queue.NewEvent
			var leases []*queue.Lease
			for l := range 64 {
				line := fmt.Sprintf("l%02d", l)
				leases = append(leases, &queue.Lease{LineID: line, PortalID: "p", Owner: "w"})
				for i := range 2 {
					evs = append(evs, queue.NewEvent{PortalID: "p", LineID: line, EventID: fmt.Sprintf("e%d-%d", l, i), Payload: payload})
				}
			}
			if _, err := o.Enqueue(ctx, evs); err != nil {
				b.Fatal(err)
			}
			for _, read := range []struct {
				name string
				fn   func(context.Context, []*queue.Lease, int) (map[string]*queue.Batch, error)
			}{{"union", o.NextLines}, {"range", o.NextRecent}} {
				b.Run(read.name, func(b *testing.B) {
					for b.Loop() {
						got, err := read.fn(ctx, leases, 100)
						if err != nil || len(got) != 64 || len(got["l07"].Items) != 2 {
							b.Fatalf("%d batches, %v", len(got), err)
						}
					}
				})
			}
		})
	}
}
