package portal_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// An admin's change of a portal's adapter settings is stored over the row
// as it is at the save, not as it was read: a token renewed meanwhile (by
// the dispatcher, while the live test ran) is kept, the keys the change
// set or removed are the change's, and a kind changed meanwhile stores
// nothing.
func TestChangePortalKindKeepsWhatChangedMeanwhile(t *testing.T) {
	for _, b := range queuetest.Backends() {
		t.Run(b.Driver, func(t *testing.T) {
			ctx := context.Background()
			sealer, err := portal.NewSealer(portal.NewKey())
			if err != nil {
				t.Fatal(err)
			}
			recs := portal.NewRecords(queuetest.Open(t, b), sealer, nil, nil)
			p, _, err := recs.CreatePortal(ctx, "Bitrix24", "http://127.0.0.1:1/unused")
			if err != nil {
				t.Fatal(err)
			}
			if err := recs.SetPortalKind(ctx, p.ID, portal.KindBitrix24, map[string]string{"access_token": "a1", "refresh_token": "r1", "line": "7", "old": "x"}); err != nil {
				t.Fatal(err)
			}
			from, err := recs.GetPortal(ctx, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			change := map[string]string{"access_token": "a1", "refresh_token": "r1", "line": "8", "new": "y"} // line changed, old removed, new added
			// Meanwhile the dispatcher renews the tokens.
			err = recs.UpdatePortalAdapter(ctx, p.ID, func(cur portal.Portal) (string, map[string]string, error) {
				next := map[string]string{}
				for k, v := range cur.Adapter {
					next[k] = v
				}
				next["access_token"], next["refresh_token"] = "a2", "r2"
				return portal.KindBitrix24, next, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := recs.ChangePortalKind(ctx, from, portal.KindBitrix24, change); err != nil {
				t.Fatal(err)
			}
			got, err := recs.GetPortal(ctx, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"access_token": "a2", "refresh_token": "r2", "line": "8", "new": "y"}
			if got.Kind != portal.KindBitrix24 || !reflect.DeepEqual(got.Adapter, want) {
				t.Fatalf("stored %q %v, want %v", got.Kind, got.Adapter, want)
			}

			// A change of the tokens themselves is the change's.
			if err := recs.ChangePortalKind(ctx, got, portal.KindBitrix24, map[string]string{"access_token": "a9", "refresh_token": "r9", "line": "8"}); err != nil {
				t.Fatal(err)
			}
			if got, _ = recs.GetPortal(ctx, p.ID); got.Adapter["access_token"] != "a9" || got.Adapter["refresh_token"] != "r9" || got.Adapter["new"] != "" {
				t.Fatalf("stored %v after changing the tokens", got.Adapter)
			}

			// Another writer between UpdatePortalAdapter's read and its
			// write: the change is made again over the new row.
			calls := 0
			err = recs.UpdatePortalAdapter(ctx, p.ID, func(cur portal.Portal) (string, map[string]string, error) {
				calls++
				if calls == 1 {
					if err := recs.SetPortalKind(ctx, p.ID, portal.KindBitrix24, map[string]string{"refresh_token": "r10"}); err != nil {
						t.Fatal(err)
					}
				}
				return portal.KindBitrix24, map[string]string{"refresh_token": cur.Adapter["refresh_token"] + "+"}, nil
			})
			if got, _ = recs.GetPortal(ctx, p.ID); err != nil || calls != 2 || got.Adapter["refresh_token"] != "r10+" {
				t.Fatalf("after a concurrent write: %v, %d calls, stored %v", err, calls, got.Adapter)
			}

			// The kind changed meanwhile: nothing stored.
			if err := recs.SetPortalKind(ctx, p.ID, portal.KindNative, nil); err != nil {
				t.Fatal(err)
			}
			if err := recs.ChangePortalKind(ctx, got, portal.KindBitrix24, map[string]string{"line": "9"}); !errors.Is(err, portal.ErrPortalChanged) {
				t.Fatalf("a kind changed meanwhile: %v, want ErrPortalChanged", err)
			}
			if got, _ = recs.GetPortal(ctx, p.ID); got.Kind != portal.KindNative || len(got.Adapter) != 0 {
				t.Fatalf("stored %q %v after a refused change", got.Kind, got.Adapter)
			}
		})
	}
}
