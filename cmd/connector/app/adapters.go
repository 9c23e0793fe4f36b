package app

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/portal/adapters/bitrix24"
	"github.com/connector-gateway/connector/portal/adapters/rt"
)

// Adapters is the explicit map of helpdesk adapters by portal kind; a
// portal of a kind missing here has its batches failed and retried.
// publicURL is where helpdesks call the gateway back (Bitrix24's events).
func Adapters(store *Store, client *http.Client, publicURL string, log *slog.Logger) map[string]portal.Deliverer {
	ids := portal.NewAdapterIDs(store.DB)
	return map[string]portal.Deliverer{
		portal.KindRT: &rt.Adapter{IDs: ids, Client: client},
		portal.KindBitrix24: &bitrix24.Adapter{IDs: ids, Portals: store.Records, Outbound: store.Outbound,
			PublicURL: publicURL, Client: client, Logger: log},
	}
}

// wakeSenderFromAdapters lets the adapters that take agents' replies over
// webhooks wake the sender, which is built after them.
func wakeSenderFromAdapters(adapters map[string]portal.Deliverer, wake func()) {
	if b, ok := adapters[portal.KindBitrix24].(*bitrix24.Adapter); ok {
		b.Wake = wake
	}
}

// rtReplies polls Request Tracker portals for staff replies and hands them
// to the sender. With no rt portal it lists portals every 5 s and does
// nothing else.
func rtReplies(store *Store, sender *portal.Sender, log *slog.Logger) *rt.Replies {
	return &rt.Replies{IDs: portal.NewAdapterIDs(store.DB), Portals: store.Records, Outbound: store.Outbound,
		Wake: sender.Wake, Every: 5 * time.Second, Logger: log}
}
