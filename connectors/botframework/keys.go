package botframework

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// signingKey is one RSA key of a JWKS with the channels it is endorsed for
// (Bot Framework's non-standard "endorsements" member).
type signingKey struct {
	pub          *rsa.PublicKey
	endorsements []string
}

// endorses tells whether the key may sign tokens for channelID.
func (k signingKey) endorses(channelID string) bool {
	for _, e := range k.endorsements {
		if e == channelID {
			return true
		}
	}
	return false
}

// keyCache holds the signing keys named by one OpenID metadata document.
// Keys are fetched at the first use, again every refresh period, and on a
// kid the cache does not know — but never more often than once per retry
// period, so a flood of tokens with made-up kids cannot make the gateway
// hammer Microsoft (or a test's fake). A failed refresh keeps the keys it
// had. It is safe for concurrent use; callers wait for a fetch in
// progress rather than starting their own.
//
// It is a cache of its own rather than lestrrat-go/jwx's or keyfunc's
// because the endorsements member must come along with each key, and the
// refresh-on-unknown-kid rate limit must be countable in tests; both are a
// few lines here and awkward through those libraries' JWK types.
type keyCache struct {
	metadataURL string
	client      *http.Client
	refresh     time.Duration
	retry       time.Duration
	now         func() time.Time
	log         *slog.Logger

	mu       sync.Mutex
	keys     map[string]signingKey
	fetched  time.Time // last successful fetch
	tried    time.Time // last fetch attempt
	fetching chan struct{}

	fetches atomic.Int64
}

func newKeyCache(metadataURL string, client *http.Client, refresh, retry time.Duration, now func() time.Time, log *slog.Logger) *keyCache {
	return &keyCache{metadataURL: metadataURL, client: client, refresh: refresh, retry: retry, now: now, log: log}
}

// errUnknownKey: the token names a key the metadata does not list.
var errUnknownKey = errors.New("the token's signing key is not one Bot Framework publishes")

// key returns the key with kid, fetching the key set when it is due.
func (kc *keyCache) key(ctx context.Context, kid string) (signingKey, error) {
	for {
		kc.mu.Lock()
		now := kc.now()
		k, known := kc.keys[kid]
		stale := kc.keys == nil || now.Sub(kc.fetched) >= kc.refresh
		if known && !stale {
			kc.mu.Unlock()
			return k, nil
		}
		if wait := kc.fetching; wait != nil {
			// Someone is fetching: a stale key serves meanwhile; an
			// unknown one waits for the result.
			kc.mu.Unlock()
			if known {
				return k, nil
			}
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return signingKey{}, ctx.Err()
			}
		}
		if !kc.tried.IsZero() && now.Sub(kc.tried) < kc.retry {
			have := kc.keys != nil
			kc.mu.Unlock()
			switch {
			case known:
				return k, nil
			case !have:
				return signingKey{}, errors.New("Bot Framework's signing keys could not be fetched (retrying within a minute)")
			default:
				return signingKey{}, errUnknownKey
			}
		}
		done := make(chan struct{})
		kc.fetching, kc.tried = done, now
		kc.mu.Unlock()

		// The fetch outlives a caller that gives up: its result serves
		// everyone, and a cancelled fetch would block refreshes for a
		// retry period.
		keys, err := kc.fetch(context.WithoutCancel(ctx))

		kc.mu.Lock()
		kc.fetching = nil
		close(done)
		if err == nil {
			kc.keys, kc.fetched = keys, kc.now()
		} else {
			kc.log.Warn("botframework: fetching signing keys failed", slog.String("metadata", kc.metadataURL), slog.Any("err", err))
		}
		k, known = kc.keys[kid]
		have := kc.keys != nil
		kc.mu.Unlock()
		switch {
		case known:
			return k, nil
		case !have:
			return signingKey{}, fmt.Errorf("Bot Framework's signing keys could not be fetched: %w", err)
		default:
			return signingKey{}, errUnknownKey
		}
	}
}

// Fetches is how many times the key set was fetched (for tests and
// diagnostics).
func (kc *keyCache) Fetches() int64 { return kc.fetches.Load() }

// fetch reads the metadata document, then the JWKS it names.
func (kc *keyCache) fetch(ctx context.Context) (map[string]signingKey, error) {
	kc.fetches.Add(1)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := kc.getJSON(ctx, kc.metadataURL, &meta); err != nil {
		return nil, fmt.Errorf("openid metadata: %w", err)
	}
	if meta.JWKSURI == "" {
		return nil, errors.New("openid metadata names no jwks_uri")
	}
	var set struct {
		Keys []struct {
			Kty          string   `json:"kty"`
			Kid          string   `json:"kid"`
			N            string   `json:"n"`
			E            string   `json:"e"`
			Endorsements []string `json:"endorsements"`
		} `json:"keys"`
	}
	if err := kc.getJSON(ctx, meta.JWKSURI, &set); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	keys := make(map[string]signingKey, len(set.Keys))
	for _, k := range set.Keys {
		if k.Kty != "RSA" || k.Kid == "" {
			continue
		}
		pub, err := rsaKey(k.N, k.E)
		if err != nil {
			continue // one bad key must not take the good ones down
		}
		keys[k.Kid] = signingKey{pub: pub, endorsements: k.Endorsements}
	}
	if len(keys) == 0 {
		return nil, errors.New("jwks holds no usable RSA key")
	}
	return keys, nil
}

func (kc *keyCache) getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := kc.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s answered %s", url, resp.Status)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}

// rsaKey decodes a JWK's modulus and exponent.
func rsaKey(n, e string) (*rsa.PublicKey, error) {
	nb, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(n, "="))
	if err != nil {
		return nil, err
	}
	eb, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(e, "="))
	if err != nil {
		return nil, err
	}
	exp := new(big.Int).SetBytes(eb)
	if len(nb) < 256 || !exp.IsInt64() || exp.Int64() < 3 || exp.Int64() > 1<<31 {
		return nil, errors.New("not a usable RSA key (at least 2048 bits)")
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: int(exp.Int64())}, nil
}
