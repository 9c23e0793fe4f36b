package app

import "context"

// depthsByPortal sums the waiting events per portal, for the console's
// traffic chart.
func (a *App) depthsByPortal(ctx context.Context) (map[string]int64, error) {
	ds, err := a.store.Outbox.Depths(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, d := range ds {
		out[d.PortalID] += d.Pending
	}
	return out, nil
}
