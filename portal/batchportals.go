package portal

import (
	"context"
	"sync"
)

// BatchPortals gives the dispatcher each portal as it is in the database
// when the batch's events were read, so `portal rotate-secret` and
// `finish-rotation` (run in any process, or by the CLI against the shared
// database) take effect for the very next batch.
//
// It does so without a read per batch: every change of a portal row bumps
// its version in the same UPDATE, and the statement that reads a batch's
// events reads the portal's version with them (queue.Batch.PortalVersion).
// While that version is the one of the copy held here, the copy is the
// row; when it moved (any process changed the portal), the row is read and
// its secrets opened again. A batch read after a rotation committed sees
// the new version, so no stale copy can sign it.
type BatchPortals struct {
	rec *Records

	mu     sync.Mutex
	loaded map[string]versionedPortal
}

type versionedPortal struct {
	version int64
	p       Portal
}

// NewBatchPortals reads portals from rec.
func NewBatchPortals(rec *Records) *BatchPortals {
	return &BatchPortals{rec: rec, loaded: map[string]versionedPortal{}}
}

// GetPortal returns the portal as stored now (one read). It is safe for
// concurrent use.
func (b *BatchPortals) GetPortal(ctx context.Context, id string) (Portal, error) {
	return b.PortalAt(ctx, id, 0)
}

// PortalAt returns the portal whose row had the given version, from memory
// when that is the version last loaded, else as stored now. Version 0
// (unknown) always reads. It is safe for concurrent use.
func (b *BatchPortals) PortalAt(ctx context.Context, id string, version int64) (Portal, error) {
	if version != 0 {
		b.mu.Lock()
		v, ok := b.loaded[id]
		b.mu.Unlock()
		if ok && v.version == version {
			return v.p, nil
		}
	}
	p, sealed, stored, err := b.rec.getPortalSealed(ctx, id)
	if err != nil {
		return p, err
	}
	s, err := b.rec.openSecrets(p.ID, sealed)
	if err != nil {
		return p, err
	}
	p.Secrets = s
	b.mu.Lock()
	if len(b.loaded) > 100_000 { // bound memory; entries refill on demand
		clear(b.loaded)
	}
	// Never replace a newer copy with an older one (two batches of one
	// portal loading at once).
	if cur, ok := b.loaded[id]; !ok || cur.version <= stored {
		b.loaded[id] = versionedPortal{version: stored, p: p}
	}
	b.mu.Unlock()
	return p, nil
}
