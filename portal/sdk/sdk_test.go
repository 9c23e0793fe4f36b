package sdk_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/portal/sdk"
	"github.com/connector-gateway/connector/queue"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// ReadBatch verifies and decodes a batch exactly as the gateway's
// dispatcher signs and sends it; a wrong secret, a tampered body and a body
// over the limit are refused, and the portal's non-2xx answer keeps the
// events queued.
func TestReadBatchOfARealDispatch(t *testing.T) {
	ctx := context.Background()
	b := queuetest.Backends()[len(queuetest.Backends())-1] // SQLite: the portal side is what is under test
	db := queuetest.Open(t, b)
	type seen struct {
		batch sdk.Batch
		err   error
		other error
		big   error
		tampr error
	}
	got := make(chan seen, 1)
	var secret string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := r.Clone(r.Context())
		raw, _ := io.ReadAll(r.Body)
		var s seen
		req.Body = nopCloser(raw)
		s.batch, s.err = sdk.ReadBatch(req, []string{"whsec_" + strings.Repeat("A", 43) + "=", secret}, 1<<20)
		req.Body = nopCloser(raw)
		_, s.other = sdk.ReadBatch(req, []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, 1<<20)
		req.Body = nopCloser(raw)
		_, s.big = sdk.ReadBatch(req, []string{secret}, int64(len(raw))-1)
		req.Body = nopCloser(bytes.Replace(raw, []byte("hello"), []byte("HELLO"), 1))
		_, s.tampr = sdk.ReadBatch(req, []string{secret}, 1<<20)
		select {
		case got <- s:
		default:
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	sealer, err := portal.NewSealer(portal.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	ob, err := queue.NewOutbox(db, queue.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	recs := portal.NewRecords(db, sealer, ob, queue.NewPolls(db, nil))
	p, secret0, err := recs.CreatePortal(ctx, "Acme", srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	secret = secret0
	if _, err := ob.Enqueue(ctx, []queue.NewEvent{{DedupeKey: "k1", PortalID: p.ID, LineID: "lin_1", EventID: "evt_1",
		Payload: []byte(`{"id":"evt_1","type":"message.created","message":{"id":"1","text":"hello"}}`)}}); err != nil {
		t.Fatal(err)
	}
	d, err := portal.NewDispatcher(ob, recs, portal.DispatcherConfig{Poll: 20 * time.Millisecond, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	var s seen
	select {
	case s = <-got:
	case <-time.After(15 * time.Second):
		t.Fatal("no batch arrived")
	}
	if s.err != nil {
		t.Fatalf("ReadBatch of a real batch: %v", s.err)
	}
	if s.batch.Portal != p.ID || s.batch.Line != "lin_1" || len(s.batch.Events) != 1 ||
		s.batch.Events[0].ID != "evt_1" || s.batch.Events[0].Message == nil || s.batch.Events[0].Message.Text != "hello" {
		t.Fatalf("decoded batch = %+v", s.batch)
	}
	if !strings.HasPrefix(s.batch.ID, "bat_") {
		t.Errorf("batch id %q, want bat_…", s.batch.ID)
	}
	if s.other == nil {
		t.Error("a batch verified with another portal's secret")
	}
	if !errors.Is(s.big, sdk.ErrTooLarge) {
		t.Errorf("over the limit: %v, want ErrTooLarge", s.big)
	}
	if s.tampr == nil {
		t.Error("a tampered body verified")
	}
}

func nopCloser(b []byte) io.ReadCloser { return io.NopCloser(bytes.NewReader(b)) }
