package telegram

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"
)

// pacer spaces a bot's messages so Telegram does not have to refuse them:
// at most one per ChatInterval to a private chat, one per GroupInterval to a
// group, and one per BotInterval over all chats of the bot. It books slots
// in order of arrival; a chat Telegram asked to wait (429) stays closed
// until retry_after has passed. Other chats are never held up by one chat's
// wait beyond the bot-wide spacing.
type pacer struct {
	chat, group, bot time.Duration
	now              func() time.Time

	mu   sync.Mutex
	next map[string]time.Time // chat key → earliest start of its next message
	// booked holds, per bot, the start times of its booked messages that
	// are not long past, in order. A chat waiting for its own slot books a
	// time in the future; other chats fit in before it.
	booked map[string][]time.Time
}

// pacerSweep is the map size at which stale entries are dropped.
const pacerSweep = 4096

func newPacer(chat, group, bot time.Duration) *pacer {
	if chat <= 0 {
		chat = time.Second
	}
	if group <= 0 {
		group = 3 * time.Second
	}
	if bot <= 0 {
		bot = 34 * time.Millisecond
	}
	return &pacer{chat: chat, group: group, bot: bot, now: time.Now, next: map[string]time.Time{}, booked: map[string][]time.Time{}}
}

// botID is the numeric part of a token: the key pacing is kept under, so
// the token itself is not held in one more place.
func botID(token string) string {
	id, _, _ := strings.Cut(token, ":")
	return id
}

func chatKey(token string, chat int64) string {
	return botID(token) + "/" + strconv.FormatInt(chat, 10)
}

// reserve books the next slot for a message of the bot to chat and returns
// how long to wait for it. When the wait would exceed maxWait nothing is
// booked and ok is false.
func (p *pacer) reserve(token string, chat int64, maxWait time.Duration) (wait time.Duration, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	bk, ck := botID(token), chatKey(token, chat)
	at := now
	if t := p.next[ck]; t.After(at) {
		at = t
	}
	// The earliest time from there that keeps BotInterval to every other
	// booked message of the bot.
	times := p.booked[bk]
	keep := times[:0]
	for _, b := range times {
		if b.After(now.Add(-p.bot)) {
			keep = append(keep, b)
		}
	}
	times = keep
	for _, b := range times {
		if !b.After(at.Add(-p.bot)) {
			continue
		}
		if b.Before(at.Add(p.bot)) {
			at = b.Add(p.bot)
			continue
		}
		break
	}
	wait = at.Sub(now)
	if wait > maxWait {
		p.booked[bk] = times
		return wait, false
	}
	interval := p.chat
	if chat < 0 { // groups, supergroups and channels have negative ids
		interval = p.group
	}
	i := len(times)
	for i > 0 && times[i-1].After(at) {
		i--
	}
	times = append(times, time.Time{})
	copy(times[i+1:], times[i:])
	times[i] = at
	p.booked[bk] = times
	p.next[ck] = at.Add(interval)
	if len(p.next) > pacerSweep {
		for k, t := range p.next {
			if !t.After(now) {
				delete(p.next, k)
			}
		}
	}
	return wait, true
}

// block keeps chat closed until the given time (Telegram's retry_after).
func (p *pacer) block(token string, chat int64, until time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ck := chatKey(token, chat)
	if until.After(p.next[ck]) {
		p.next[ck] = until
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
