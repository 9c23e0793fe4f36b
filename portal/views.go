package portal

import (
	"strings"

	"github.com/connector-gateway/connector/connectors"
)

// Views builds the one view of a connection a connector works with
// (connectors.Conn): its ids, entry URL, decrypted settings and file
// links. Every caller — the webhook path, the sender, the pollers, the
// widget, the lifecycle — gets the same, complete view from here, so the
// gateway's public URL is known in this one place.
type Views struct {
	publicURL string
	files     *FileLinks
}

// NewViews makes views for a gateway reached at publicURL ("" when it has
// none: entry URLs are then empty) whose file links files signs (nil: no
// file links, connectors leave File.URL empty).
func NewViews(publicURL string, files *FileLinks) *Views {
	return &Views{publicURL: strings.TrimRight(publicURL, "/"), files: files}
}

// PublicURL is the gateway's public base URL without a trailing slash.
func (v *Views) PublicURL() string { return v.publicURL }

// EntryURL is where messengers post a connection's webhooks ("" without a
// public URL).
func (v *Views) EntryURL(c Connection) string {
	if v.publicURL == "" {
		return ""
	}
	return v.publicURL + "/hook/" + c.Hash
}

// Conn is the connector's view of c. Cursor is left for the poll
// supervisor to set.
func (v *Views) Conn(c Connection) connectors.Conn {
	conn := connectors.Conn{ID: c.ID, PortalID: c.PortalID, LineID: c.LineID, Hash: c.Hash, EntryURL: v.EntryURL(c), Settings: c.Settings}
	if v.files != nil {
		conn.Files = v.files.For(c.ID)
	}
	return conn
}

// Snippet is the HTML to paste into a site for a connection whose
// connector is embedded in pages (connectors.Embedder); "" for other
// connectors or without a public URL.
func (v *Views) Snippet(impl connectors.Connector, c Connection) string {
	e, ok := impl.(connectors.Embedder)
	if !ok || v.publicURL == "" {
		return ""
	}
	return e.Snippet(v.Conn(c), v.publicURL)
}
