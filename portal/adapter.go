package portal

import (
	"context"
	"net/http"
	"sort"

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

// SettingsTester is a Tester whose test can change the settings it tests:
// Bitrix24's expired access token is renewed, and the renewal spends the
// refresh token, which Bitrix24 takes only once. `connector portal
// set-kind` and the console test settings about to be saved with
// TestSettings (through TestCandidate).
//
// p.Adapter is the candidate, the settings about to be stored, which need
// not be the stored ones; stored is what the candidate was made from (the
// portal's stored settings when it already has this kind, else nil).
// TestSettings works from the candidate alone and returns it as it must
// be stored: with whatever the test renewed, also when the test then
// failed (the error). A renewal that spent the stored settings' own
// refresh token is stored by the adapter as it happens, as a delivery's
// would be; a renewal of tokens that are only in the candidate cannot be,
// and is in the returned settings alone.
type SettingsTester interface {
	Tester
	TestSettings(ctx context.Context, p Portal, stored map[string]string) (map[string]string, error)
}

// TestCandidate runs t's live test on the candidate settings p.Adapter
// and returns the settings to store (SettingsTester); for a plain Tester
// they are the candidate as given.
func TestCandidate(ctx context.Context, t Tester, p Portal, stored map[string]string) (map[string]string, error) {
	if st, ok := t.(SettingsTester); ok {
		return st.TestSettings(ctx, p, stored)
	}
	return p.Adapter, t.Test(ctx, p)
}

// TestChanges sorts what a failed live test changed in the candidate
// settings (TestCandidate's result, tested): stored lists the keys the
// adapter already stored as they are now (now, the portal's settings as
// stored at present, when of the same kind), unsaved has the others with
// their new values, which exist nowhere else (tokens given only in the
// candidate, renewed and so spent). Both are empty when the test changed
// nothing.
func TestChanges(candidate, tested, now map[string]string) (stored []string, unsaved map[string]string) {
	unsaved = map[string]string{}
	for k := range keysOf(candidate, tested) {
		v, ok := tested[k]
		if cv, cok := candidate[k]; cok == ok && cv == v {
			continue
		}
		if nv, nok := now[k]; nok == ok && nv == v {
			stored = append(stored, k)
		} else {
			unsaved[k] = v
		}
	}
	sort.Strings(stored)
	return stored, unsaved
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
