package slack

import (
	"context"
	"time"
)

// WaitLookups blocks until the background profile and channel lookups in
// flight are done.
func (cn *Connector) WaitLookups() { cn.dir.wait() }

// SetPacerClock replaces the pacer's clock and sleep, so tests can see the
// pauses it asks for without waiting.
func (cn *Connector) SetPacerClock(now func() time.Time, sleep func(ctx context.Context, d time.Duration) error) {
	cn.pacer.now, cn.pacer.sleep = now, sleep
}

// SplitText exposes splitText.
var SplitText = splitText
