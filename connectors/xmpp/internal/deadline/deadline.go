// Package deadline keeps an XMPP stream's connection deadlines away from
// mellium's context watcher.
//
// mellium (v0.22) turns a call's context into connection deadlines with a
// watcher goroutine that can still fire after the call has returned: when
// the caller cancels its context right after Send — every
// context.WithTimeout with a deferred cancel does — the watcher may pick the
// cancelled context and set a deadline in the past just as the next stanza
// is written, which then fails with "i/o timeout" (the same happens to the
// first reads after login). So the connection handed to mellium ignores the
// deadline calls mellium makes, directly or through the TLS layer above it;
// each Write is bounded by WriteTimeout instead, and login by Login.
package deadline

import (
	"context"
	"net"
	"time"
)

// WriteTimeout bounds one write to the server: a peer that stops reading
// fails the stream after this long instead of blocking a sender forever.
const WriteTimeout = 30 * time.Second

type conn struct{ net.Conn }

func (c conn) Write(b []byte) (int, error) {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(WriteTimeout))
	return c.Conn.Write(b)
}

func (conn) SetDeadline(time.Time) error      { return nil }
func (conn) SetReadDeadline(time.Time) error  { return nil }
func (conn) SetWriteDeadline(time.Time) error { return nil }

// Login runs login (stream negotiation) on raw, bounded by ctx: reads
// stop at ctx's deadline, and cancelling ctx interrupts a read or write in
// progress. Unlike mellium's watcher, context.AfterFunc's stop says whether
// the interrupt ran, so a session never comes back with a deadline in the
// past. login gets a context that is never cancelled (so mellium starts no
// deadline of its own) and the connection to build the session on. On an
// error the caller closes raw.
func Login[T any](ctx context.Context, raw net.Conn, login func(context.Context, net.Conn) (T, error)) (T, error) {
	if d, ok := ctx.Deadline(); ok {
		_ = raw.SetReadDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
	v, err := login(context.WithoutCancel(ctx), conn{raw})
	if !stop() && err == nil {
		var zero T
		return zero, context.Cause(ctx)
	}
	_ = raw.SetReadDeadline(time.Time{})
	return v, err
}
