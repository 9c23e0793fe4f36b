package slacktest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// Customer is the member the builders write as by default.
var Customer = User{
	ID: "U0CUST001", Name: "anna.berg", RealName: "Anna Berg", DisplayName: "Anna",
	Image192: "https://avatars.slack-edge.com/2024-01-01/1_anna_192.png", Locale: "de-DE",
}

// Sign returns the headers Slack sends with an Events API request: the
// request timestamp and the v0 signature, hex(HMAC-SHA256(secret,
// "v0:<timestamp>:<body>")).
func Sign(secret string, at time.Time, body []byte) http.Header {
	ts := strconv.FormatInt(at.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("v0:" + ts + ":"))
	m.Write(body)
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("X-Slack-Request-Timestamp", ts)
	h.Set("X-Slack-Signature", "v0="+hex.EncodeToString(m.Sum(nil)))
	return h
}

// URLVerification is the handshake Slack posts when an admin enters the
// Request URL.
func URLVerification(challenge string) []byte {
	return mustJSON(map[string]any{
		"token":     "Jhj5dZrVaK7ZwHHjRyZWjbDl",
		"challenge": challenge,
		"type":      "url_verification",
	})
}

// EventCallback wraps an inner event in the Events API envelope Slack posts,
// with the app's bot in authorizations.
func EventCallback(eventID string, inner map[string]any) []byte {
	evTS, _ := inner["event_ts"].(string)
	t, _ := strconv.ParseFloat(evTS, 64)
	return mustJSON(map[string]any{
		"token":      "Jhj5dZrVaK7ZwHHjRyZWjbDl",
		"team_id":    TeamID,
		"api_app_id": AppID,
		"event":      inner,
		"type":       "event_callback",
		"event_id":   eventID,
		"event_time": int64(t),
		"authorizations": []any{map[string]any{
			"enterprise_id": nil, "team_id": TeamID, "user_id": BotUserID,
			"is_bot": true, "is_enterprise_install": false,
		}},
		"is_ext_shared_channel": false,
		"event_context":         "4-eyJldCI6Im1lc3NhZ2UiLCJ0aWQiOiJUMFRFQU0wMDEifQ",
	})
}

// Message is a "message" event as Slack sends it for a member's new message
// in channel (channelType "im", "channel", "group" or "mpim"), with the
// rich_text block Slack's clients add.
func Message(channel, channelType, user, text, ts string) map[string]any {
	return map[string]any{
		"client_msg_id": "5c3f1b7e-8a2d-4c51-9f1e-" + tsDigits(ts),
		"type":          "message",
		"text":          text,
		"user":          user,
		"ts":            ts,
		"blocks": []any{map[string]any{
			"type": "rich_text", "block_id": "bk" + tsDigits(ts)[:4],
			"elements": []any{map[string]any{
				"type":     "rich_text_section",
				"elements": []any{map[string]any{"type": "text", "text": text}},
			}},
		}},
		"team":         TeamID,
		"channel":      channel,
		"event_ts":     ts,
		"channel_type": channelType,
	}
}

// ThreadReply is a member's reply in the thread of the message threadTS.
func ThreadReply(channel, channelType, user, text, ts, threadTS string) map[string]any {
	m := Message(channel, channelType, user, text, ts)
	m["thread_ts"] = threadTS
	m["parent_user_id"] = user
	return m
}

// AppMention is an "app_mention" event: a member mentions the app in a
// channel.
func AppMention(channel, user, text, ts string) map[string]any {
	return map[string]any{
		"client_msg_id": "9a8b7c6d-1e2f-4a3b-8c9d-" + tsDigits(ts),
		"type":          "app_mention",
		"text":          text,
		"user":          user,
		"ts":            ts,
		"team":          TeamID,
		"channel":       channel,
		"event_ts":      ts,
	}
}

