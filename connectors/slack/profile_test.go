package slack_test

import (
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors/slack/slacktest"
)

// Parse never waits for Slack: with users.info and conversations.info held
// the request is still answered, and the profile arrives in the background.
func TestProfileIsLookedUpOffTheRequestPath(t *testing.T) {
	cn, c, srv := setup(t)
	releaseUsers := srv.Hold("users.info")
	releaseChannels := srv.Hold("conversations.info")
	done := make(chan struct{})
	go func() {
		defer close(done)
		ev := one(t, cn, c, slacktest.EventCallback("EvP1", slacktest.Message(channel, "channel", cust, "first", "1700002000.000100"))).Event
		if ev.User.ID != cust || ev.User.Name != "" || ev.User.ProfileHash == "" {
			t.Errorf("first event user = %+v, want the id and a hash only", ev.User)
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Parse waited for users.info: Slack is being called on the request path")
	}
	releaseUsers()
	releaseChannels()
	cn.WaitLookups()
	if n := len(srv.Calls("users.info")); n != 1 {
		t.Fatalf("users.info called %d times", n)
	}
	ev := one(t, cn, c, slacktest.EventCallback("EvP2", slacktest.Message(channel, "channel", cust, "second", "1700002001.000100"))).Event
	u := slacktest.Customer
	if ev.User.Name != u.RealName || ev.User.Username != u.DisplayName || ev.User.AvatarURL != u.Image192 || ev.User.Language != u.Locale {
		t.Fatalf("second event user = %+v", ev.User)
	}
	if ev.Chat.Title != "support" {
		t.Fatalf("chat title = %q", ev.Chat.Title)
	}
	if n := len(srv.Calls("users.info")); n != 1 {
		t.Fatalf("a known profile was looked up again: users.info called %d times", n)
	}
}

// profile_hash changes exactly when what the event says about the user
// changes: not between two messages, yes when the profile changed.
func TestProfileHashChangesExactlyWithTheProfile(t *testing.T) {
	cn, c, srv := setup(t)
	msg := func(n int) string {
		ts := "1700003000.00000" + string(rune('0'+n))
		ev := one(t, cn, c, slacktest.EventCallback("EvH"+ts, slacktest.Message(dm, "im", cust, "x", ts))).Event
		return ev.User.ProfileHash
	}
	cold := msg(1)
	cn.WaitLookups()
	warm1, warm2 := msg(2), msg(3)
	if warm1 == cold {
		t.Fatal("hash unchanged although the event now carries the name")
	}
	if warm1 != warm2 {
		t.Fatal("hash changed between two messages of an unchanged profile")
	}
	// The customer changes their display name; Slack tells with user_change,
	// which updates the profile without any lookup.
	changed := slacktest.Customer
	changed.DisplayName = "Anna B."
	srv.SetUser(changed)
	none(t, cn, c, slacktest.EventCallback("EvH-chg", slacktest.UserChange(changed, "1700003001.000100")))
	after := msg(4)
	ev := one(t, cn, c, slacktest.EventCallback("EvH5", slacktest.Message(dm, "im", cust, "y", "1700003000.000005"))).Event
	if after == warm2 || ev.User.Username != "Anna B." {
		t.Fatalf("after a profile change: hash %s (was %s), username %q", after, warm2, ev.User.Username)
	}
	if n := len(srv.Calls("users.info")); n != 1 {
		t.Fatalf("users.info called %d times; user_change should have been enough", n)
	}
}

// A lookup that fails is not retried on every message, and the event still
// carries the user id.
func TestFailedLookupIsNotHammered(t *testing.T) {
	cn, c, srv := setup(t)
	srv.FailNext("users.info", 5, "user_not_found")
	for i := range 3 {
		ts := "1700004000.00000" + string(rune('1'+i))
		ev := one(t, cn, c, slacktest.EventCallback("EvL"+ts, slacktest.Message(dm, "im", "U0GHOST01", "x", ts))).Event
		if ev.User.ID != "U0GHOST01" || ev.User.ProfileHash == "" {
			t.Fatalf("user = %+v", ev.User)
		}
		cn.WaitLookups()
	}
	if n := len(srv.Calls("users.info")); n != 1 {
		t.Fatalf("users.info called %d times for one unknown user within a minute", n)
	}
}
