package portal

import (
	"bytes"
	"context"
	"sync"
)

// BatchPortals gives the dispatcher each portal as it is in the database at
// the moment a batch is signed, so `portal rotate-secret` and
// `finish-rotation` (run in any process, or by the CLI against the shared
// database) take effect for the very next batch. Reading the row is one
// primary-key read per batch; decrypting the secrets, the costly part, is
// skipped while the sealed bytes are the ones already opened (every change
// of the secrets seals them anew, with a fresh nonce, so the bytes differ).
type BatchPortals struct {
	rec *Records

	mu     sync.Mutex
	opened map[string]openedSecrets
}

type openedSecrets struct {
	sealed  []byte
	secrets []string
}

// NewBatchPortals reads portals from rec.
func NewBatchPortals(rec *Records) *BatchPortals {
	return &BatchPortals{rec: rec, opened: map[string]openedSecrets{}}
}

// GetPortal returns the portal as stored now. It is safe for concurrent use.
func (b *BatchPortals) GetPortal(ctx context.Context, id string) (Portal, error) {
	p, sealed, err := b.rec.getPortalSealed(ctx, id)
	if err != nil {
		return p, err
	}
	b.mu.Lock()
	o, ok := b.opened[id]
	b.mu.Unlock()
	if ok && bytes.Equal(o.sealed, sealed) {
		p.Secrets = o.secrets
		return p, nil
	}
	s, err := b.rec.openSecrets(p.ID, sealed)
	if err != nil {
		return p, err
	}
	b.mu.Lock()
	if len(b.opened) > 100_000 { // bound memory; entries refill on demand
		clear(b.opened)
	}
	b.opened[id] = openedSecrets{sealed: sealed, secrets: s}
	b.mu.Unlock()
	p.Secrets = s
	return p, nil
}
