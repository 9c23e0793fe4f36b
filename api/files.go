package api

import (
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/portal"
)

// file streams a messenger file behind a signed, expiring gateway link, so
// no messenger secret ever reaches a portal.
func (s *hooks) file(w http.ResponseWriter, r *http.Request) {
	if s.Files == nil {
		http.NotFound(w, r)
		return
	}
	ref, err := s.Files.Open(r.PathValue("token"))
	if errors.Is(err, portal.ErrLinkExpired) {
		http.Error(w, "link expired", http.StatusGone)
		return
	}
	if err != nil {
		http.NotFound(w, r)
		return
	}
	c, err := s.Records.GetConnection(r.Context(), ref.ConnectionID)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	conn, ok := s.Registry.Get(c.Connector)
	ff, can := conn.(connectors.FileFetcher)
	if !ok || !can {
		http.NotFound(w, r)
		return
	}
	fc, err := ff.FetchFile(r.Context(), s.Views.Conn(c), ref.Ref)
	if errors.Is(err, connectors.ErrNoFile) {
		http.Error(w, "the messenger has no such file", http.StatusNotFound)
		return
	}
	if err != nil {
		s.logger(r).Warn("files: fetch from messenger", slog.String("connection", c.ID), slog.Any("err", err))
		http.Error(w, "file unavailable from the messenger", http.StatusBadGateway)
		return
	}
	defer fc.Body.Close()
	ct := ref.Mime
	if ct == "" {
		ct = fc.Mime
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox")
	h.Set("Cache-Control", "private, max-age=3600")
	disp := "attachment"
	if ref.Name != "" {
		disp = mime.FormatMediaType("attachment", map[string]string{"filename": ref.Name})
	}
	h.Set("Content-Disposition", disp)
	if fc.Size >= 0 {
		h.Set("Content-Length", strconv.FormatInt(fc.Size, 10))
	}
	_, _ = io.Copy(w, fc.Body)
}
