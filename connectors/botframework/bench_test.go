package botframework_test

import (
	"context"
	"testing"

	"github.com/connector-gateway/connector/connectors/botframework/bftest"
)

// BenchmarkParse is one Teams message activity through Parse: token check
// (warm key cache) plus decoding and mapping.
func BenchmarkParse(b *testing.B) {
	f := newFixture(b)
	svc := f.svc.URL()
	req := request(f.bearer("k1", svc), bftest.TeamsMessage(svc, appID, "a:1conv", "1700000000001", "Where is my order #1042?"))
	ctx := context.Background()
	if _, err := f.cn.Parse(ctx, f.conn, req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := f.cn.Parse(ctx, f.conn, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseActivity is the activity part alone (no token).
func BenchmarkParseActivity(b *testing.B) {
	f := newFixture(b)
	svc := f.svc.URL()
	body := bftest.TeamsMessage(svc, appID, "a:1conv", "1700000000001", "Where is my order #1042?").JSON()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.cn.ParseActivity(f.conn, body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateToken is the token check alone with a warm key cache.
func BenchmarkValidateToken(b *testing.B) {
	f := newFixture(b)
	svc := f.svc.URL()
	auth := f.bearer("k1", svc)
	ctx := context.Background()
	if err := f.cn.Authenticate(ctx, f.conn.Settings, auth, svc, "msteams"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := f.cn.Authenticate(ctx, f.conn.Settings, auth, svc, "msteams"); err != nil {
			b.Fatal(err)
		}
	}
	if n := f.cn.KeyFetches(); n != 1 {
		b.Fatalf("%d key fetches", n)
	}
}
