package telegram

import (
	"testing"
	"time"
)

// The pacer is checked on a fake clock: what it books, not how long a test
// waits.
func TestPacerSpacesMessages(t *testing.T) {
	p := newPacer(time.Second, 3*time.Second, 40*time.Millisecond)
	now := time.Unix(1000, 0)
	p.now = func() time.Time { return now }
	const tok = "42:secret"
	reserve := func(chat int64) time.Duration {
		t.Helper()
		w, ok := p.reserve(tok, chat, time.Minute)
		if !ok {
			t.Fatalf("reserve(%d) refused", chat)
		}
		return w
	}
	if w := reserve(7); w != 0 {
		t.Fatalf("first message waits %s", w)
	}
	if w := reserve(7); w != time.Second {
		t.Errorf("second message to the chat waits %s, want 1s", w)
	}
	// Chat 7's next message is booked 1s ahead; other chats fit in before
	// it, kept 40ms apart from every message of the bot.
	if w := reserve(8); w != 40*time.Millisecond {
		t.Errorf("another chat waits %s, want only the bot-wide spacing (40ms)", w)
	}
	if w := reserve(-100); w != 80*time.Millisecond {
		t.Errorf("a group waits %s, want 80ms", w)
	}
	if w := reserve(-100); w != 3*time.Second+80*time.Millisecond {
		t.Errorf("second group message waits %s, want 3.08s", w)
	}
	if w := reserve(11); w != 120*time.Millisecond {
		t.Errorf("a fourth chat waits %s, want 120ms", w)
	}
	// A booking that would come too close to chat 7's at 1s moves past it.
	now = now.Add(980 * time.Millisecond)
	if w := reserve(12); w != 60*time.Millisecond {
		t.Errorf("chat 12 waits %s, want 60ms (40ms after chat 7's booking at 1s)", w)
	}

	// Telegram's 429 closes the chat for retry_after.
	p.block(tok, 9, now.Add(30*time.Second))
	if w, ok := p.reserve(tok, 9, 10*time.Second); ok || w < 29*time.Second {
		t.Errorf("reserve in a blocked chat = %s, %v; want refused with the remaining wait", w, ok)
	}
	if w := reserve(10); w > time.Second {
		t.Errorf("an unblocked chat waits %s behind the blocked one", w)
	}
	// A refused reservation books nothing.
	now = now.Add(31 * time.Second)
	if w := reserve(9); w != 0 {
		t.Errorf("after retry_after the chat waits %s", w)
	}
	// Another bot has its own budget.
	if w, _ := p.reserve("43:other", 7, time.Minute); w != 0 {
		t.Errorf("another bot waits %s", w)
	}
}

func TestPacerForgetsOldChats(t *testing.T) {
	p := newPacer(time.Second, time.Second, time.Millisecond)
	now := time.Unix(0, 0)
	p.now = func() time.Time { return now }
	for i := range int64(pacerSweep * 2) {
		p.reserve("1:x", i+1, time.Hour)
		now = now.Add(time.Second)
	}
	if n := len(p.next); n > pacerSweep+1 {
		t.Errorf("pacer holds %d entries, want old ones dropped", n)
	}
}
