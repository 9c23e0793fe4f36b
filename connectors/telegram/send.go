package telegram

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/connector-gateway/connector/connectors"
)

// maxCaptionRunes is Telegram's limit on a photo's or document's caption.
const maxCaptionRunes = 1024

// part is one Telegram message of an outbound message: a text, or a file
// (with an optional caption).
type part struct {
	text    string
	file    *connectors.OutFile
	caption string
}

// plan cuts m into the messages Telegram gets, in order: the text (split
// above 4096 characters) and then one message per file; a text that fits a
// caption (1024 characters) rides on the first file instead. The plan
// depends only on m, so a retry that skips m.SentParts parts continues
// exactly where the earlier attempt stopped.
func plan(m connectors.Outbound) ([]part, error) {
	hasText := strings.TrimSpace(m.Text) != ""
	if !hasText && len(m.Files) == 0 {
		return nil, permanent("send: nothing to send: the text is empty and there are no files")
	}
	for i, f := range m.Files {
		u, err := url.Parse(f.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, permanent("send: file %d: %q is not an absolute http(s) URL Telegram could fetch", i+1, f.URL)
		}
	}
	var parts []part
	caption := ""
	switch {
	case hasText && len(m.Files) > 0 && utf8.RuneCountInString(m.Text) <= maxCaptionRunes:
		caption = m.Text
	case hasText:
		for _, t := range splitText(m.Text, maxTextRunes) {
			parts = append(parts, part{text: t})
		}
	}
	for i := range m.Files {
		p := part{file: &m.Files[i]}
		if i == 0 {
			p.caption = caption
		}
		parts = append(parts, p)
	}
	return parts, nil
}

// Send delivers m to chat m.ChatID (a numeric Telegram chat id) as the
// messages plan makes of it, in order, skipping the m.SentParts parts an
// earlier attempt delivered; m.ReplyTo applies to the first message. Files
// go by URL (Telegram fetches them): images as photos (sendPhoto), anything
// else, or an image Telegram cannot process as a photo, as documents
// (sendDocument).
//
// Messages are paced per chat and per bot (Options.ChatInterval...). When
// the next free slot lies beyond ctx's deadline, Send returns a
// *connectors.RateLimitedError instead of waiting, as it does when Telegram
// answers 429 (the chat then stays closed for retry_after). Other errors
// are mapped as mapError says; bad input is a *connectors.PermanentError.
// With an error, the returned Delivery holds the ids of the messages that
// did go out, so a retry can skip them.
func (cn *Connector) Send(ctx context.Context, c connectors.Conn, m connectors.Outbound) (connectors.Delivery, error) {
	token := c.Settings[SettingBotToken]
	if token == "" {
		return connectors.Delivery{}, permanent("send: the connection has no bot token (its bot may have been bound to another line)")
	}
	parts, err := plan(m)
	if err != nil {
		return connectors.Delivery{}, err
	}
	chatID, err := parseChatID(m.ChatID)
	if err != nil {
		return connectors.Delivery{}, err
	}
	replyTo := 0
	if m.ReplyTo != "" {
		if replyTo, err = strconv.Atoi(m.ReplyTo); err != nil || replyTo <= 0 {
			return connectors.Delivery{}, permanent("send: reply_to %q is not a Telegram message id", m.ReplyTo)
		}
	}
	var d connectors.Delivery
	for i := max(m.SentParts, 0); i < len(parts); i++ {
		if err := cn.waitTurn(ctx, "send", token, chatID); err != nil {
			return d, err
		}
		reply := 0
		if i == 0 {
			reply = replyTo
		}
		id, err := cn.sendPart(ctx, token, chatID, parts[i], reply)
		if err != nil {
			return d, cn.noteLimit(token, chatID, err)
		}
		d.MessageIDs = append(d.MessageIDs, strconv.Itoa(id))
	}
	return d, nil
}

