package api

import (
	"errors"
	"net/http"
	"sort"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/portal"
)

// connectionView is a connection as the API shows it: secret settings are
// never echoed, only reported as set.
type connectionView struct {
	portal.Connection
	EntryURL string `json:"entry_url,omitempty"`
	// Snippet is the HTML to paste into a site, for connectors pages embed.
	Snippet  string            `json:"snippet,omitempty"`
	Settings map[string]string `json:"settings"`
	Set      []string          `json:"secrets_set"`
}

func (s *base) view(c portal.Connection) connectionView {
	v := connectionView{Connection: c, Settings: map[string]string{}, Set: []string{}}
	v.EntryURL = s.Views.EntryURL(c)
	secret := map[string]bool{}
	conn, known := s.Registry.Get(c.Connector)
	if known {
		v.Snippet = s.Views.Snippet(conn, c)
	}
	if known {
		for _, f := range conn.Describe().Fields {
			if f.Type == "secret" {
				secret[f.Key] = true
			}
		}
	}
	for k, val := range c.Settings {
		// Without the connector's description nothing is known to be safe
		// to show, so every value is treated as a secret.
		if secret[k] || !known {
			if val != "" {
				v.Set = append(v.Set, k)
			}
			continue
		}
		v.Settings[k] = val
	}
	sort.Strings(v.Set)
	return v
}

func (s *connectionAPI) listConnections(w http.ResponseWriter, r *http.Request, p portal.Portal, _ []byte) {
	l, ok := s.ownLine(w, r, p)
	if !ok {
		return
	}
	cs, err := s.Records.ListConnections(r.Context(), l.ID)
	if err != nil {
		s.internal(w, r, "list connections", err)
		return
	}
	out := make([]connectionView, 0, len(cs))
	for _, c := range cs {
		out = append(out, s.view(c))
	}
	writeJSON(w, http.StatusOK, map[string]any{"connections": out})
}

func (s *connectionAPI) validate(w http.ResponseWriter, typ string, in connectors.Settings) (connectors.Settings, bool) {
	c, ok := s.Registry.Get(typ)
	if !ok {
		writeErrorFields(w, http.StatusUnprocessableEntity, "invalid", "unknown connector", map[string]string{"connector": "unknown connector " + typ})
		return nil, false
	}
	out, err := c.ValidateSettings(in)
	var fe connectors.FieldErrors
	if errors.As(err, &fe) {
		writeErrorFields(w, http.StatusUnprocessableEntity, "invalid", "invalid settings", fe)
		return nil, false
	}
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "invalid", err.Error())
		return nil, false
	}
	return out, true
}

func (s *connectionAPI) createConnection(w http.ResponseWriter, r *http.Request, p portal.Portal, body []byte) {
	l, ok := s.ownLine(w, r, p)
	if !ok {
		return
	}
	var in struct {
		Connector string              `json:"connector"`
		Settings  connectors.Settings `json:"settings"`
	}
	if !decode(w, body, &in) {
		return
	}
	settings, ok := s.validate(w, in.Connector, in.Settings)
	if !ok {
		return
	}
	c, err := s.Records.CreateConnection(r.Context(), l.ID, in.Connector, settings)
	if err != nil {
		s.internal(w, r, "create connection", err)
		return
	}
	writeJSON(w, http.StatusCreated, s.view(c))
}

// ownConnection loads the connection named in the path if it belongs to the
// portal; another portal's connection is reported as not found.
func (s *base) ownConnection(w http.ResponseWriter, r *http.Request, p portal.Portal) (portal.Connection, connectors.Connector, bool) {
	c, err := s.Records.GetConnection(r.Context(), r.PathValue("connection"))
	if err == nil && c.PortalID != p.ID {
		err = portal.ErrNotFound
	}
	if errors.Is(err, portal.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no such connection")
		return c, nil, false
	}
	if err != nil {
		s.internal(w, r, "get connection", err)
		return c, nil, false
	}
	conn, ok := s.Registry.Get(c.Connector)
	if !ok {
		writeError(w, http.StatusConflict, "connector_unavailable", "this gateway has no "+c.Connector+" connector")
		return c, nil, false
	}
	return c, conn, true
}

func (s *connectionAPI) getConnection(w http.ResponseWriter, r *http.Request, p portal.Portal, _ []byte) {
	c, _, ok := s.ownConnection(w, r, p)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, s.view(c))
}

// saveSettings merges the given settings into the stored ones (a secret left
// out or sent empty keeps its stored value, since secrets are never shown to
// be sent back), validates and saves them (portal.Lifecycle.SaveSettings).
func (s *connectionAPI) saveSettings(w http.ResponseWriter, r *http.Request, p portal.Portal, body []byte) {
	c, _, ok := s.ownConnection(w, r, p)
	if !ok {
		return
	}
	var in struct {
		Settings connectors.Settings `json:"settings"`
	}
	if !decode(w, body, &in) {
		return
	}
	c, err := s.Lifecycle.SaveSettings(r.Context(), c, in.Settings)
	var se *portal.SettingsError
	var fe connectors.FieldErrors
	switch {
	case errors.As(err, &fe):
		writeErrorFields(w, http.StatusUnprocessableEntity, "invalid", "invalid settings", fe)
	case errors.As(err, &se):
		writeError(w, http.StatusUnprocessableEntity, "invalid", se.Error())
	case err != nil:
		s.internal(w, r, "save settings", err)
	default:
		writeJSON(w, http.StatusOK, s.view(c))
	}
}

func (s *connectionAPI) testConnection(w http.ResponseWriter, r *http.Request, p portal.Portal, _ []byte) {
	c, _, ok := s.ownConnection(w, r, p)
	if !ok {
		return
	}
	rep, err := s.Lifecycle.Test(r.Context(), c)
	if err != nil {
		s.internal(w, r, "test connection", err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// activate starts receiving and binds the connection's bot to it
// (portal.Lifecycle.Activate).
func (s *connectionAPI) activate(w http.ResponseWriter, r *http.Request, p portal.Portal, _ []byte) {
	c, _, ok := s.ownConnection(w, r, p)
	if !ok {
		return
	}
	c, _, err := s.Lifecycle.Activate(r.Context(), c)
	var ae *portal.ActivationError
	switch {
	case errors.Is(err, portal.ErrPollingUnavailable):
		writeError(w, http.StatusConflict, "polling_unavailable", "this gateway cannot poll for this connection; use webhook mode")
	case errors.As(err, &ae):
		writeError(w, http.StatusBadGateway, "activation_failed", ae.Error())
	case err != nil:
		s.internal(w, r, "activate", err)
	default:
		writeJSON(w, http.StatusOK, s.view(c))
	}
}

// deactivate stops receiving and releases the connection's bot
// (portal.Lifecycle.Deactivate).
func (s *connectionAPI) deactivate(w http.ResponseWriter, r *http.Request, p portal.Portal, _ []byte) {
	c, _, ok := s.ownConnection(w, r, p)
	if !ok {
		return
	}
	c, err := s.Lifecycle.Deactivate(r.Context(), c)
	var ae *portal.ActivationError
	switch {
	case errors.As(err, &ae):
		writeError(w, http.StatusBadGateway, "deactivation_failed", ae.Error())
	case err != nil:
		s.internal(w, r, "deactivate", err)
	default:
		writeJSON(w, http.StatusOK, s.view(c))
	}
}
