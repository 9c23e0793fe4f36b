package console

import (
	"errors"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/portal"
)

// connView is a connection with what the console shows around it.
type connView struct {
	Conn      portal.Connection
	Connector connectors.Description
	Line      portal.Line
	Portal    portal.Portal
	EntryURL  string
	// Snippet is the HTML to paste into a site, for connectors pages embed
	// (connectors.Embedder); empty otherwise.
	Snippet string
	// Shown are the non-secret settings; Secrets say only "set" or "not set".
	Shown, Secrets []keyValue
	LastReceived   time.Time
	// Channels are the virtual channels the connection received from.
	Channels []string
}

// connectionOf loads the connection named by id with its line, portal and
// connector, answering errors itself.
func (c *base) connectionOf(w http.ResponseWriter, r *http.Request, s *session, id string) (connView, connectors.Connector, bool) {
	ctx := r.Context()
	var v connView
	cn, err := c.deps.Records.GetConnection(ctx, id)
	if errors.Is(err, portal.ErrNotFound) || id == "" {
		c.message(w, r, s, http.StatusNotFound, "No such connection", "The connection does not exist (any more).")
		return v, nil, false
	}
	if err != nil {
		c.internal(w, r, s, "read the connection", err)
		return v, nil, false
	}
	impl, ok := c.deps.Registry.Get(cn.Connector)
	if !ok {
		c.message(w, r, s, http.StatusConflict, "Channel not available",
			"This connection uses the "+cn.Connector+" channel, which this gateway does not have (any more).")
		return v, nil, false
	}
	v.Conn, v.Connector = cn, impl.Describe()
	if v.Line, err = c.deps.Records.GetLine(ctx, cn.LineID); err == nil {
		v.Portal, err = c.deps.Records.GetPortal(ctx, cn.PortalID)
	}
	if err == nil {
		v.LastReceived, _, err = c.deps.Keys.Last(ctx, receivedPrefix(cn))
	}
	if err != nil {
		c.internal(w, r, s, "read the connection", err)
		return v, nil, false
	}
	chans, err := c.deps.Records.Channels(ctx, cn.ID)
	if err != nil {
		c.internal(w, r, s, "read the connection", err)
		return v, nil, false
	}
	v.Channels = chans[cn.ID]
	v.EntryURL = c.deps.Views.EntryURL(cn)
	v.Snippet = c.deps.Views.Snippet(impl, cn)
	v.Shown, v.Secrets = publicSettings(v.Connector, cn.Settings)
	return v, impl, true
}

func (c *adminPages) connectionPage(w http.ResponseWriter, r *http.Request, s *session) {
	v, _, ok := c.connectionOf(w, r, s, r.PathValue("connection"))
	if !ok {
		return
	}
	c.render(w, r, http.StatusOK, "connection", s, "status", v)
}

// settingsView is the data of the settings form.
type settingsView struct {
	connView
	Form formView
	Next string
}

func (c *adminPages) settingsPage(w http.ResponseWriter, r *http.Request, s *session) {
	v, _, ok := c.connectionOf(w, r, s, r.PathValue("connection"))
	if !ok {
		return
	}
	next := safeNext(r.URL.Query().Get("next"))
	if r.URL.Query().Get("next") == "" {
		next = Prefix + "connections/" + v.Conn.ID
	}
	c.render(w, r, http.StatusOK, "settings", s, "status", settingsView{connView: v, Next: next,
		Form: settingsForm(v.Connector, nil, v.Conn.Settings, nil)})
}

// saveSettings merges the form into the stored settings (a secret left empty
// keeps its value), validates and saves them.
func (c *adminPages) saveSettings(w http.ResponseWriter, r *http.Request, s *session) {
	v, _, ok := c.connectionOf(w, r, s, r.PathValue("connection"))
	if !ok {
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	changes := readSettings(r, v.Connector)
	saved, err := c.deps.Lifecycle.SaveSettings(r.Context(), v.Conn, changes)
	var se *portal.SettingsError
	if errors.As(err, &se) {
		fe, ok := se.Err.(connectors.FieldErrors)
		if !ok {
			fe = connectors.FieldErrors{"settings": se.Error()}
		}
		c.render(w, r, http.StatusUnprocessableEntity, "settings", s, "status", settingsView{connView: v, Next: next,
			Form: settingsForm(v.Connector, changes, v.Conn.Settings, fe)})
		return
	}
	if err != nil {
		c.internal(w, r, s, "save the settings", err)
		return
	}
	settings := saved.Settings
	var changed []string
	for k, val := range settings {
		if v.Conn.Settings[k] != val {
			changed = append(changed, k)
		}
	}
	for k := range v.Conn.Settings {
		if _, still := settings[k]; !still {
			changed = append(changed, k)
		}
	}
	sort.Strings(changed)
	detail := "no setting changed"
	if len(changed) > 0 {
		// Names only: values may be secrets.
		detail = "changed " + strings.Join(changed, ", ")
	}
	if err := c.store.audit(r.Context(), auditEntry{Actor: s.Admin.Username, Action: "connection.settings", Target: v.Conn.ID, Detail: detail, RemoteAddr: remoteAddr(r)}); err != nil {
		c.internal(w, r, s, "record the change", err)
		return
	}
	http.Redirect(w, r, done(next, "settings", 0), http.StatusSeeOther)
}

// deactivate stops a connection from receiving, through the same code the
// portal API uses.
func (c *adminPages) deactivate(w http.ResponseWriter, r *http.Request, s *session) {
	v, _, ok := c.connectionOf(w, r, s, r.PathValue("connection"))
	if !ok {
		return
	}
	_, err := c.deps.Lifecycle.Deactivate(r.Context(), v.Conn)
	var ae *portal.ActivationError
	if errors.As(err, &ae) {
		c.message(w, r, s, http.StatusBadGateway, "Not deactivated",
			"The messenger refused to stop delivering to the gateway: "+ae.Error()+". Try again in a moment.")
		return
	}
	if err != nil {
		c.internal(w, r, s, "deactivate the connection", err)
		return
	}
	if err := c.store.audit(r.Context(), auditEntry{Actor: s.Admin.Username, Action: "connection.deactivate", Target: v.Conn.ID, RemoteAddr: remoteAddr(r)}); err != nil {
		c.internal(w, r, s, "record the change", err)
		return
	}
	http.Redirect(w, r, done(Prefix+"connections/"+v.Conn.ID, "deactivated", 0), http.StatusSeeOther)
}