// sendPart sends one message and returns its id. Errors are mapped.
func (cn *Connector) sendPart(ctx context.Context, token string, chatID int64, p part, replyTo int) (int, error) {
	bot := cn.bot(ctx, token)
	base := tgbotapi.BaseChat{ChatID: chatID, ReplyToMessageID: replyTo, AllowSendingWithoutReply: replyTo != 0}
	var cfg tgbotapi.Chattable
	switch {
	case p.file == nil:
		cfg = tgbotapi.MessageConfig{BaseChat: base, Text: p.text}
	case isPhoto(*p.file):
		cfg = tgbotapi.PhotoConfig{BaseFile: tgbotapi.BaseFile{BaseChat: base, File: tgbotapi.FileURL(p.file.URL)}, Caption: p.caption}
	default:
		cfg = tgbotapi.DocumentConfig{BaseFile: tgbotapi.BaseFile{BaseChat: base, File: tgbotapi.FileURL(p.file.URL)}, Caption: p.caption}
	}
	sent, err := bot.Send(cfg)
	var apiErr *tgbotapi.Error
	if err != nil && p.file != nil && isPhoto(*p.file) && errors.As(err, &apiErr) && photoRefused(apiErr) {
		// Telegram could not make a photo of it (size, format): the
		// customer still gets the file.
		sent, err = bot.Send(tgbotapi.DocumentConfig{BaseFile: tgbotapi.BaseFile{BaseChat: base, File: tgbotapi.FileURL(p.file.URL)}, Caption: p.caption})
	}
	if err != nil {
		return 0, mapError(ctx, "send", token, err)
	}
	return sent.MessageID, nil
}

// isPhoto tells whether a file goes out as a photo: an image Telegram shows
// inline, by its MIME type or, without one, by the URL's extension.
func isPhoto(f connectors.OutFile) bool {
	mime := strings.ToLower(strings.TrimSpace(strings.SplitN(f.Mime, ";", 2)[0]))
	if mime != "" {
		return mime == "image/jpeg" || mime == "image/png" || mime == "image/webp"
	}
	u, err := url.Parse(f.URL)
	if err != nil {
		return false
	}
	switch strings.ToLower(path.Ext(u.Path)) {
	case ".jpg", ".jpeg", ".png", ".webp":
		return true
	}
	return false
}

// photoRefused tells a sendPhoto failure that sendDocument may not have.
func photoRefused(e *tgbotapi.Error) bool {
	if e.Code != 400 {
		return false
	}
	msg := strings.ToUpper(e.Message)
	return strings.Contains(msg, "PHOTO_") || strings.Contains(msg, "IMAGE_PROCESS_FAILED") || strings.Contains(msg, "WRONG TYPE OF THE WEB PAGE CONTENT")
}

// waitTurn waits for the chat's next pacing slot. A slot beyond ctx's
// deadline is not waited for: that is a *connectors.RateLimitedError.
func (cn *Connector) waitTurn(ctx context.Context, op, token string, chatID int64) error {
	maxWait := time.Minute
	if dl, ok := ctx.Deadline(); ok {
		maxWait = max(time.Until(dl)-time.Second, 0)
	}
	wait, ok := cn.pace.reserve(token, chatID, maxWait)
	if !ok {
		return &connectors.RateLimitedError{RetryAfter: wait, Err: fmt.Errorf("telegram: %s: the chat's next free slot is %s away", op, wait.Round(time.Millisecond))}
	}
	if err := sleep(ctx, wait); err != nil {
		return fmt.Errorf("telegram: %s: %w", op, err)
	}
	return nil
}

// noteLimit keeps a chat closed for as long as Telegram asked (429).
func (cn *Connector) noteLimit(token string, chatID int64, err error) error {
	var rl *connectors.RateLimitedError
	if errors.As(err, &rl) {
		cn.pace.block(token, chatID, time.Now().Add(rl.RetryAfter))
	}
	return err
}

