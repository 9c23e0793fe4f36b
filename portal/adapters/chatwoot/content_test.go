package chatwoot

import (
	"testing"

	"github.com/connector-gateway/connector/connectors"
)

func TestContent(t *testing.T) {
	msg := func(typ, chatType, text string, files ...connectors.File) connectors.Event {
		return connectors.Event{Type: typ, Chat: &connectors.Chat{ID: "1", Type: chatType, Title: "Team"},
			User: &connectors.User{Name: "Ann"}, Message: &connectors.Message{ID: "m", Text: text, Files: files}}
	}
	for _, c := range []struct {
		name string
		ev   connectors.Event
		want string
	}{
		{"text", msg(connectors.TypeMessageCreated, "private", "Hi"), "Hi"},
		{"group names the author", msg(connectors.TypeMessageCreated, "group", "Hi"), "Ann: Hi"},
		{"edit", msg(connectors.TypeMessageUpdated, "private", "Hi!"), "(edited) Hi!"},
		{"empty edit", msg(connectors.TypeMessageUpdated, "private", ""), ""},
		{"file only", msg(connectors.TypeMessageCreated, "private", "", connectors.File{Kind: "photo", URL: "https://gw/f/1"}), "[file] photo https://gw/f/1"},
		{"too large", msg(connectors.TypeMessageCreated, "private", "see", connectors.File{Name: "film.mp4", TooLarge: true}), "see\n[file] film.mp4 (too large for the gateway to fetch)"},
		{"location", connectors.Event{Type: connectors.TypeMessageCreated, Chat: &connectors.Chat{ID: "1"},
			Message: &connectors.Message{Location: &connectors.Location{Latitude: 52.52, Longitude: 13.405, Title: "Depot"}}}, "[location] 52.520000,13.405000 Depot"},
	} {
		if got := content(c.ev); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	if got := who(msg(connectors.TypeMessageCreated, "group", "x")); got != "Team" {
		t.Errorf("group contact named %q, want the chat's title", got)
	}
}
