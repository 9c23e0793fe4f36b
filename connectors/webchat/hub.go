package webchat

import "sync"

// hub tells this process's open sockets of a conversation that something
// happened: new history (they then read it from the database, so a wake-up
// that finds nothing new costs one query and a lost one is made up by the
// socket's poll) or an agent typing. Sockets of the same conversation on
// other gateway processes learn of new history by polling.
type hub struct {
	mu      sync.Mutex
	max     int
	sockets map[string]map[*listener]struct{}
}

// listener is one open socket's doorbell. Both channels have room for one
// signal; a signal sent while one is pending is merged into it.
type listener struct {
	wake   chan struct{}
	typing chan struct{}
}

func newHub(maxPerConversation int) *hub {
	return &hub{max: maxPerConversation, sockets: map[string]map[*listener]struct{}{}}
}

func newListener() *listener {
	return &listener{wake: make(chan struct{}, 1), typing: make(chan struct{}, 1)}
}

// add registers l for a conversation; false when the conversation already
// has the most sockets allowed.
func (h *hub) add(conv string, l *listener) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	set := h.sockets[conv]
	if len(set) >= h.max {
		return false
	}
	if set == nil {
		set = map[*listener]struct{}{}
		h.sockets[conv] = set
	}
	set[l] = struct{}{}
	return true
}

func (h *hub) remove(conv string, l *listener) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.sockets[conv], l)
	if len(h.sockets[conv]) == 0 {
		delete(h.sockets, conv)
	}
}

// notify rings every socket of the conversation about new history.
func (h *hub) notify(conv string) { h.ring(conv, func(l *listener) chan struct{} { return l.wake }) }

// typing rings every socket of the conversation about an agent typing. It
// reports whether any socket was there to show it.
func (h *hub) typing(conv string) bool {
	return h.ring(conv, func(l *listener) chan struct{} { return l.typing }) > 0
}

func (h *hub) ring(conv string, ch func(*listener) chan struct{}) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	for l := range h.sockets[conv] {
		select {
		case ch(l) <- struct{}{}:
		default:
		}
	}
	return len(h.sockets[conv])
}

// convKey names a conversation in the hub: visitor ids are random, and the
// connection in the key keeps one portal's calls from ever reaching another
// connection's visitors.
func convKey(connID, visitorID string) string { return connID + "|" + visitorID }
