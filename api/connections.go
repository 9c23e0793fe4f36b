package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sort"
	"time"

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

func (s *Server) view(c portal.Connection) connectionView {
	v := connectionView{Connection: c, Settings: map[string]string{}, Set: []string{}}
	if s.cfg.PublicURL != "" {
		v.EntryURL = c.Conn(s.cfg.PublicURL).EntryURL
	}
	secret := map[string]bool{}
	conn, known := s.Registry.Get(c.Connector)
	if e, ok := conn.(connectors.Embedder); ok && s.cfg.PublicURL != "" {
		v.Snippet = e.Snippet(c.Conn(s.cfg.PublicURL), s.cfg.PublicURL)
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

func (s *Server) listConnections(w http.ResponseWriter, r *http.Request, p portal.Portal, _ []byte) {
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

func (s *Server) validate(w http.ResponseWriter, typ string, in connectors.Settings) (connectors.Settings, bool) {
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

func (s *Server) createConnection(w http.ResponseWriter, r *http.Request, p portal.Portal, body []byte) {
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
func (s *Server) ownConnection(w http.ResponseWriter, r *http.Request, p portal.Portal) (portal.Connection, connectors.Connector, bool) {
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

func (s *Server) getConnection(w http.ResponseWriter, r *http.Request, p portal.Portal, _ []byte) {
	c, _, ok := s.ownConnection(w, r, p)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, s.view(c))
}

// saveSettings merges the given settings into the stored ones (a secret left
// out or sent empty keeps its stored value, since secrets are never shown to
// be sent back), validates and saves them.
func (s *Server) saveSettings(w http.ResponseWriter, r *http.Request, p portal.Portal, body []byte) {
	c, conn, ok := s.ownConnection(w, r, p)
	if !ok {
		return
	}
	var in struct {
		Settings connectors.Settings `json:"settings"`
	}
	if !decode(w, body, &in) {
		return
	}
	merged := connectors.Settings{}
	for k, v := range c.Settings {
		merged[k] = v
	}
	secret := map[string]bool{}
	for _, f := range conn.Describe().Fields {
		secret[f.Key] = f.Type == "secret"
	}
	for k, v := range in.Settings {
		if v == "" && secret[k] {
			continue
		}
		merged[k] = v
	}
	settings, ok := s.validate(w, c.Connector, merged)
	if !ok {
		return
	}
	if err := s.Records.UpdateSettings(r.Context(), c.ID, settings); err != nil {
		s.internal(w, r, "save settings", err)
		return
	}
	s.forget(c)
	c.Settings, c.UpdatedAt = settings, time.Now().UTC()
	writeJSON(w, http.StatusOK, s.view(c))
}

func (s *Server) testConnection(w http.ResponseWriter, r *http.Request, p portal.Portal, _ []byte) {
	c, conn, ok := s.ownConnection(w, r, p)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 20*time.Second)
	defer cancel()
	rep, err := conn.Test(ctx, s.connView(c))
	if err != nil {
		s.internal(w, r, "test connection", err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// activate identifies the connection's bot (connectors.Identifier), starts
// receiving (webhook or polling), then binds the bot to this connection and
// marks it active in one transaction: a connection that held the same bot
// loses it and goes into emergency (portal.Records.Activate).
func (s *Server) activate(w http.ResponseWriter, r *http.Request, p portal.Portal, _ []byte) {
	c, conn, ok := s.ownConnection(w, r, p)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 20*time.Second)
	defer cancel()
	view := s.connView(c)
	fail := func(err error) {
		_ = s.Records.SetState(r.Context(), c.ID, false, portal.ConnError, err.Error())
		writeError(w, http.StatusBadGateway, "activation_failed", err.Error())
	}
	botKey := ""
	if id, can := conn.(connectors.Identifier); can {
		key, err := id.BotKey(ctx, view)
		if err != nil {
			fail(err)
			return
		}
		botKey = key
	}
	err := conn.Activate(ctx, view)
	polling := errors.Is(err, connectors.ErrNeedsPolling)
	if polling {
		if s.Receivers == nil {
			_ = s.Records.SetState(r.Context(), c.ID, false, portal.ConnError, "polling mode is not available in this gateway")
			writeError(w, http.StatusConflict, "polling_unavailable", "this gateway cannot poll for this connection; use webhook mode")
			return
		}
		err = nil
	}
	if err != nil {
		fail(err)
		return
	}
	lost, err := s.Records.Activate(r.Context(), s.Outbox, c.ID, botKey)
	if err != nil {
		s.internal(w, r, "activate", err)
		return
	}
	s.forget(c)
	if lost.ID != "" {
		s.logger(r).Warn("bot bound to a new connection; the old one is in emergency",
			slog.String("connection", c.ID), slog.String("line", c.LineID), slog.String("old_connection", lost.ID), slog.String("old_line", lost.LineID))
		if s.Receivers != nil {
			s.Receivers.StopPolling(ctx, lost.ID)
		}
	}
	if s.Receivers != nil {
		if polling {
			if err := s.Receivers.StartPolling(ctx, c); err != nil {
				fail(err)
				return
			}
		} else {
			s.Receivers.StopPolling(ctx, c.ID)
		}
	}
	c.Active, c.Status, c.LastError = true, portal.ConnOK, ""
	writeJSON(w, http.StatusOK, s.view(c))
}

// deactivate stops receiving and releases the connection's bot. A
// connection in emergency is not touched at the messenger: its bot now
// belongs to another connection, whose webhook must stay.
func (s *Server) deactivate(w http.ResponseWriter, r *http.Request, p portal.Portal, _ []byte) {
	c, conn, ok := s.ownConnection(w, r, p)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 20*time.Second)
	defer cancel()
	if s.Receivers != nil {
		s.Receivers.StopPolling(ctx, c.ID)
	}
	if c.Status != portal.ConnEmergency {
		if err := conn.Deactivate(ctx, s.connView(c)); err != nil {
			writeError(w, http.StatusBadGateway, "deactivation_failed", err.Error())
			return
		}
	}
	if err := s.Records.Deactivate(r.Context(), c.ID); err != nil {
		s.internal(w, r, "deactivate", err)
		return
	}
	s.forget(c)
	c.Active, c.Status, c.LastError = false, portal.ConnNew, ""
	writeJSON(w, http.StatusOK, s.view(c))
}
