package chatwoot

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/connector-gateway/connector/portal"
)

// Settings lists the adapter's settings in the order a form shows them.
func (a *Adapter) Settings() []portal.AdapterSetting {
	return []portal.AdapterSetting{
		{Key: SettingURL, Label: "Chatwoot URL", Required: true,
			Help: "The address of your Chatwoot, e.g. https://chatwoot.example.com (no path)."},
		{Key: SettingAccountID, Label: "Account id", Required: true,
			Help: "The number after /app/accounts/ in Chatwoot's address bar."},
		{Key: SettingInboxID, Label: "Inbox id", Required: true,
			Help: "The API channel inbox the chats go to: the number after /inbox/ in its settings page's address."},
		{Key: SettingToken, Label: "API access token", Required: true, Secret: true,
			Help: "Profile settings → Access token of an agent (or agent bot) who is a member of the inbox."},
		{Key: SettingWebhookSecret, Label: "Webhook secret", Secret: true,
			Help: "Chatwoot 4.13 or later: the inbox's webhook secret (inbox settings → Configuration). Agent replies are accepted only when Chatwoot's signature matches."},
		{Key: SettingWebhookToken, Label: "Webhook URL token", Secret: true,
			Help: "Chatwoot before 4.13, which does not sign: a long random value that ends the inbox's webhook URL (/adapters/<portal id>/<token>)."},
	}
}

// Test checks the settings against Chatwoot without changing anything:
// the server answers, the token is accepted, the inbox exists in the
// account and is an API channel.
func (a *Adapter) Test(ctx context.Context, p portal.Portal) error {
	s := settingsOf(p.Adapter)
	if err := s.check(); err != nil {
		return err
	}
	if s.secret == "" && s.pathToken == "" {
		return errors.New("set webhook_secret (Chatwoot 4.13 or later) or webhook_token: without one the gateway refuses every agent reply")
	}
	var inbox struct {
		ID          id     `json:"id"`
		Name        string `json:"name"`
		ChannelType string `json:"channel_type"`
	}
	err := a.call(ctx, s, http.MethodGet, "/inboxes/"+s.inbox, nil, &inbox)
	switch st := statusOf(err); {
	case err == nil:
	case st == http.StatusUnauthorized:
		return errors.New("Chatwoot refused the API access token, or its user may not see the inbox: copy the token again from the agent's profile settings and make the agent a member of the inbox")
	case st == http.StatusForbidden:
		return errors.New("Chatwoot accepted the token but its user may not see this inbox: add the agent to the inbox")
	case st == http.StatusNotFound:
		return fmt.Errorf("Chatwoot has no inbox %s in account %s: check both ids", s.inbox, s.account)
	case errors.Is(err, errNotJSON):
		return fmt.Errorf("%s answered, but not as Chatwoot does: is it Chatwoot's base URL?", s.url)
	case st != 0:
		return fmt.Errorf("Chatwoot answered %d to the inbox check: is %s Chatwoot's base URL?", st, s.url)
	default:
		return fmt.Errorf("Chatwoot is unreachable at %s: %w", s.url, err)
	}
	if inbox.ChannelType != "Channel::Api" {
		return fmt.Errorf("inbox %s (%s) is a %s inbox, not an API channel: create an API channel inbox for the gateway", s.inbox, inbox.Name, inbox.ChannelType)
	}
	return nil
}
