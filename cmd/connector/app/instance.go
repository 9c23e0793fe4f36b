package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/connector-gateway/connector/queue"
	"github.com/connector-gateway/connector/queue/sqldb"
)

// InstanceConfig sets how this process tells the others it is alive, and
// how soon a dead one's work is taken over (instance.* keys).
type InstanceConfig struct {
	// Heartbeat is how often this process renews its heartbeat, and how
	// often it looks for dead processes whose leases to release. Default 1s.
	Heartbeat time.Duration `mapstructure:"heartbeat"`
	// StaleAfter is how old a process's heartbeat must be for it to be
	// presumed dead (mysql): its line leases, outbound claims and poll
	// leases are then released at once. It must be well above the longest
	// stall a live process may have (a database failover, a GC pause), or
	// a live process's work is taken over and repeated. Default 5s; at
	// least 3 × heartbeat.
	StaleAfter time.Duration `mapstructure:"stale_after"`
}

// Validate checks the fields and names the first bad one by its key.
func (c InstanceConfig) Validate() error {
	switch {
	case c.Heartbeat <= 0:
		return errors.New("heartbeat: must be positive")
	case c.StaleAfter < 3*c.Heartbeat:
		return fmt.Errorf("stale_after: must be at least 3 × instance.heartbeat (%s), got %s", 3*c.Heartbeat, c.StaleAfter)
	}
	return nil
}

// DefaultInstanceConfig is the instance.* configuration used when nothing
// is set.
func DefaultInstanceConfig() InstanceConfig {
	return InstanceConfig{Heartbeat: time.Second, StaleAfter: 5 * time.Second}
}

// startInstance records this process as running and, before any worker
// claims anything, frees what dead processes held: on SQLite (one serving
// process) everything held by any other owner, on MySQL what instances with
// a stale heartbeat held.
func (a *App) startInstance(ctx context.Context) error {
	in := a.store.Instances
	if err := in.Register(ctx, a.instance); err != nil {
		return err
	}
	var (
		rel queue.Released
		err error
	)
	if a.cfg.Database.Driver == sqldb.DriverSQLite {
		rel, err = in.ReleaseOthers(ctx, a.instance)
	} else {
		rel, err = in.ReleaseStale(ctx, a.instance, a.cfg.Instance.StaleAfter)
	}
	if err != nil {
		return err
	}
	a.logReleased(rel, "at start")
	return nil
}

func (a *App) logReleased(rel queue.Released, when string) {
	if rel.Any() || rel.Instances > 0 {
		a.log.Warn("released the work of gateway processes that died", slog.String("when", when),
			slog.Int("processes", rel.Instances), slog.Int("lines", len(rel.Lines)),
			slog.Int64("outbound_requests", rel.Requests), slog.Int64("polled_connections", rel.Polls))
	}
}

// heartbeat renews this process's heartbeat every instance.heartbeat until
// ctx ends, and releases the leases of processes whose heartbeat went
// stale, waking the workers that can take their work. It must outlive the
// workers (a process draining at shutdown is alive), so Run stops it last.
func (a *App) heartbeat(ctx context.Context) {
	in := a.store.Instances
	t := time.NewTicker(a.cfg.Instance.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		hctx, cancel := context.WithTimeout(ctx, a.cfg.Instance.StaleAfter)
		alive, err := in.Heartbeat(hctx, a.instance)
		switch {
		case err != nil && ctx.Err() == nil:
			a.log.Warn("heartbeat", slog.Any("err", err))
		case err == nil && !alive:
			a.log.Warn("this process was presumed dead (no heartbeat for instance.stale_after) and its leases released; work it was doing may be repeated by others",
				slog.String("instance", a.instance))
		}
		if a.cfg.Database.Driver != sqldb.DriverSQLite {
			rel, err := in.ReleaseStale(hctx, a.instance, a.cfg.Instance.StaleAfter)
			if err != nil && ctx.Err() == nil {
				a.log.Warn("release leases of dead processes", slog.Any("err", err))
			}
			a.logReleased(rel, "heartbeat stale")
			if len(rel.Lines) > 0 {
				a.dispatcher.Wake(rel.Lines)
			}
			if rel.Requests > 0 {
				a.sender.Wake()
			}
			if rel.Polls > 0 {
				a.receivers.Wake()
			}
		}
		cancel()
	}
}
