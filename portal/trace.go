package portal

import (
	"context"
	"net/http"

	"github.com/connector-gateway/connector/queue"
)

// BatchTracer traces batch deliveries (portal/tracing implements it with
// OpenTelemetry). Optional: DispatcherConfig.Tracer. Safe for concurrent
// use.
type BatchTracer interface {
	// StartBatch starts the trace of one batch POST, joined to the traces
	// of the events it carries where they are known.
	StartBatch(ctx context.Context, portalID, lineID, batchID string, items []queue.Item) BatchSpan
}

// BatchSpan is one batch delivery being traced. The dispatcher adds
// Header to the POST, calls Posted with the POST's outcome, then, after an
// acknowledgement, Acked with the outcome of deleting the rows.
type BatchSpan interface {
	Header() http.Header
	Posted(err error)
	Acked(err error)
}

// EnqueueTracer traces events entering the outbox (Inbox.Trace). end is
// called with the outcome of the commit.
type EnqueueTracer interface {
	StartEnqueue(ctx context.Context, portalID, lineID string, events []string) (end func(added int, err error))
}

type nopSpan struct{}

func (nopSpan) Header() http.Header { return nil }
func (nopSpan) Posted(error)        {}
func (nopSpan) Acked(error)         {}

// SendTracer traces the sender's attempts on portals' requests
// (SenderConfig.Tracer). end is called with the attempt's outcome.
type SendTracer interface {
	StartSend(ctx context.Context, requestID, connector, op string) (context.Context, func(err error))
}
