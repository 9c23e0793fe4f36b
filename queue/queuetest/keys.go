package queuetest

import (
	"context"
	"testing"
	"time"

	"github.com/connector-gateway/connector/queue"
)

// runKeys: the dedupe-key table as the API and console read it.
func runKeys(t *testing.T, b Backend) {
	ctx := context.Background()
	// A key is new once, until the TTL forgets it.
	t.Run("FirstSeenOnceUntilPurged", func(t *testing.T) {
		clock := NewClock(time.Unix(1_700_000_000, 0))
		keys := queue.NewKeys(newOutbox(t, Open(t, b), queue.Config{Now: clock.Now, DedupeTTL: time.Hour}))
		for i, want := range []bool{true, false} {
			if got, err := keys.FirstSeen(ctx, "api:p1:msg_1"); err != nil || got != want {
				t.Fatalf("FirstSeen #%d = %v, %v; want %v", i+1, got, err, want)
			}
		}
		if n, err := keys.Purge(ctx); err != nil || n != 0 {
			t.Fatalf("purge within the TTL = %d, %v", n, err)
		}
		clock.Advance(time.Hour + time.Second)
		if n, err := keys.Purge(ctx); err != nil || n != 1 {
			t.Fatalf("purge after the TTL = %d, %v; want 1", n, err)
		}
		if got, err := keys.FirstSeen(ctx, "api:p1:msg_1"); err != nil || !got {
			t.Fatalf("FirstSeen after purge = %v, %v; want true", got, err)
		}
	})

	// FirstSince and Last tell when a connection received something, from
	// the dedupe keys its updates left: only that connection's keys count
	// (not a connection whose id extends it), and only from the given moment.
	t.Run("KeysTellWhenAConnectionReceived", func(t *testing.T) {
		start := time.Now().Truncate(time.Millisecond)
		clock := NewClock(start)
		o := newOutbox(t, Open(t, b), queue.Config{Now: clock.Now})
		keys := queue.NewKeys(o)
		update := func(key string) {
			t.Helper()
			if _, err := o.Enqueue(ctx, []queue.NewEvent{{DedupeKey: key, PortalID: "p", LineID: "l", EventID: key, Payload: []byte(`{}`)}}); err != nil {
				t.Fatal(err)
			}
		}
		update("telegram:con_a:1")
		update("telegram:con_ab:7") // another connection, its id extends con_a
		clock.Advance(time.Minute)
		since := clock.Now()
		if _, ok, err := keys.FirstSince(ctx, "telegram:con_a:", since); err != nil || ok {
			t.Fatalf("before a new update: ok=%v, %v", ok, err)
		}
		clock.Advance(time.Second)
		update("telegram:con_ab:8")
		if _, ok, _ := keys.FirstSince(ctx, "telegram:con_a:", since); ok {
			t.Fatal("another connection's update counted")
		}
		clock.Advance(time.Second)
		update("telegram:con_a:2")
		clock.Advance(time.Second)
		update("telegram:con_a:3")
		at, ok, err := keys.FirstSince(ctx, "telegram:con_a:", since)
		if err != nil || !ok || !at.Equal(since.Add(2*time.Second).UTC()) {
			t.Fatalf("first since = %v, %v, %v; want %v", at, ok, err, since.Add(2*time.Second))
		}
		last, ok, err := keys.Last(ctx, "telegram:con_a:")
		if err != nil || !ok || !last.Equal(since.Add(3*time.Second).UTC()) {
			t.Fatalf("last = %v, %v, %v", last, ok, err)
		}
		if _, ok, _ := keys.Last(ctx, "slack:con_a:"); ok {
			t.Fatal("a connector type with no updates has a last key")
		}
	})
}
