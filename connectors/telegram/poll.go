package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/connector-gateway/connector/connectors"
)

// pollLimit is the most updates one getUpdates call returns (Telegram's
// maximum).
const pollLimit = 100

// pollBackoff is the wait after the 1st, 2nd... failed call in a row; the
// last entry repeats.
var pollBackoff = [...]time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second}

// Poll receives the connection's updates with getUpdates until ctx ends.
//
// It resumes at the offset c.Cursor holds, long-polls for at most
// Options.PollTimeout per call, parses each update exactly as Parse does
// (same events, same dedupe keys), hands the events of one call to sink
// and, only once sink returned nil (the events are committed), saves the
// offset after them. Telegram confirms updates below the offset of the next
// call, so an update is dropped by Telegram only after it was committed
// here; a crash in between makes Telegram send it again, and its dedupe
// key absorbs the repeat.
//
// An update that is not valid JSON is logged and skipped (offset advanced),
// so it cannot block the stream. Transient failures (network, 5xx, 409
// because a webhook is set or another program polls the bot, sink errors)
// are logged and retried with growing pauses. Poll returns nil when ctx
// ends, an error wrapping connectors.ErrLeaseLost when the cursor says
// another process polls now, and a *connectors.PermanentError when Telegram
// no longer accepts the token.
func (cn *Connector) Poll(ctx context.Context, c connectors.Conn, sink connectors.Sink) error {
	token := c.Settings[SettingBotToken]
	if token == "" {
		return permanent("poll: no bot token is set")
	}
	if c.Cursor == nil {
		return errors.New("telegram: poll: no cursor to keep the offset in")
	}
	log := cn.log.With(slog.String("connection", c.ID), slog.String("connector", Type))
	failures := 0
	pause := func(what string, err error) {
		wait := pollBackoff[min(failures, len(pollBackoff)-1)]
		failures++
		log.Warn("telegram: poll: "+what+", will retry", slog.Duration("in", wait), slog.String("reason", err.Error()))
		_ = sleep(ctx, wait)
	}

	var offset int64
	for {
		pos, err := c.Cursor.Load(ctx)
		if err == nil {
			offset, _ = strconv.ParseInt(pos, 10, 64) // "" (first run) → 0: all pending updates
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		pause("load offset", err)
	}

	for ctx.Err() == nil {
		raws, err := cn.getUpdates(ctx, token, offset)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var apiErr *tgbotapi.Error
			if errors.As(err, &apiErr) && (apiErr.Code == 401 || apiErr.Code == 404) {
				return permanent("poll: Telegram no longer accepts the bot token (%s); put in a new token from @BotFather and activate the connection again", scrub(apiErr.Message, token))
			}
			what := "getUpdates failed"
			if errors.As(err, &apiErr) && apiErr.Code == 409 {
				what = "Telegram refuses polling while a webhook is set or another program polls this bot"
			}
			pause(what, mapError(ctx, "poll", token, err))
			continue
		}
		failures = 0
		if len(raws) == 0 {
			continue
		}
		next, events := offset, []connectors.Keyed(nil)
		for _, raw := range raws {
			var head struct {
				UpdateID int64 `json:"update_id"`
			}
			if err := json.Unmarshal(raw, &head); err != nil || head.UpdateID <= 0 {
				log.Warn("telegram: poll: skipped an update without update_id")
				continue
			}
			next = max(next, head.UpdateID+1)
			evs, err := parseUpdate(c, cn.users, raw)
			if err != nil {
				log.Warn("telegram: poll: skipped a malformed update", slog.Int64("update_id", head.UpdateID), slog.String("reason", err.Error()))
				continue
			}
			events = append(events, evs...)
		}
		if next == offset {
			pause("no update in the answer had an update_id", errors.New("unusable getUpdates answer"))
			continue
		}
		for len(events) > 0 {
			err := sink(ctx, events)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return nil
			}
			pause("storing updates failed", err)
		}
		if err := c.Cursor.Save(ctx, strconv.FormatInt(next, 10)); err != nil {
			if errors.Is(err, connectors.ErrLeaseLost) {
				return fmt.Errorf("telegram: poll: %w", err)
			}
			if ctx.Err() != nil {
				return nil
			}
			// The events are committed; the next call confirms them to
			// Telegram anyway. A restart before the offset is saved
			// re-reads them and dedupe drops them.
			log.Warn("telegram: poll: save offset", slog.String("reason", err.Error()))
		}
		offset = next
	}
	return nil
}

// getUpdates makes one long-poll call and returns the raw updates, so each
// is parsed by the same code as a webhook body.
func (cn *Connector) getUpdates(ctx context.Context, token string, offset int64) ([]json.RawMessage, error) {
	params := tgbotapi.Params{
		"timeout":         strconv.Itoa(max(1, int(cn.pollTimeout/time.Second))),
		"limit":           strconv.Itoa(pollLimit),
		"allowed_updates": allowedUpdates,
	}
	if offset > 0 {
		params["offset"] = strconv.FormatInt(offset, 10)
	}
	resp, err := cn.botWith(ctx, token, cn.pollClient).MakeRequest("getUpdates", params)
	if err != nil {
		return nil, err
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(resp.Result, &raws); err != nil {
		return nil, fmt.Errorf("decode getUpdates result: %w", err)
	}
	return raws, nil
}
