package portal

import (
	"context"
	"net/http"

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

// The optional capabilities of a Deliverer, found by type assertion.

// HookReceiver is a Deliverer that also takes the helpdesk's own webhooks
// (agent replies, edits, deletions, status callbacks). The gateway routes
// POST /adapters/{portal}/{rest...} of a portal of the adapter's kind to
// it; r.PathValue("rest") is the rest of the path (a secret token, an
// event name: the adapter's choice). The adapter checks the request's
// authenticity itself (the helpdesk's signature, or a secret in the URL or
// body, compared in constant time) and answers 2xx only once what it took
// is stored, so the helpdesk's own retry (where it has one) is safe.
type HookReceiver interface {
	ServeHook(w http.ResponseWriter, r *http.Request, p Portal)
}

// Tester is a Deliverer that can check a portal's adapter settings against
// the helpdesk (reachable, credentials accepted, queue or inbox found)
// without changing anything there. The error says what is wrong in plain
// words, for the console's live test and `connector portal set-kind`.
type Tester interface {
	Test(ctx context.Context, p Portal) error
}

// AdapterSetting describes one key of Portal.Adapter, for forms and help.
type AdapterSetting struct {
	Key      string
	Label    string
	Help     string
	Required bool
	// Secret settings are never shown back once stored.
	Secret bool
}

// Describer is a Deliverer that lists its settings, in the order a form
// shows them.
type Describer interface {
	Settings() []AdapterSetting
}
