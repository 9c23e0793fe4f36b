package botframework

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/connector-gateway/connector/connectors"
)

// ParseActivity is Parse after authentication: the decoding and mapping
// of one activity body, for the fuzz test and benchmarks.
func (cn *Connector) ParseActivity(c connectors.Conn, body []byte) ([]connectors.Keyed, error) {
	var a activity
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("%v: %w", err, connectors.ErrMalformed)
	}
	return cn.events(c, &a)
}

// Authenticate exposes the token check with its activity binding.
func (cn *Connector) Authenticate(ctx context.Context, s connectors.Settings, header, serviceURL, channelID string) error {
	who, err := cn.authenticate(ctx, s, header)
	if err != nil {
		return err
	}
	return checkActivity(who, serviceURL, channelID)
}

// KeyFetches is how many times the channel keys were fetched.
func (cn *Connector) KeyFetches() int64 { return cn.channelKeys.Fetches() }

// DecodeChatID exposes the chat id decoding: service URL, conversation,
// channel, tenant.
func DecodeChatID(s string) (serviceURL, conv, channel, tenant string, err error) {
	ref, err := decodeChatID(s)
	return ref.ServiceURL, ref.ConversationID, ref.ChannelID, ref.TenantID, err
}

// EncodeChatID makes the chat id of a conversation reference.
func EncodeChatID(serviceURL, conv, channel, tenant string) string {
	return conversationRef{ServiceURL: serviceURL, ConversationID: conv, ChannelID: channel, TenantID: tenant}.chatID()
}
