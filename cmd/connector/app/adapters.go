package app

import (
	"net/http"

	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/portal/adapters/rt"
)

// Adapters is the explicit map of helpdesk adapters by portal kind; a
// portal of a kind missing here has its batches failed and retried.
func Adapters(store *Store, client *http.Client) map[string]portal.Deliverer {
	ids := portal.NewAdapterIDs(store.DB)
	return map[string]portal.Deliverer{
		portal.KindRT: &rt.Adapter{IDs: ids, Client: client},
	}
}
