package webchat

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	_ "embed" // the widget script
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
)

// widgetJS is the widget: plain JavaScript, no framework, no build step.
//
//go:embed widget.js
var widgetJS []byte

// script is the widget script as served: raw and gzipped, with its ETag.
type script struct {
	raw, gz []byte
	etag    string
}

func loadScript() (script, error) {
	if len(widgetJS) == 0 {
		return script{}, errors.New("webchat: the widget script is missing from the binary")
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return script{}, err
	}
	if _, err := zw.Write(widgetJS); err != nil {
		return script{}, err
	}
	if err := zw.Close(); err != nil {
		return script{}, err
	}
	sum := sha256.Sum256(widgetJS)
	return script{raw: widgetJS, gz: buf.Bytes(), etag: `"` + hex.EncodeToString(sum[:8]) + `"`}, nil
}

// ScriptSize reports the widget script's size in bytes, raw and gzipped.
func ScriptSize() (raw, gzipped int, err error) {
	s, err := loadScript()
	return len(s.raw), len(s.gz), err
}

// Script serves widget.js to any page: it holds no secret, and the
// endpoints it calls check the page's origin themselves.
func (h *Handler) Script(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Type", "text/javascript; charset=utf-8")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cross-Origin-Resource-Policy", "cross-origin")
	// Short caching, so a gateway upgrade reaches pages within minutes.
	hd.Set("Cache-Control", "public, max-age=300")
	hd.Set("ETag", h.js.etag)
	hd.Add("Vary", "Accept-Encoding")
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, h.js.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := h.js.raw
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		hd.Set("Content-Encoding", "gzip")
		body = h.js.gz
	}
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

func acceptsGzip(ae string) bool {
	for _, part := range strings.Split(ae, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		q, ok := strings.CutPrefix(strings.TrimSpace(params), "q=")
		if !ok {
			return true
		}
		v, err := strconv.ParseFloat(q, 64)
		return err == nil && v > 0
	}
	return false
}
