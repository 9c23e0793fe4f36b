package portal_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/connector-gateway/connector/portal"
)

// BenchmarkSignBatch signs a 100-event batch (about 40 KB).
func BenchmarkSignBatch(b *testing.B) {
	secret := portal.NewSecret()
	body := bytes.Repeat([]byte(`{"id":"evt_0123456789abcdef","type":"message.created","message":{"text":"hello there, how are you?"}},`), 400)
	b.SetBytes(int64(len(body)))
	ts := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := portal.Sign([]string{secret}, "bat_x", ts, body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignSmallBatch signs a 2-event batch, the usual size while
// events trickle in on many lines.
func BenchmarkSignSmallBatch(b *testing.B) {
	secret := portal.NewSecret()
	body := bytes.Repeat([]byte(`{"id":"evt_0123456789abcdef","type":"message.created","message":{"text":"hello there, how are you?"}},`), 2)
	b.SetBytes(int64(len(body)))
	ts := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := portal.Sign([]string{secret}, "bat_x", ts, body); err != nil {
			b.Fatal(err)
		}
	}
}
