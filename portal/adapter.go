package portal

import (
	"context"

	"github.com/connector-gateway/connector/queue"
)

// Portal kinds: how the dispatcher hands a portal its batches.
const (
	// KindNative is the gateway's own protocol: one signed Standard
	// Webhooks POST per batch (the default).
	KindNative   = "native"
	KindChatwoot = "chatwoot"
	KindBitrix24 = "bitrix24"
	KindRT       = "rt"
)

// ValidKind tells whether kind names a portal kind.
func ValidKind(kind string) bool {
	switch kind {
	case KindNative, KindChatwoot, KindBitrix24, KindRT:
		return true
	}
	return false
}

// DeliveryBatch is one claimed batch of one line, in order.
type DeliveryBatch struct {
	// ID is BatchID of the items: the same events give the same id.
	ID     string
	LineID string
	Items  []queue.Item
}

// Deliverer turns a batch into a helpdesk's API calls. The dispatcher
// calls it for portals of its kind, at most once at a time per line, from
// many goroutines for different lines.
//
// A nil error acks the whole batch: return nil only when every event in
// it was accepted by the helpdesk. Any error locks the line out and the
// same events come again later, so a Deliverer must remember (durably,
// in AdapterIDs, written as each call succeeds) what it already did and
// never post an event twice. ctx ends at the dispatcher's timeout.
type Deliverer interface {
	Deliver(ctx context.Context, p Portal, b DeliveryBatch) error
}
