package app

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/portal/adapters/bitrix24"
	"github.com/connector-gateway/connector/portal/adapters/chatwoot"
	"github.com/connector-gateway/connector/portal/adapters/rt"
)

// Adapters is the explicit map of helpdesk adapters by portal kind; a
// portal of a kind missing here has its batches failed and retried.
// publicURL is where helpdesks call the gateway back (Bitrix24's events);
// wakeSender is called when an adapter's webhook stored an outbound
// request (an agent's reply).
func Adapters(store *Store, client *http.Client, publicURL string, log *slog.Logger, wakeSender func()) map[string]portal.Deliverer {
	ids := portal.NewAdapterIDs(store.DB)
	return map[string]portal.Deliverer{
		portal.KindRT:       &rt.Adapter{IDs: ids, Client: client},
		portal.KindChatwoot: &chatwoot.Adapter{IDs: ids, Outbound: store.Outbound, Wake: wakeSender, Client: client, Logger: log},
		portal.KindBitrix24: &bitrix24.Adapter{IDs: ids, Portals: store.Records, Outbound: store.Outbound,
			PublicURL: publicURL, Client: client, Logger: log, Wake: wakeSender},
	}
}

// rtReplies polls Request Tracker portals for staff replies and hands them
// to the sender. With no rt portal it lists portals every 5 s and does
// nothing else.
func rtReplies(store *Store, sender *portal.Sender, log *slog.Logger) *rt.Replies {
	return &rt.Replies{IDs: portal.NewAdapterIDs(store.DB), Portals: store.Records, Outbound: store.Outbound,
		Wake: sender.Wake, Every: 5 * time.Second, Logger: log}
}
