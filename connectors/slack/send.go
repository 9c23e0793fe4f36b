package slack

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	slackapi "github.com/slack-go/slack"

	"github.com/connector-gateway/connector/connectors"
)

// maxTextRunes is the longest text sent as one message. Slack takes up to
// 40,000 characters but recommends at most 4,000 for a readable message;
// escaping (& < >) grows a text at most fivefold, which stays under the
// hard limit.
const maxTextRunes = 4000

// chatRef is a chat id taken apart: a channel, and a thread in it.
type chatRef struct {
	channel string
	thread  string
}

func (r chatRef) String() string {
	if r.thread == "" {
		return r.channel
	}
	return r.channel + ":" + r.thread
}

// parseChat reads a chat id as the connector hands them out.
func parseChat(id string) (chatRef, error) {
	ch, thread, hasThread := strings.Cut(id, ":")
	if !idShape.MatchString(ch) || (hasThread && !tsShape.MatchString(thread)) {
		return chatRef{}, permanent("chat id %q is not a Slack channel id (optionally followed by :thread_ts)", id)
	}
	return chatRef{channel: ch, thread: thread}, nil
}

// Send posts m to its chat with chat.postMessage, into the chat's thread
// when the chat id names one. In a chat without a thread, ReplyTo (a
// message ts) puts the answer into that message's thread: Slack's way of
// replying to a message. The text is sent as plain text (formatting off,
// & < > escaped). Files are sent as links, one line each after the text
// ("name: url"); Slack shows each as a link. A text over 4,000 characters
// is split at line or word boundaries into several messages, in order.
//
// Messages to one channel are paced about one a second (Options.
// ChannelInterval). Errors are mapped as mapError says; bad input (an
// unknown chat id form, nothing to send) is a *connectors.PermanentError.
// When a later part fails, the returned Delivery holds the ts of the parts
// already sent.
func (cn *Connector) Send(ctx context.Context, c connectors.Conn, m connectors.Outbound) (connectors.Delivery, error) {
	ref, err := parseChat(m.ChatID)
	if err != nil {
		return connectors.Delivery{}, err
	}
	thread := ref.thread
	if thread == "" && m.ReplyTo != "" {
		if !tsShape.MatchString(m.ReplyTo) {
			return connectors.Delivery{}, permanent("reply_to %q is not a Slack message ts", m.ReplyTo)
		}
		thread = m.ReplyTo
	}
	text := withFileLinks(m.Text, m.Files)
	if strings.TrimSpace(text) == "" {
		return connectors.Delivery{}, permanent("send: text is empty and there are no files")
	}
	api := cn.api(c.Settings[SettingBotToken], "")
	key := c.ID + "/" + ref.channel
	var d connectors.Delivery
	for _, part := range splitText(text, maxTextRunes) {
		if err := cn.pacer.wait(ctx, key); err != nil {
			return d, err
		}
		opts := []slackapi.MsgOption{slackapi.MsgOptionText(part, true), slackapi.MsgOptionDisableMarkdown()}
		if thread != "" {
			opts = append(opts, slackapi.MsgOptionTS(thread))
		}
		_, ts, err := api.PostMessageContext(ctx, ref.channel, opts...)
		if err != nil {
			return d, cn.paced(key, mapError(ctx, "send", err))
		}
		d.MessageIDs = append(d.MessageIDs, ts)
	}
	return d, nil
}

// withFileLinks appends a line per file to text.
func withFileLinks(text string, files []connectors.OutFile) string {
	var b strings.Builder
	b.WriteString(text)
	for _, f := range files {
		if f.URL == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		if f.Name != "" {
			b.WriteString(f.Name)
			b.WriteString(": ")
		}
		b.WriteString(f.URL)
	}
	return b.String()
}

