package portal

import "time"

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
