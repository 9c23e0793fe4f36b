package webchat

import (
	_ "embed" // the widget script
	"errors"
	"net/http"

	"github.com/connector-gateway/connector/connectors"
)

// widgetJS is the widget: plain JavaScript, no framework, no build step.
//
//go:embed widget.js
var widgetJS []byte

func loadScript() (*connectors.Asset, error) {
	if len(widgetJS) == 0 {
		return nil, errors.New("webchat: the widget script is missing from the binary")
	}
	return connectors.NewAsset("text/javascript; charset=utf-8", widgetJS)
}

// ScriptSize reports the widget script's size in bytes, raw and gzipped.
func ScriptSize() (raw, gzipped int, err error) {
	s, err := loadScript()
	if err != nil {
		return 0, 0, err
	}
	raw, gzipped = s.Size()
	return raw, gzipped, nil
}

// Script serves widget.js to any page: it holds no secret, and the
// endpoints it calls check the page's origin themselves.
func (h *Handler) Script(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cross-Origin-Resource-Policy", "cross-origin")
	// Short caching, so a gateway upgrade reaches pages within minutes.
	h.js.Serve(w, r, "public, max-age=300")
}
