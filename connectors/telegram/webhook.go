package telegram

import (
	"context"
	"errors"
	"fmt"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/connector-gateway/connector/connectors"
)

// allowedUpdates is the JSON list of update kinds the webhook asks for: the
// kinds Parse turns into events.
const allowedUpdates = `["message","edited_message"]`

// Activate starts receiving. In polling mode it removes any webhook (so
// getUpdates works) and returns connectors.ErrNeedsPolling. In webhook mode
// it registers c.EntryURL with the connection's webhook secret, keeping
// updates that are already pending. c.Settings must have been normalized by
// ValidateSettings.
func (cn *Connector) Activate(ctx context.Context, c connectors.Conn) error {
	token := c.Settings[SettingBotToken]
	switch mode := c.Settings[SettingMode]; mode {
	case ModePolling:
		if err := cn.deleteWebhook(ctx, token); err != nil {
			return err
		}
		return connectors.ErrNeedsPolling
	case ModeWebhook, "":
	default:
		return fmt.Errorf("telegram: activate: unknown mode %q", mode)
	}
	if c.EntryURL == "" {
		return errors.New("telegram: activate: the gateway has no public URL configured, so Telegram cannot deliver to a webhook; configure one or use polling mode")
	}
	secret := c.Settings[SettingWebhookSecret]
	if secret == "" {
		return errors.New("telegram: activate: webhook_secret is empty (settings were not validated)")
	}
	_, err := cn.bot(ctx, token).MakeRequest("setWebhook", tgbotapi.Params{
		"url":                  c.EntryURL,
		"secret_token":         secret,
		"allowed_updates":      allowedUpdates,
		"drop_pending_updates": "false",
	})
	return mapError(ctx, "set webhook", token, err)
}

// Deactivate removes the webhook, keeping pending updates. Removing a
// webhook that is not set succeeds.
func (cn *Connector) Deactivate(ctx context.Context, c connectors.Conn) error {
	return cn.deleteWebhook(ctx, c.Settings[SettingBotToken])
}

func (cn *Connector) deleteWebhook(ctx context.Context, token string) error {
	_, err := cn.bot(ctx, token).Request(tgbotapi.DeleteWebhookConfig{DropPendingUpdates: false})
	return mapError(ctx, "delete webhook", token, err)
}
