package slack

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/connector-gateway/connector/connectors"
	slackapi "github.com/slack-go/slack"
)

// profile is what the gateway tells about a Slack user.
type profile struct {
	Name      string
	Username  string
	AvatarURL string
	Language  string
}

// profileOf picks the fields of a Slack user: name is the full (real) name,
// username the display name (the name Slack shows in messages), each
// falling back to the other and to the legacy handle.
func profileOf(u *slackapi.User) profile {
	p := profile{
		Name:      strings.TrimSpace(firstNonEmpty(u.Profile.RealName, u.RealName)),
		Username:  strings.TrimSpace(u.Profile.DisplayName),
		AvatarURL: firstNonEmpty(u.Profile.Image192, u.Profile.Image72, u.Profile.Image512),
		Language:  u.Locale,
	}
	if p.Username == "" {
		p.Username = u.Name
	}
	if p.Name == "" {
		p.Name = p.Username
	}
	return p
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// hash is the event's profile_hash: it covers the user id and every field
// an event carries, so it changes exactly when one of the fields the portal
// sees changes (including when the name first becomes known).
func (p profile) hash(id string) string {
	return connectors.ProfileHash(id, p.Name, p.Username, p.AvatarURL, p.Language)
}

// Lookup limits of the directory.
const (
	// lookupTimeout bounds one users.info or conversations.info call.
	lookupTimeout = 15 * time.Second
	// lookupRetry is how long a failed lookup is not tried again.
	lookupRetry = time.Minute
	// lookupConcurrency is the most lookups in flight (Slack's users.info
	// allows about 100 a minute per workspace).
	lookupConcurrency = 4
	// directoryMax is the most users (and channels) remembered.
	directoryMax = 50000
	// lookupBacklog is the most lookups waiting for their turn; beyond it a
	// lookup is dropped (and tried again after lookupRetry), so a flood of
	// new users cannot pile up goroutines.
	lookupBacklog = 1000
)

// directory remembers user profiles and channel names, looked up with
// users.info and conversations.info in the background, never on the request
// path: a miss answers "unknown" at once and starts a lookup, a stale entry
// is still answered while it is refreshed, and a profile that arrives in a
// user_change or team_join event replaces the entry at once. Entries are
// keyed by Slack team and id, so connections of one workspace share them.
type directory struct {
	ttl time.Duration
	log *slog.Logger
	api func(botToken, appToken string) *slackapi.Client
	now func() time.Time

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	sem     chan struct{}
	waiting atomic.Int64

	users    *lookupCache[profile]
	channels *lookupCache[string]
}

func newDirectory(ttl time.Duration, log *slog.Logger, api func(string, string) *slackapi.Client) *directory {
	ctx, cancel := context.WithCancel(context.Background())
	return &directory{
		ttl: ttl, log: log, api: api, now: time.Now,
		ctx: ctx, cancel: cancel, sem: make(chan struct{}, lookupConcurrency),
		users:    newLookupCache[profile](directoryMax),
		channels: newLookupCache[string](directoryMax),
	}
}

func (d *directory) close() {
	d.cancel()
	d.wg.Wait()
}

// wait blocks until the lookups in flight are done (tests).
func (d *directory) wait() { d.wg.Wait() }

// user returns what is known of a user now and, when that is nothing or
// stale, starts a lookup with botToken.
func (d *directory) user(botToken, team, id string) (profile, bool) {
	key := team + "/" + id
	p, ok, start := d.users.get(key, d.now(), d.ttl)
	if start {
		d.spawn(func(ctx context.Context) {
			u, err := d.api(botToken, "").GetUserInfoContext(ctx, id)
			if err != nil {
				d.users.fail(key, d.now())
				if d.ctx.Err() == nil {
					d.log.Warn("slack: look up user profile", slog.String("user", id), slog.String("err", err.Error()))
				}
				return
			}
			d.users.put(key, profileOf(u), d.now())
		}, func() { d.users.fail(key, d.now()) })
	}
	return p, ok
}

// setUser stores a profile Slack sent in an event.
func (d *directory) setUser(team string, u *slackapi.User) {
	if u == nil || u.ID == "" {
		return
	}
	if team == "" {
		team = u.TeamID
	}
	d.users.put(team+"/"+u.ID, profileOf(u), d.now())
}

// knownUser returns what is known of a user without starting a lookup.
func (d *directory) knownUser(team, id string) (profile, bool) {
	p, ok, _ := d.users.peek(team + "/" + id)
	return p, ok
}

// channel returns a channel's name if known and, when unknown or stale,
// starts a lookup with botToken.
func (d *directory) channel(botToken, team, id string) (string, bool) {
	key := team + "/" + id
	name, ok, start := d.channels.get(key, d.now(), d.ttl)
	if start {
		d.spawn(func(ctx context.Context) {
			ch, err := d.api(botToken, "").GetConversationInfoContext(ctx, &slackapi.GetConversationInfoInput{ChannelID: id})
			if err != nil {
				d.channels.fail(key, d.now())
				if d.ctx.Err() == nil {
					d.log.Warn("slack: look up channel", slog.String("channel", id), slog.String("err", err.Error()))
				}
				return
			}
			d.channels.put(key, ch.Name, d.now())
		}, func() { d.channels.fail(key, d.now()) })
	}
	return name, ok
}

// knownChannel returns a channel's name without starting a lookup.
func (d *directory) knownChannel(team, id string) (string, bool) {
	n, ok, _ := d.channels.peek(team + "/" + id)
	return n, ok
}

// spawn runs fn in the background with a bounded context, at most
// lookupConcurrency at once; abandon runs instead when the directory is
// closed first.
func (d *directory) spawn(fn func(ctx context.Context), abandon func()) {
	if d.ctx.Err() != nil || d.waiting.Load() >= lookupBacklog {
		abandon()
		return
	}
	d.waiting.Add(1)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		select {
		case d.sem <- struct{}{}:
			d.waiting.Add(-1)
		case <-d.ctx.Done():
			d.waiting.Add(-1)
			abandon()
			return
		}
		defer func() { <-d.sem }()
		ctx, cancel := context.WithTimeout(d.ctx, lookupTimeout)
		defer cancel()
		fn(ctx)
	}()
}

