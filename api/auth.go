package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/connector-gateway/connector/portal"
)

type ctxKey int

const (
	portalKey ctxKey = iota
	requestIDKey
)

// portalHandler is a portal API handler: it gets the authenticated portal
// and the (size-limited, already read) body.
type portalHandler func(w http.ResponseWriter, r *http.Request, p portal.Portal, body []byte)

// authenticated checks a portal API call: X-Portal-Id names the portal, and
// the Standard Webhooks headers sign "METHOD REQUEST-URI\nBODY" with one of
// its secrets, within 5 minutes; a webhook-id is accepted once.
func (s *base) authenticated(h portalHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := readBody(w, r, s.cfg.BodyLimit)
		if err != nil {
			if errors.Is(err, errTooLarge) {
				writeError(w, http.StatusRequestEntityTooLarge, "too_large", "request body too large")
				return
			}
			writeError(w, http.StatusBadRequest, "bad_request", "cannot read body")
			return
		}
		id := r.Header.Get(portal.HeaderPortal)
		if id == "" {
			writeError(w, http.StatusUnauthorized, "unauthorized", "missing "+portal.HeaderPortal+" header")
			return
		}
		p, err := s.Records.GetPortal(r.Context(), id)
		if errors.Is(err, portal.ErrNotFound) {
			writeError(w, http.StatusUnauthorized, "unauthorized", "unknown portal or bad signature")
			return
		}
		if err != nil {
			s.logger(r).Error("api: look up portal", slog.Any("err", err))
			writeError(w, http.StatusServiceUnavailable, "unavailable", "temporarily unavailable")
			return
		}
		if err := portal.Verify(p.Secrets, portal.APIPayload(r.Method, r.URL.RequestURI(), body), r.Header); err != nil {
			writeError(w, http.StatusUnauthorized, "unauthorized", "unknown portal or bad signature")
			return
		}
		first, err := s.Keys.FirstSeen(r.Context(), "api:"+p.ID+":"+r.Header.Get(portal.HeaderID))
		if err != nil {
			s.logger(r).Error("api: replay check", slog.Any("err", err))
			writeError(w, http.StatusServiceUnavailable, "unavailable", "temporarily unavailable")
			return
		}
		if !first {
			writeError(w, http.StatusUnauthorized, "replayed", "this webhook-id was already used; sign each call with a new id")
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), portalKey, p.ID)), p, body)
	})
}
