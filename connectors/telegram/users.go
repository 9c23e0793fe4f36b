package telegram

import (
	"sync"
	"time"

	"github.com/connector-gateway/connector/connectors"
)

// userCache keeps the normalized sender of recent updates, so the per-user
// work (the signed avatar link, the profile hash) is done once per user and
// hour, not once per message: a chat's messages mostly come from the same
// few people. An entry is keyed by everything the result depends on (the
// connection, whose file links sign the avatar, and every profile field),
// so a renamed user misses and gets a fresh hash at once. Entries live an
// hour, which is all an avatar link loses of its validity by being reused.
type userCache struct {
	mu  sync.Mutex
	m   map[userKey]cachedUser
	now func() time.Time
}

type userKey struct {
	conn                        string
	id                          int64
	first, last, username, lang string
	hasFiles                    bool
}

type cachedUser struct {
	u   connectors.User
	exp time.Time
}

const (
	userCacheTTL = time.Hour
	userCacheMax = 50_000
)

func newUserCache() *userCache {
	return &userCache{m: make(map[userKey]cachedUser), now: time.Now}
}

// get returns the normalized user, building it with build on a miss. The
// returned value is the caller's own copy.
func (uc *userCache) get(c connectors.Conn, u *tgUser, build func() *connectors.User) *connectors.User {
	if uc == nil {
		return build()
	}
	k := userKey{conn: c.ID, id: u.ID, first: u.FirstName, last: u.LastName, username: u.Username, lang: u.LanguageCode, hasFiles: c.Files != nil}
	now := uc.now()
	uc.mu.Lock()
	e, ok := uc.m[k]
	uc.mu.Unlock()
	if ok && now.Before(e.exp) {
		out := e.u
		return &out
	}
	out := build()
	uc.mu.Lock()
	if len(uc.m) >= userCacheMax { // bound memory; entries refill on demand
		clear(uc.m)
	}
	uc.m[k] = cachedUser{u: *out, exp: now.Add(userCacheTTL)}
	uc.mu.Unlock()
	return out
}