// Edit replaces the text of message e.MessageID in chat e.ChatID, or its
// caption when the message is a photo or document (Telegram says it has no
// text to edit). The text must fit one message (4096 characters, a caption
// 1024). An edit that changes nothing succeeds.
func (cn *Connector) Edit(ctx context.Context, c connectors.Conn, e connectors.Edit) (connectors.Delivery, error) {
	if strings.TrimSpace(e.Text) == "" {
		return connectors.Delivery{}, permanent("edit: text is empty")
	}
	n := utf8.RuneCountInString(e.Text)
	if n > maxTextRunes {
		return connectors.Delivery{}, permanent("edit: text is %d characters, Telegram allows %d", n, maxTextRunes)
	}
	chatID, err := parseChatID(e.ChatID)
	if err != nil {
		return connectors.Delivery{}, err
	}
	msgID, err := parseMessageID(e.MessageID)
	if err != nil {
		return connectors.Delivery{}, err
	}
	token := c.Settings[SettingBotToken]
	if token == "" {
		return connectors.Delivery{}, permanent("edit: the connection has no bot token (its bot may have been bound to another line)")
	}
	if err := cn.waitTurn(ctx, "edit", token, chatID); err != nil {
		return connectors.Delivery{}, err
	}
	done := connectors.Delivery{MessageIDs: []string{strconv.Itoa(msgID)}}
	bot := cn.bot(ctx, token)
	_, err = bot.Request(tgbotapi.NewEditMessageText(chatID, msgID, e.Text))
	var apiErr *tgbotapi.Error
	if errors.As(err, &apiErr) && apiErr.Code == 400 && strings.Contains(apiErr.Message, "no text in the message") {
		if n > maxCaptionRunes {
			return connectors.Delivery{}, permanent("edit: the message is a file whose caption holds at most %d characters; the text has %d", maxCaptionRunes, n)
		}
		_, err = bot.Request(tgbotapi.NewEditMessageCaption(chatID, msgID, e.Text))
	}
	if errors.As(err, &apiErr) && apiErr.Code == 400 && strings.Contains(apiErr.Message, "message is not modified") {
		return done, nil
	}
	if err != nil {
		return connectors.Delivery{}, cn.noteLimit(token, chatID, mapError(ctx, "edit", token, err))
	}
	return done, nil
}

// Delete deletes message d.MessageID in chat d.ChatID.
func (cn *Connector) Delete(ctx context.Context, c connectors.Conn, d connectors.Delete) error {
	chatID, err := parseChatID(d.ChatID)
	if err != nil {
		return err
	}
	msgID, err := parseMessageID(d.MessageID)
	if err != nil {
		return err
	}
	token := c.Settings[SettingBotToken]
	if token == "" {
		return permanent("delete: the connection has no bot token (its bot may have been bound to another line)")
	}
	if _, err := cn.bot(ctx, token).Request(tgbotapi.NewDeleteMessage(chatID, msgID)); err != nil {
		return cn.noteLimit(token, chatID, mapError(ctx, "delete", token, err))
	}
	return nil
}

// Typing shows "typing…" in chat chatID (Telegram shows it for about 5s).
// It is not paced: a chat action is not a message.
func (cn *Connector) Typing(ctx context.Context, c connectors.Conn, chatID string) error {
	id, err := parseChatID(chatID)
	if err != nil {
		return err
	}
	token := c.Settings[SettingBotToken]
	if token == "" {
		return permanent("typing: the connection has no bot token")
	}
	if _, err := cn.bot(ctx, token).Request(tgbotapi.NewChatAction(id, tgbotapi.ChatTyping)); err != nil {
		return mapError(ctx, "typing", token, err)
	}
	return nil
}

func parseChatID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id == 0 {
		return 0, permanent("chat id %q is not a Telegram chat id", s)
	}
	return id, nil
}

func parseMessageID(s string) (int, error) {
	id, err := strconv.Atoi(s)
	if err != nil || id <= 0 {
		return 0, permanent("message id %q is not a Telegram message id", s)
	}
	return id, nil
}
