package console_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/connector-gateway/connector/api/console"
	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/queue"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// BenchmarkStatusRefresh measures one refresh of the status page (what an
// open console asks for every console.refresh) with 20 portals of 5 lines,
// each line with a connection and waiting events, over real HTTP.
func BenchmarkStatusRefresh(b *testing.B) {
	for _, be := range queuetest.Backends() {
		b.Run(be.Driver, func(b *testing.B) {
			g := newGateway(b, be, console.Config{}, acmeChat{})
			ctx := context.Background()
			for p := 0; p < 20; p++ {
				pr, _, err := g.Records.CreatePortal(ctx, fmt.Sprintf("Portal %d", p), "https://helpdesk.example/hook")
				if err != nil {
					b.Fatal(err)
				}
				for l := 0; l < 5; l++ {
					line, err := g.Records.CreateLine(ctx, pr.ID, fmt.Sprintf("Line %d", l))
					if err != nil {
						b.Fatal(err)
					}
					if _, err := g.Records.CreateConnection(ctx, line.ID, "acmechat", connectors.Settings{"api_key": acmeGoodKey, "api_url": "https://a.example"}); err != nil {
						b.Fatal(err)
					}
					var evs []queue.NewEvent
					for i := 0; i < 10; i++ {
						evs = append(evs, queue.NewEvent{PortalID: pr.ID, LineID: line.ID, EventID: fmt.Sprintf("%s-%d", line.ID, i), Payload: []byte(`{}`)})
					}
					if _, err := g.Outbox.Enqueue(ctx, evs); err != nil {
						b.Fatal(err)
					}
				}
			}
			c := g.login(b, "admin", adminPassword)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				resp, body := get(b, c, g.URL+"/console/status")
				if resp.StatusCode != http.StatusOK || len(body) < 10000 {
					b.Fatalf("status: %d, %d bytes", resp.StatusCode, len(body))
				}
			}
		})
	}
}