// Edit replaces the text of message e.MessageID (a ts) with chat.update.
// The text must be 1 to 4,000 characters (an edit cannot be split). Slack's
// chat.update has no switch to turn formatting off, so *…* in an edited
// text may be shown bold.
func (cn *Connector) Edit(ctx context.Context, c connectors.Conn, e connectors.Edit) (connectors.Delivery, error) {
	ref, err := parseChat(e.ChatID)
	if err != nil {
		return connectors.Delivery{}, err
	}
	if !tsShape.MatchString(e.MessageID) {
		return connectors.Delivery{}, permanent("message id %q is not a Slack message ts", e.MessageID)
	}
	if strings.TrimSpace(e.Text) == "" {
		return connectors.Delivery{}, permanent("edit: text is empty")
	}
	if n := utf8.RuneCountInString(e.Text); n > maxTextRunes {
		return connectors.Delivery{}, permanent("edit: text is %d characters, one Slack message takes %d", n, maxTextRunes)
	}
	key := c.ID + "/" + ref.channel
	if err := cn.pacer.wait(ctx, key); err != nil {
		return connectors.Delivery{}, err
	}
	_, ts, _, err := cn.api(c.Settings[SettingBotToken], "").UpdateMessageContext(ctx, ref.channel, e.MessageID,
		slackapi.MsgOptionText(e.Text, true), slackapi.MsgOptionDisableMarkdown())
	if err != nil {
		return connectors.Delivery{}, cn.paced(key, mapError(ctx, "edit", err))
	}
	return connectors.Delivery{MessageIDs: []string{firstNonEmpty(ts, e.MessageID)}}, nil
}

// Delete deletes message d.MessageID (a ts) with chat.delete.
func (cn *Connector) Delete(ctx context.Context, c connectors.Conn, d connectors.Delete) error {
	ref, err := parseChat(d.ChatID)
	if err != nil {
		return err
	}
	if !tsShape.MatchString(d.MessageID) {
		return permanent("message id %q is not a Slack message ts", d.MessageID)
	}
	key := c.ID + "/" + ref.channel
	if err := cn.pacer.wait(ctx, key); err != nil {
		return err
	}
	if _, _, err := cn.api(c.Settings[SettingBotToken], "").DeleteMessageContext(ctx, ref.channel, d.MessageID); err != nil {
		return cn.paced(key, mapError(ctx, "delete", err))
	}
	return nil
}

// paced holds a channel back for as long as a rate limit says, so other
// chats of the same channel (threads) wait too; err is returned unchanged.
func (cn *Connector) paced(key string, err error) error {
	var rl *connectors.RateLimitedError
	if errors.As(err, &rl) {
		cn.pacer.hold(key, rl.RetryAfter)
	}
	return err
}

// splitText cuts text into parts of at most max runes, preferring to cut
// after a line break, then after a space; a part is never empty.
func splitText(text string, max int) []string {
	var parts []string
	for utf8.RuneCountInString(text) > max {
		// Byte offset just past max runes.
		end := 0
		for i := 0; i < max; i++ {
			_, n := utf8.DecodeRuneInString(text[end:])
			end += n
		}
		cut := strings.LastIndexByte(text[:end], '\n') + 1
		if cut < end/2 {
			if sp := strings.LastIndexFunc(text[:end], unicode.IsSpace); sp >= end/2 {
				_, n := utf8.DecodeRuneInString(text[sp:])
				cut = sp + n
			} else {
				cut = end
			}
		}
		parts = append(parts, text[:cut])
		text = text[cut:]
	}
	if text != "" || len(parts) == 0 {
		parts = append(parts, text)
	}
	return parts
}

// pacer spaces out messages per key (connection and channel): each call to
// wait reserves the key's next free slot, interval after the previous one,
// and sleeps until it.
type pacer struct {
	interval time.Duration
	now      func() time.Time
	sleep    func(ctx context.Context, d time.Duration) error

	mu   sync.Mutex
	next map[string]time.Time
}

func newPacer(interval time.Duration) *pacer {
	return &pacer{interval: interval, now: time.Now, sleep: sleepCtx, next: map[string]time.Time{}}
}

// wait blocks until key's next slot, or until ctx ends (its error then).
func (p *pacer) wait(ctx context.Context, key string) error {
	if p.interval <= 0 {
		return nil
	}
	p.mu.Lock()
	now := p.now()
	at := now
	if n, ok := p.next[key]; ok && n.After(at) {
		at = n
	}
	p.next[key] = at.Add(p.interval)
	if len(p.next) > 10000 {
		for k, n := range p.next {
			if n.Before(now) {
				delete(p.next, k)
			}
		}
	}
	p.mu.Unlock()
	if d := at.Sub(now); d > 0 {
		return p.sleep(ctx, d)
	}
	return nil
}

// hold keeps key's next slot at least d away.
func (p *pacer) hold(key string, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if until := p.now().Add(d); until.After(p.next[key]) {
		p.next[key] = until
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
