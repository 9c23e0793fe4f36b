package portal

import (
	"time"

	"github.com/connector-gateway/connector/queue"
)

// Observer hears delivery and sending outcomes, for metrics. Methods must be
// quick and safe for concurrent use.
type Observer interface {
	// BatchDone reports one batch POST: err is nil when the portal acked.
	BatchDone(portalID string, events int, took time.Duration, err error)
	// SendDone reports one outbound attempt. outcome is "delivered",
	// "failed", "retry" or "rate_limited".
	SendDone(connector, op, outcome string)
}

type nopObserver struct{}

func (nopObserver) BatchDone(string, int, time.Duration, error) {}
func (nopObserver) SendDone(string, string, string)             {}

// BatchObserver is an Observer that also hears which events each batch
// POST carried (the console's message lookup). The dispatcher discovers it
// by type assertion; the same calling rules apply, and items must not be
// kept or changed.
type BatchObserver interface {
	BatchPosted(portalID, lineID, batchID string, items []queue.Item, took time.Duration, err error)
}
