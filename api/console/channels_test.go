package console_test

import (
	"context"
	"strings"
	"testing"

	"github.com/connector-gateway/connector/api/console"
	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// A connection that carries virtual channels (a Bot Framework bot: Teams,
// Web Chat…) shows on the status page and its own page the channels it
// received from, as the inbox recorded them; one without shows none.
func TestStatusShowsVirtualChannelsSeen(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		g := newGateway(t, b, console.Config{}, acmeChat{})
		ctx := context.Background()
		p, _, err := g.Records.CreatePortal(ctx, "Acme", "https://helpdesk.example/hook")
		if err != nil {
			t.Fatal(err)
		}
		l, err := g.Records.CreateLine(ctx, p.ID, "Support")
		if err != nil {
			t.Fatal(err)
		}
		cn, err := g.Records.CreateConnection(ctx, l.ID, "acmechat", connectors.Settings{"api_url": "https://acme.example", "api_key": acmeGoodKey, "region": "us"})
		if err != nil {
			t.Fatal(err)
		}
		quiet, err := g.Records.CreateConnection(ctx, l.ID, "acmechat", connectors.Settings{"api_url": "https://acme.example", "api_key": acmeGoodKey, "region": "us"})
		if err != nil {
			t.Fatal(err)
		}
		// The inbox records a virtual channel once per process, and not
		// the connector's own name.
		inbox := portal.NewInbox(g.Outbox)
		inbox.NoteChannels(g.Records.NoteChannel)
		ev := func(id, channel string) connectors.Keyed {
			return connectors.Keyed{DedupeKey: id, Event: connectors.Event{ID: connectors.EventID(id), Type: connectors.TypeMessageCreated,
				Connector: "acmechat", Channel: channel, Connection: cn.ID, Line: l.ID}}
		}
		if _, err := inbox.Put(ctx, p.ID, l.ID, []connectors.Keyed{
			ev("k1", "acmechat.teams"), ev("k2", "acmechat.teams"), ev("k3", "acmechat.webchat"), ev("k4", "acmechat"),
		}); err != nil {
			t.Fatal(err)
		}
		got, err := g.Records.Channels(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"acmechat.teams", "acmechat.webchat"}; strings.Join(got[cn.ID], ",") != strings.Join(want, ",") || len(got[quiet.ID]) != 0 {
			t.Fatalf("channels recorded = %v, want %v for %s and none for %s", got, want, cn.ID, quiet.ID)
		}

		c := g.login(t, "admin", adminPassword)
		_, status := get(t, c, g.URL+"/console/")
		if !strings.Contains(status, "via acmechat.teams, acmechat.webchat") {
			t.Errorf("status page does not list the channels seen:\n%s", status)
		}
		if strings.Count(status, "data-channels") != 1 {
			t.Errorf("status page shows channels for %d connections, want 1 (the quiet one has none)", strings.Count(status, "data-channels"))
		}
		_, page := get(t, c, g.URL+"/console/connections/"+cn.ID)
		if !strings.Contains(page, "Channels seen") || !strings.Contains(page, "acmechat.teams, acmechat.webchat") {
			t.Errorf("connection page does not list the channels seen:\n%s", page)
		}
	})
}
