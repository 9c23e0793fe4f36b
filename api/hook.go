package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/portal"
)

// hook receives a messenger's webhook for one connection. It answers 200 only
// after the events are committed; any error enqueues nothing.
func (s *hooks) hook(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	conn, c, ok := s.entry(w, r)
	if !ok {
		return
	}
	// A channel that receives no webhooks (the web chat widget) has no
	// entry URL to answer.
	recv, ok := c.(connectors.WebhookReceiver)
	if !ok {
		http.Error(w, "this connection does not receive webhooks", http.StatusNotFound)
		return
	}
	body, err := readBody(w, r, s.cfg.BodyLimit)
	if err != nil {
		if errors.Is(err, errTooLarge) {
			s.refused(conn.Connector, "too_large")
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	// The request's logger is built only on the paths that log: With costs
	// allocations on every webhook otherwise.
	log := func() *slog.Logger {
		return s.logger(r).With(slog.String("connection", conn.ID), slog.String("connector", conn.Connector))
	}
	in, err := recv.Parse(ctx, s.Views.Conn(conn), s.webhookRequest(r, body))
	switch {
	case errors.Is(err, connectors.ErrUnauthorized):
		s.refused(conn.Connector, "unauthorized")
		log().Warn("hook: refused request with a bad secret or signature")
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	case errors.Is(err, connectors.ErrMalformed):
		s.refused(conn.Connector, "malformed")
		log().Info("hook: malformed payload", slog.Any("err", err))
		http.Error(w, "malformed payload", http.StatusBadRequest)
		return
	case err != nil:
		log().Error("hook: parse", slog.Any("err", err))
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	if len(in.Events) > 0 {
		added, err := s.Inbox.Put(ctx, conn.PortalID, conn.LineID, in.Events)
		if err != nil {
			// The messenger retries on a non-2xx answer; dedupe absorbs a
			// retry of something that did commit.
			s.refused(conn.Connector, "unavailable")
			log().Error("hook: enqueue", slog.Any("err", err))
			http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
			return
		}
		if s.Metrics != nil {
			s.Metrics.Webhook(conn.Connector, len(in.Events), added)
		}
	}
	if in.Response != nil {
		if in.Response.ContentType != "" {
			w.Header().Set("Content-Type", in.Response.ContentType)
		}
		w.WriteHeader(in.Response.Status)
		_, _ = w.Write(in.Response.Body)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "ok")
}

// entry finds the active connection behind an entry URL and its
// connector, or answers the request (404, or 503 when the lookup failed).
func (s *hooks) entry(w http.ResponseWriter, r *http.Request) (portal.Connection, connectors.Connector, bool) {
	conn, err := s.connectionByHash(r.Context(), r.PathValue("hash"))
	if errors.Is(err, portal.ErrNotFound) {
		http.NotFound(w, r)
		return conn, nil, false
	}
	if err != nil {
		s.logger(r).Error("hook: look up connection", slog.Any("err", err))
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return conn, nil, false
	}
	c, ok := s.Registry.Get(conn.Connector)
	if !ok || !conn.Active {
		http.NotFound(w, r)
		return conn, nil, false
	}
	return conn, c, true
}

// handshake answers a GET to a connection's entry URL for messengers that
// prove the URL that way (connectors.Handshaker); others get 405, as before
// the route existed.
func (s *hooks) handshake(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	conn, c, ok := s.entry(w, r)
	if !ok {
		return
	}
	hs, ok := c.(connectors.Handshaker)
	if !ok {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	resp, err := hs.Handshake(ctx, s.Views.Conn(conn), s.webhookRequest(r, nil))
	switch {
	case errors.Is(err, connectors.ErrUnauthorized):
		s.refused(conn.Connector, "unauthorized")
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	case errors.Is(err, connectors.ErrMalformed):
		s.refused(conn.Connector, "malformed")
		http.Error(w, "malformed request", http.StatusBadRequest)
		return
	case err != nil:
		s.logger(r).Error("hook: handshake", slog.String("connection", conn.ID), slog.Any("err", err))
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	if resp.ContentType != "" {
		w.Header().Set("Content-Type", resp.ContentType)
	}
	if resp.Status == 0 {
		resp.Status = http.StatusOK
	}
	w.WriteHeader(resp.Status)
	_, _ = w.Write(resp.Body)
}

// webhookRequest is r as the connector sees it: URL is the one the
// messenger called, i.e. the public URL with r's path and raw query.
func (s *hooks) webhookRequest(r *http.Request, body []byte) connectors.Request {
	u := s.Views.PublicURL() + r.URL.RequestURI()
	return connectors.Request{Method: r.Method, URL: u, Query: r.URL.Query(), Header: r.Header, Body: body}
}

func (s *base) refused(connector, reason string) {
	if s.Metrics != nil {
		s.Metrics.Refused(connector, reason)
	}
}

func (s *hooks) connectionByHash(ctx context.Context, hash string) (portal.Connection, error) {
	if s.Cache != nil {
		return s.Cache.ConnectionByHash(ctx, hash)
	}
	return s.Records.ConnectionByHash(ctx, hash)
}

func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, errTooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, errTooLarge
	}
	return body, err
}
