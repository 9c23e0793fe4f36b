package telegram

import (
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
)

// A cached sender is the same as a freshly built one, a renamed sender
// gets a new profile hash at once, and an entry is rebuilt after its hour.
func TestUserCache(t *testing.T) {
	uc := newUserCache()
	now := time.Unix(1_700_000_000, 0)
	uc.now = func() time.Time { return now }
	c := connectors.Conn{ID: "con_1"}
	builds := 0
	get := func(u tgUser) *connectors.User {
		return uc.get(c, &u, func() *connectors.User { builds++; return user(c, &u) })
	}
	ann := tgUser{ID: 7, FirstName: "Ann", Username: "ann"}
	a1, a2 := get(ann), get(ann)
	if *a1 != *a2 || *a1 != *user(c, &ann) || builds != 1 {
		t.Fatalf("cached %+v, fresh %+v, builds %d", a2, user(c, &ann), builds)
	}
	a2.Name = "changed by a caller"
	if get(ann).Name != "Ann" {
		t.Fatal("a caller's change reached the cache")
	}
	renamed := ann
	renamed.LastName = "Lee"
	if get(renamed).ProfileHash == a1.ProfileHash {
		t.Fatal("renamed user kept the old profile hash")
	}
	builds = 0
	now = now.Add(userCacheTTL)
	get(ann)
	if builds != 1 {
		t.Fatal("expired entry was not rebuilt")
	}
}
