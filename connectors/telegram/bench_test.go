package telegram_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/connectortest"
	"github.com/connector-gateway/connector/connectors/telegram/telegramtest"
)

func BenchmarkParseText(b *testing.B) {
	cn, c, _ := setup(b)
	body := telegramtest.Update(1, chatIDInt, map[string]any{"text": strings.Repeat("hello there ", 20)})
	h := secretHeader(secret)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cn.Parse(context.Background(), c, connectors.Request{Method: "POST", Header: h, Body: body}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParsePhoto(b *testing.B) {
	cn, c, _ := setup(b)
	body := telegramtest.Update(1, chatIDInt, map[string]any{"caption": "look", "photo": []map[string]any{
		{"file_id": "AgACAgIAAxkBAAIBQ2X-small", "file_unique_id": "AQADs", "width": 90, "height": 67, "file_size": 1200},
		{"file_id": "AgACAgIAAxkBAAIBQ2X-mid", "file_unique_id": "AQADm", "width": 320, "height": 240, "file_size": 15000},
		{"file_id": "AgACAgIAAxkBAAIBQ2X-large", "file_unique_id": "AQADl", "width": 1280, "height": 960, "file_size": 98000},
	}})
	h := secretHeader(secret)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cn.Parse(context.Background(), c, connectors.Request{Method: "POST", Header: h, Body: body}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSplit10k(b *testing.B) {
	cn, c, _ := setup(b)
	text := longText(10000)
	b.ReportAllocs()
	for b.Loop() {
		// SentParts past the end: the plan is made, nothing is sent.
		if _, err := cn.Send(context.Background(), c, connectors.Outbound{ChatID: chatID, Text: text, SentParts: 99}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPoll measures updates per second through Poll (getUpdates over
// loopback HTTP, parse, sink, offset save), 100 updates per call.
func BenchmarkPoll(b *testing.B) {
	cn, c, srv := setup(b)
	for i := range b.N {
		srv.Push(srv.Update(i+1, chatIDInt, "hi"))
	}
	var got atomic.Int64
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ResetTimer()
	go func() {
		_ = cn.Poll(ctx, pollingConn(c, &connectortest.MemCursor{}), func(_ context.Context, ks []connectors.Keyed) error {
			if got.Add(int64(len(ks))) >= int64(b.N) {
				select {
				case <-done:
				default:
					close(done)
				}
			}
			return nil
		})
	}()
	<-done
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
}
