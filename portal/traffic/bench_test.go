package traffic_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connector-gateway/connector/portal/traffic"
	"github.com/connector-gateway/connector/queue"
)

// BenchmarkBatchPostedUnseen records 100-event batches of events the
// recorder did not see come in (a drained backlog), from parallel workers
// as the dispatcher runs them.
func BenchmarkBatchPostedUnseen(b *testing.B) {
	r := traffic.New(nil)
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		items := make([]queue.Item, 100)
		for pb.Next() {
			base := n.Add(100)
			for i := range items {
				id := fmt.Sprintf("evt_%d", base+int64(i))
				items[i] = queue.Item{Seq: base + int64(i), EventID: id, CreatedAt: time.Now(), Payload: []byte(`{"id":"` + id +
					`","type":"message.created","connection":"con_0123456789","connector":"telegram","chat":{"id":"42","type":"private"},` +
					`"sender":{"id":"42","name":"Ann"},"message":{"id":"1001","text":"hello there, how are you?"},"created_at":"2026-12-02T01:00:00Z"}`)}
			}
			r.BatchPosted("por_1", "lin_1", "bat_x", items, time.Millisecond, nil)
		}
	})
}
