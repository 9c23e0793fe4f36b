package botframework

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connector-gateway/connector/connectors"
)

// clockSkew is how far token lifetimes are stretched both ways, as Bot
// Framework's own SDKs do.
const clockSkew = 5 * time.Minute

// emulatorIssuers are the issuers of tokens the Bot Framework Emulator gets
// from Azure AD for a bot (v1 and v2 tokens of the two tenants Microsoft
// documents); a single-tenant bot's own tenant is added per connection.
var emulatorIssuers = []string{
	"https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/",
	"https://login.microsoftonline.com/d6d49420-f39b-4df7-a1dc-d59a935871db/v2.0",
	"https://sts.windows.net/f8cdef31-a31e-4b4a-93e4-5f571e91255a/",
	"https://login.microsoftonline.com/f8cdef31-a31e-4b4a-93e4-5f571e91255a/v2.0",
}

// tokenClaims are the claims of a token Bot Framework (or the Emulator)
// sends.
type tokenClaims struct {
	jwt.RegisteredClaims
	// ServiceURL is the service URL the token was issued for; it must be
	// the activity's.
	ServiceURL string `json:"serviceurl"`
	// AppID (v1) and AZP (v2) name the app that got an Emulator token.
	AppID   string `json:"appid"`
	AZP     string `json:"azp"`
	Version string `json:"ver"`
}

// caller is what a valid token proved.
type caller struct {
	emulator   bool
	serviceURL string
	key        signingKey
}

// unauthorized wraps why a request was refused in connectors.ErrUnauthorized.
func unauthorized(format string, args ...any) error {
	return fmt.Errorf("botframework: %s: %w", fmt.Sprintf(format, args...), connectors.ErrUnauthorized)
}

// authenticate checks the Authorization header of a request to a
// connection: a Bearer JWT signed with RS256 by a key of Bot Framework's
// metadata (or the Emulator's, when the connection accepts it), issued by
// Bot Framework for the connection's App ID, within its lifetime give or
// take five minutes. The activity-specific checks (serviceurl,
// endorsements) are checkActivity's. Any failure wraps
// connectors.ErrUnauthorized.
func (cn *Connector) authenticate(ctx context.Context, s connectors.Settings, header string) (caller, error) {
	appID := normalizeAppID(s[SettingAppID])
	if appID == "" {
		return caller{}, unauthorized("the connection has no App ID")
	}
	scheme, raw, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(raw) == "" {
		return caller{}, unauthorized("no Bearer token in the Authorization header")
	}
	emulatorOK := s[SettingAcceptEmulator] == "true"
	var got caller
	keyfunc := func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("the token names no signing key (kid)")
		}
		cache := cn.channelKeys
		if c, _ := t.Claims.(*tokenClaims); c != nil && c.Issuer != ChannelIssuer {
			if !emulatorOK || !isEmulatorIssuer(c.Issuer, s) {
				return nil, fmt.Errorf("issuer %q is not Bot Framework's", c.Issuer)
			}
			cache, got.emulator = cn.emulatorKeys, true
		}
		k, err := cache.key(ctx, kid)
		if err != nil {
			return nil, err
		}
		got.key = k
		return k.pub, nil
	}
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithAudience(appID),
		jwt.WithLeeway(clockSkew),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(cn.now),
	)
	var claims tokenClaims
	if _, err := p.ParseWithClaims(strings.TrimSpace(raw), &claims, keyfunc); err != nil {
		return caller{}, unauthorized("token refused: %v", err)
	}
	// The keyfunc chose the keys by the issuer; confirm it now that the
	// claims are verified.
	switch {
	case !got.emulator && claims.Issuer != ChannelIssuer:
		return caller{}, unauthorized("issuer %q is not Bot Framework's", claims.Issuer)
	case got.emulator:
		app := claims.AppID
		if claims.Version == "2.0" {
			app = claims.AZP
		}
		if normalizeAppID(app) != appID {
			return caller{}, unauthorized("the Emulator token was issued to another app")
		}
	}
	got.serviceURL = claims.ServiceURL
	return got, nil
}

// isEmulatorIssuer tells whether iss is an Emulator token issuer for s.
func isEmulatorIssuer(iss string, s connectors.Settings) bool {
	for _, e := range emulatorIssuers {
		if iss == e {
			return true
		}
	}
	if t := strings.TrimSpace(s[SettingTenantID]); t != "" {
		return iss == "https://sts.windows.net/"+t+"/" || iss == "https://login.microsoftonline.com/"+t+"/v2.0"
	}
	return false
}

// checkActivity applies the checks that bind a token to the activity it
// came with: the token's serviceurl claim is the activity's serviceUrl, and
// the key that signed it is endorsed for the activity's channel. Emulator
// tokens carry neither (the Emulator's keys are Azure AD's, endorsed for
// nothing), which is why accepting them is a per-connection choice.
func checkActivity(c caller, serviceURL, channelID string) error {
	if c.emulator {
		return nil
	}
	if c.serviceURL == "" || c.serviceURL != serviceURL {
		return unauthorized("the token was issued for service URL %q, the activity names %q", c.serviceURL, serviceURL)
	}
	if !c.key.endorses(channelID) {
		return unauthorized("the signing key is not endorsed for channel %q", channelID)
	}
	return nil
}