// names resolves mentions from what the directory knows, for one team.
type names struct {
	d    *directory
	team string
}

func (n names) UserName(id string) (string, bool) {
	p, ok := n.d.knownUser(n.team, id)
	if !ok {
		return "", false
	}
	return firstNonEmpty(p.Username, p.Name), true
}

func (n names) ChannelName(id string) (string, bool) { return n.d.knownChannel(n.team, id) }

// lookupCache is a bounded map of looked-up values with their age. It is
// safe for concurrent use.
type lookupCache[T any] struct {
	mu  sync.Mutex
	m   map[string]*cacheEntry[T]
	max int
}

type cacheEntry[T any] struct {
	value    T
	known    bool
	fetched  time.Time
	failed   time.Time
	inFlight bool
}

func newLookupCache[T any](max int) *lookupCache[T] {
	return &lookupCache[T]{m: map[string]*cacheEntry[T]{}, max: max}
}

// get returns the value for key and whether the caller should start a
// lookup now: when nothing is known or the value is older than ttl, no
// lookup is in flight and none failed within lookupRetry. A true start
// marks the lookup as in flight; the caller ends it with put or fail.
func (c *lookupCache[T]) get(key string, now time.Time, ttl time.Duration) (v T, ok, start bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[key]
	if e == nil {
		c.evictFor(1)
		e = &cacheEntry[T]{}
		c.m[key] = e
	}
	fresh := e.known && now.Sub(e.fetched) < ttl
	recentlyFailed := !e.failed.IsZero() && now.Sub(e.failed) < lookupRetry
	if !fresh && !e.inFlight && !recentlyFailed {
		e.inFlight, start = true, true
	}
	return e.value, e.known, start
}

// peek returns the value for key without starting anything.
func (c *lookupCache[T]) peek(key string) (v T, ok, _ bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.m[key]; e != nil {
		return e.value, e.known, false
	}
	return v, false, false
}

func (c *lookupCache[T]) put(key string, v T, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[key]
	if e == nil {
		c.evictFor(1)
		e = &cacheEntry[T]{}
		c.m[key] = e
	}
	e.value, e.known, e.fetched, e.failed, e.inFlight = v, true, now, time.Time{}, false
}

func (c *lookupCache[T]) fail(key string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.m[key]; e != nil {
		e.failed, e.inFlight = now, false
	}
}

// evictFor makes room for n new entries by dropping entries that are not in
// flight (map order, so effectively random). Called with mu held.
func (c *lookupCache[T]) evictFor(n int) {
	for k, e := range c.m {
		if len(c.m)+n <= c.max {
			return
		}
		if !e.inFlight {
			delete(c.m, k)
		}
	}
}
