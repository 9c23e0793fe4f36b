package portal

import (
	"context"
	"sync"
	"time"
)

// Cache keeps recently read records for a short time, so the hot paths (a
// webhook resolving its entry hash, a batch loading its portal) do not read
// and decrypt the same row over and over. Changes made through this process
// are seen at once (Forget); changes made by another replica are seen
// within the TTL.
type Cache struct {
	rec *Records
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	portals map[string]cached[Portal]
	hashes  map[string]cached[Connection]
}

type cached[T any] struct {
	v   T
	exp time.Time
}

// NewCache wraps records with a cache of the given TTL (default 2s).
func NewCache(rec *Records, ttl time.Duration) *Cache {
	if ttl <= 0 {
		ttl = 2 * time.Second
	}
	return &Cache{rec: rec, ttl: ttl, now: time.Now, portals: map[string]cached[Portal]{}, hashes: map[string]cached[Connection]{}}
}

// GetPortal returns a portal, from the cache when fresh.
func (c *Cache) GetPortal(ctx context.Context, id string) (Portal, error) {
	c.mu.Lock()
	e, ok := c.portals[id]
	c.mu.Unlock()
	if ok && c.now().Before(e.exp) {
		return e.v, nil
	}
	p, err := c.rec.GetPortal(ctx, id)
	if err != nil {
		return p, err
	}
	c.mu.Lock()
	c.portals[id] = cached[Portal]{p, c.now().Add(c.ttl)}
	c.mu.Unlock()
	return p, nil
}

// ConnectionByHash returns the connection behind an entry URL, from the
// cache when fresh. Not-found answers are not cached.
func (c *Cache) ConnectionByHash(ctx context.Context, hash string) (Connection, error) {
	c.mu.Lock()
	e, ok := c.hashes[hash]
	c.mu.Unlock()
	if ok && c.now().Before(e.exp) {
		return e.v, nil
	}
	conn, err := c.rec.ConnectionByHash(ctx, hash)
	if err != nil {
		return conn, err
	}
	c.mu.Lock()
	if len(c.hashes) > 100_000 { // bound memory; entries refill on demand
		clear(c.hashes)
	}
	c.hashes[hash] = cached[Connection]{conn, c.now().Add(c.ttl)}
	c.mu.Unlock()
	return conn, nil
}

// Forget drops a connection (by entry hash) and a portal (by id) so this
// process sees its own changes at once. Empty arguments are ignored.
func (c *Cache) Forget(hash, portalID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if hash != "" {
		delete(c.hashes, hash)
	}
	if portalID != "" {
		delete(c.portals, portalID)
	}
}