// MessageChanged is the "message" event of subtype message_changed Slack
// sends when a member edits message ts at editTS.
func MessageChanged(channel, channelType, user, ts, oldText, newText, editTS string) map[string]any {
	return map[string]any{
		"type":    "message",
		"subtype": "message_changed",
		"message": map[string]any{
			"client_msg_id": "5c3f1b7e-8a2d-4c51-9f1e-" + tsDigits(ts),
			"type":          "message", "text": newText, "user": user, "team": TeamID,
			"edited": map[string]any{"user": user, "ts": editTS},
			"ts":     ts, "source_team": TeamID, "user_team": TeamID,
		},
		"previous_message": map[string]any{
			"client_msg_id": "5c3f1b7e-8a2d-4c51-9f1e-" + tsDigits(ts),
			"type":          "message", "text": oldText, "user": user, "team": TeamID, "ts": ts,
		},
		"channel":      channel,
		"hidden":       true,
		"ts":           editTS,
		"event_ts":     editTS,
		"channel_type": channelType,
	}
}

// MessageDeleted is the "message" event of subtype message_deleted for
// message ts, deleted at eventTS.
func MessageDeleted(channel, channelType, user, ts, oldText, eventTS string) map[string]any {
	return map[string]any{
		"type":       "message",
		"subtype":    "message_deleted",
		"hidden":     true,
		"deleted_ts": ts,
		"channel":    channel,
		"previous_message": map[string]any{
			"type": "message", "text": oldText, "user": user, "team": TeamID, "ts": ts,
		},
		"event_ts":     eventTS,
		"ts":           eventTS,
		"channel_type": channelType,
	}
}

// FileShare is a member's message of subtype file_share with files (as
// AddFile returns them).
func FileShare(channel, channelType, user, text, ts string, files ...map[string]any) map[string]any {
	m := Message(channel, channelType, user, text, ts)
	m["subtype"] = "file_share"
	m["upload"] = false
	m["display_as_bot"] = false
	fs := make([]any, len(files))
	for i, f := range files {
		fs[i] = f
	}
	m["files"] = fs
	return m
}

// BotMessage is a message posted by an app: this one when botID is BotID.
func BotMessage(channel, channelType, botID, text, ts string) map[string]any {
	return map[string]any{
		"type":         "message",
		"subtype":      "bot_message",
		"text":         text,
		"ts":           ts,
		"bot_id":       botID,
		"username":     "Some bot",
		"channel":      channel,
		"event_ts":     ts,
		"channel_type": channelType,
	}
}

// AppMessage is how Slack reports a message this app posted with
// chat.postMessage: a plain message with the bot's user and bot_id.
func AppMessage(channel, channelType, text, ts string) map[string]any {
	return map[string]any{
		"type":         "message",
		"text":         text,
		"user":         BotUserID,
		"bot_id":       BotID,
		"app_id":       AppID,
		"ts":           ts,
		"team":         TeamID,
		"bot_profile":  map[string]any{"id": BotID, "app_id": AppID, "name": BotName, "deleted": false, "team_id": TeamID},
		"channel":      channel,
		"event_ts":     ts,
		"channel_type": channelType,
	}
}

// UserChange is the "user_change" event Slack sends when a member's
// profile changes.
func UserChange(u User, eventTS string) map[string]any {
	return map[string]any{
		"type":     "user_change",
		"user":     UserJSON(u),
		"cache_ts": 1700000000,
		"event_ts": eventTS,
	}
}

// ChannelJoin is the message Slack posts when a member joins a channel.
func ChannelJoin(channel, user, ts string) map[string]any {
	return map[string]any{
		"type": "message", "subtype": "channel_join", "user": user,
		"text": "<@" + user + "> has joined the channel", "ts": ts,
		"channel": channel, "event_ts": ts, "channel_type": "channel",
	}
}

func tsDigits(ts string) string {
	out := make([]byte, 0, 12)
	for i := 0; i < len(ts) && len(out) < 12; i++ {
		if ts[i] >= '0' && ts[i] <= '9' {
			out = append(out, ts[i])
		}
	}
	for len(out) < 12 {
		out = append(out, '0')
	}
	return string(out)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // maps of plain values always marshal
	}
	return b
}
