package deadline

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// pair returns both ends of a loopback TCP connection.
func pair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// What mellium's watcher does when it fires late — a deadline in the past
// set through the session's connection — must not fail the next write.
func TestLateDeadlineFromAboveIsIgnored(t *testing.T) {
	raw, peer := pair(t)
	var got net.Conn
	if _, err := Login(context.Background(), raw, func(_ context.Context, c net.Conn) (struct{}, error) {
		got = c
		return struct{}{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	_ = got.SetWriteDeadline(time.Unix(1, 0))
	_ = got.SetDeadline(time.Unix(1, 0))
	if _, err := got.Write([]byte("<presence/>")); err != nil {
		t.Fatalf("write after a late deadline: %v", err)
	}
	buf := make([]byte, 11)
	if _, err := io.ReadFull(peer, buf); err != nil || string(buf) != "<presence/>" {
		t.Fatalf("peer read %q, %v", buf, err)
	}
	// And reads are not cut short either.
	go func() { time.Sleep(50 * time.Millisecond); _, _ = peer.Write([]byte("x")) }()
	if _, err := got.Read(buf[:1]); err != nil {
		t.Fatalf("read after a late deadline: %v", err)
	}
}

// A login that outlives ctx's deadline fails instead of hanging, and the
// context login sees is never cancelled.
func TestLoginIsBoundedByTheContext(t *testing.T) {
	raw, _ := pair(t) // the peer never answers
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err := Login(ctx, raw, func(lctx context.Context, c net.Conn) (int, error) {
		if lctx.Done() != nil {
			t.Error("login's context can be cancelled: mellium would start its watcher")
		}
		_, err := c.Read(make([]byte, 1))
		return 0, err
	})
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("login against a silent peer: %v, want a timeout", err)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Fatalf("login took %s", d)
	}
}

// Cancelling ctx interrupts a login in progress; cancelling it after a
// successful login leaves the connection alone.
func TestCancelInterruptsOnlyALoginInProgress(t *testing.T) {
	raw, _ := pair(t)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	if _, err := Login(ctx, raw, func(_ context.Context, c net.Conn) (int, error) {
		_, err := c.Read(make([]byte, 1))
		return 0, err
	}); err == nil {
		t.Fatal("a cancelled login succeeded")
	}

	raw2, peer2 := pair(t)
	ctx2, cancel2 := context.WithCancel(context.Background())
	var c2 net.Conn
	if _, err := Login(ctx2, raw2, func(_ context.Context, c net.Conn) (int, error) { c2 = c; return 0, nil }); err != nil {
		t.Fatal(err)
	}
	cancel2()
	time.Sleep(20 * time.Millisecond)
	if _, err := c2.Write([]byte("y")); err != nil {
		t.Fatalf("write after the login context was cancelled: %v", err)
	}
	if _, err := io.ReadFull(peer2, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
}
