package botframework

import (
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/connector-gateway/connector/connectors"
)

var (
	// guidShape is an Azure AD App ID or tenant id.
	guidShape = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	// tenantDomainShape is a tenant named by a domain (contoso.onmicrosoft.com).
	tenantDomainShape = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$`)
	// channelIDShape is a Bot Framework channelId ("msteams", "webchat").
	channelIDShape = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,39}$`)
)

// normalizeAppID trims and lower-cases an App ID (Azure shows it either way).
func normalizeAppID(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// ValidateSettings checks s offline and returns a normalized copy: App ID
// and tenant lower-cased, channels as a sorted, de-duplicated comma list,
// accept_emulator "true" or "false" (default false). Keys it does not know
// are copied unchanged; s is not modified. Bad fields are reported as a
// connectors.FieldErrors value.
func (*Connector) ValidateSettings(s connectors.Settings) (connectors.Settings, error) {
	out := make(connectors.Settings, len(s)+2)
	for k, v := range s {
		out[k] = v
	}
	fe := connectors.FieldErrors{}

	id := normalizeAppID(s[SettingAppID])
	switch {
	case id == "":
		fe[SettingAppID] = "is required: copy the Microsoft App ID from the Azure Bot's Configuration page"
	case !guidShape.MatchString(id):
		fe[SettingAppID] = "does not look like a Microsoft App ID (a GUID such as 00000000-0000-0000-0000-000000000000)"
	}
	out[SettingAppID] = id

	pw := strings.TrimSpace(s[SettingAppPassword])
	if pw == "" {
		fe[SettingAppPassword] = "is required: create a client secret under the App registration's Certificates & secrets and paste its value"
	}
	out[SettingAppPassword] = pw

	tenant := strings.ToLower(strings.TrimSpace(s[SettingTenantID]))
	if tenant != "" && !guidShape.MatchString(tenant) && !tenantDomainShape.MatchString(tenant) {
		fe[SettingTenantID] = "must be a tenant id (a GUID) or a tenant domain such as contoso.onmicrosoft.com; leave it empty for a multi-tenant bot"
	}
	out[SettingTenantID] = tenant

	chans, bad := parseChannels(s[SettingChannels])
	if bad != "" {
		fe[SettingChannels] = strconv.Quote(bad) + " is not a Bot Framework channel id (lower-case letters, digits, - or _, such as msteams or webchat)"
	}
	out[SettingChannels] = strings.Join(chans, ",")

	emu := strings.ToLower(strings.TrimSpace(s[SettingAcceptEmulator]))
	switch emu {
	case "", "false", "0", "no", "off":
		emu = "false"
	case "true", "1", "yes", "on":
		emu = "true"
	default:
		fe[SettingAcceptEmulator] = "must be true or false"
	}
	out[SettingAcceptEmulator] = emu

	if len(fe) > 0 {
		return nil, fe
	}
	return out, nil
}

// parseChannels splits a comma list of channel ids, sorted and without
// duplicates; bad is the first entry that is not a channel id.
func parseChannels(s string) (chans []string, bad string) {
	for _, c := range strings.Split(s, ",") {
		c = strings.ToLower(strings.TrimSpace(c))
		if c == "" {
			continue
		}
		if !channelIDShape.MatchString(c) {
			return nil, c
		}
		chans = append(chans, c)
	}
	slices.Sort(chans)
	return slices.Compact(chans), ""
}

// accepts tells whether a connection takes activities of channelID.
func accepts(s connectors.Settings, channelID string) bool {
	list := strings.TrimSpace(s[SettingChannels])
	if list == "" {
		return true
	}
	for _, c := range strings.Split(list, ",") {
		if strings.EqualFold(strings.TrimSpace(c), channelID) {
			return true
		}
	}
	return false
}

// tenantOf is the token authority of a connection.
func tenantOf(s connectors.Settings) string {
	if t := strings.TrimSpace(s[SettingTenantID]); t != "" {
		return strings.ToLower(t)
	}
	return DefaultTenant
}
