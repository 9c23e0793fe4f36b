package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/slack-go/slack/socketmode"

	"github.com/connector-gateway/connector/connectors"
)

// Poll receives through Socket Mode until ctx ends: it opens a connection
// URL with apps.connections.open (app-level token), keeps the websocket up
// (the library reconnects when Slack asks or the link dies), and turns every
// events_api envelope into events with the same parser as Parse. Each
// envelope is acknowledged to Slack only after sink returned nil, i.e. after
// its events are committed; when sink fails the envelope is not
// acknowledged and Slack delivers it again (the dedupe keys absorb a
// redelivery of something that did commit).
//
// Poll returns nil when ctx ends, and an error when Slack refuses the
// app-level token (a retry will not help until the settings change) or
// the connection cannot be kept.
func (cn *Connector) Poll(ctx context.Context, c connectors.Conn, sink connectors.Sink) error {
	app := c.Settings[SettingAppToken]
	if app == "" {
		return errors.New("slack: socket mode needs an app-level token (app_token)")
	}
	log := cn.log.With(slog.String("connection", c.ID), slog.String("connector", Type))
	client := socketmode.New(cn.api(c.Settings[SettingBotToken], app), socketmode.OptionLog(discardLog{}))

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	runErr := make(chan error, 1)
	go func() { runErr <- client.RunContext(runCtx) }()

	for {
		select {
		case err := <-runErr:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("slack: socket mode: %w", mapError(ctx, "open connection", err))
		case evt := <-client.Events:
			switch evt.Type {
			case socketmode.EventTypeEventsAPI, socketmode.EventTypeErrorBadMessage:
				req := evt.Request
				if evt.Type == socketmode.EventTypeErrorBadMessage {
					// The library could not parse this envelope (an event
					// type it does not know, say): parse it ourselves so it
					// is acknowledged rather than redelivered forever.
					bad, ok := evt.Data.(*socketmode.ErrorBadMessage)
					if !ok {
						continue
					}
					req = &socketmode.Request{}
					if json.Unmarshal(bad.Message, req) != nil || req.EnvelopeID == "" {
						log.Warn("slack: socket mode: unreadable message", slog.Any("err", bad.Cause))
						continue
					}
				}
				if req == nil {
					continue
				}
				cn.markSeen(c.ID, cn.dir.now())
				if !cn.deliver(ctx, log, c, req, sink) {
					continue
				}
				if err := client.AckCtx(ctx, req.EnvelopeID, nil); err != nil && ctx.Err() == nil {
					log.Warn("slack: socket mode: acknowledge", slog.Any("err", err))
				}
			case socketmode.EventTypeInteractive, socketmode.EventTypeSlashCommand:
				// Not used by the gateway; acknowledged so Slack does not
				// show the user an error or retry.
				if evt.Request != nil {
					_ = client.AckCtx(ctx, evt.Request.EnvelopeID, nil)
				}
			case socketmode.EventTypeConnectionError:
				log.Warn("slack: socket mode: connection failed, retrying", slog.Any("detail", evt.Data))
			case socketmode.EventTypeInvalidAuth:
				log.Warn("slack: socket mode: Slack refused the app-level token")
			case socketmode.EventTypeConnected:
				log.Info("slack: socket mode connected")
			}
		}
	}
}

// deliver parses one events_api envelope and hands its events to sink. It
// reports whether the envelope may be acknowledged: true when its events
// were committed or it had none, or when it can never be parsed (it would
// only come back); false when sink failed.
func (cn *Connector) deliver(ctx context.Context, log *slog.Logger, c connectors.Conn, req *socketmode.Request, sink func(context.Context, []connectors.Keyed) error) bool {
	n, err := normalizer{cn}.normalize(c, req.Payload)
	if err != nil {
		log.Warn("slack: socket mode: dropped an event the gateway cannot read", slog.String("envelope", req.EnvelopeID), slog.Any("err", err))
		return true
	}
	if len(n.events) == 0 {
		return true
	}
	if err := sink(ctx, n.events); err != nil {
		if ctx.Err() == nil {
			log.Warn("slack: socket mode: could not store events; Slack will deliver them again", slog.Any("err", err))
		}
		return false
	}
	return true
}
