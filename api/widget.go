package api

import "net/http"

// Widget is the web chat widget's public HTTP surface (the webchat
// connector): the script pages include, and the endpoints that script calls
// from visitors' browsers. None is signed by a portal: each checks the
// calling page's origin against the connection's allowed sites, or a token
// the gateway signed, itself.
type Widget interface {
	// Script serves GET /widget.js.
	Script(w http.ResponseWriter, r *http.Request)
	// Session serves POST /widget/{widget}/session.
	Session(w http.ResponseWriter, r *http.Request)
	// Socket serves GET /widget/{widget}/ws (WebSocket).
	Socket(w http.ResponseWriter, r *http.Request)
	// Upload serves POST /widget/{widget}/uploads.
	Upload(w http.ResponseWriter, r *http.Request)
	// Download serves GET /widget/{widget}/files/{token}.
	Download(w http.ResponseWriter, r *http.Request)
}

// widgetRoutes routes the widget's surface; without a Widget (no webchat
// connector in this gateway) every one of them is 404.
func (s *Server) widgetRoutes() {
	route := func(pattern string, h func(Widget, http.ResponseWriter, *http.Request)) {
		s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if s.Widget == nil {
				http.NotFound(w, r)
				return
			}
			h(s.Widget, w, r)
		})
	}
	route("GET /widget.js", Widget.Script)
	route("POST /widget/{widget}/session", Widget.Session)
	route("GET /widget/{widget}/ws", Widget.Socket)
	route("POST /widget/{widget}/uploads", Widget.Upload)
	route("GET /widget/{widget}/files/{token}", Widget.Download)
}
