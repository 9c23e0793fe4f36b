package telegram

import (
	"context"
	"strconv"
	"strings"
	"unicode/utf8"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/connector-gateway/connector/connectors"
)

// Send sends m.Text to chat m.ChatID (a numeric Telegram chat id). A text
// over 4096 runes is split (see splitText) and sent as several messages, in
// order; m.ReplyTo applies to the first. Files are not supported yet.
//
// Errors are mapped as mapError says. Bad input (empty text, non-numeric
// ids, files) is a *connectors.PermanentError. When a later part fails, the
// returned Delivery holds the ids of the parts already sent, so a caller can
// tell a partial send from a failed one.
func (cn *Connector) Send(ctx context.Context, c connectors.Conn, m connectors.Outbound) (connectors.Delivery, error) {
	if len(m.Files) > 0 {
		return connectors.Delivery{}, permanent("send: files: %w", connectors.ErrUnsupported)
	}
	if strings.TrimSpace(m.Text) == "" {
		return connectors.Delivery{}, permanent("send: text is empty")
	}
	chatID, err := parseChatID(m.ChatID)
	if err != nil {
		return connectors.Delivery{}, err
	}
	replyTo := 0
	if m.ReplyTo != "" {
		if replyTo, err = strconv.Atoi(m.ReplyTo); err != nil {
			return connectors.Delivery{}, permanent("send: reply_to %q is not a Telegram message id", m.ReplyTo)
		}
	}

	token := c.Settings[SettingBotToken]
	bot := cn.bot(ctx, token)
	var d connectors.Delivery
	for _, part := range splitText(m.Text, maxTextRunes) {
		cfg := tgbotapi.NewMessage(chatID, part)
		if replyTo != 0 {
			cfg.ReplyToMessageID = replyTo
			// Send anyway when the replied-to message was deleted.
			cfg.AllowSendingWithoutReply = true
			replyTo = 0
		}
		sent, err := bot.Send(cfg)
		if err != nil {
			return d, mapError(ctx, "send", token, err)
		}
		d.MessageIDs = append(d.MessageIDs, strconv.Itoa(sent.MessageID))
	}
	return d, nil
}

// Edit replaces the text of message e.MessageID in chat e.ChatID. The text
// must be 1 to 4096 runes (an edit cannot be split).
func (cn *Connector) Edit(ctx context.Context, c connectors.Conn, e connectors.Edit) (connectors.Delivery, error) {
	if strings.TrimSpace(e.Text) == "" {
		return connectors.Delivery{}, permanent("edit: text is empty")
	}
	if n := utf8.RuneCountInString(e.Text); n > maxTextRunes {
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
	if _, err := cn.bot(ctx, token).Request(tgbotapi.NewEditMessageText(chatID, msgID, e.Text)); err != nil {
		return connectors.Delivery{}, mapError(ctx, "edit", token, err)
	}
	return connectors.Delivery{MessageIDs: []string{strconv.Itoa(msgID)}}, nil
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
	if _, err := cn.bot(ctx, token).Request(tgbotapi.NewDeleteMessage(chatID, msgID)); err != nil {
		return mapError(ctx, "delete", token, err)
	}
	return nil
}

// Typing shows "typing…" in chat chatID (Telegram shows it for about 5s).
func (cn *Connector) Typing(ctx context.Context, c connectors.Conn, chatID string) error {
	id, err := parseChatID(chatID)
	if err != nil {
		return err
	}
	token := c.Settings[SettingBotToken]
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
