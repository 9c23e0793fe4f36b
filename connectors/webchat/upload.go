package webchat

import (
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// uploadAnswer describes a stored upload; the widget then sends a message
// naming its id.
type uploadAnswer struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Mime  string `json:"mime"`
	Size  int64  `json:"size"`
	Token string `json:"token"`
}

// uploadTimeout bounds one upload (the server's read timeout is shorter,
// and a big file over a slow line needs longer).
const uploadTimeout = 5 * time.Minute

// Upload stores a file a visitor sends. The body is multipart/form-data
// (which, unlike a JSON body with an Authorization header, needs no CORS
// preflight): first a "token" field with the visitor token, then a "file"
// part. Over the upload limit is 413 and stores nothing.
func (h *Handler) Upload(w http.ResponseWriter, r *http.Request) {
	c, ok := h.widget(w, r)
	if !ok {
		return
	}
	limit := h.cn.opts.UploadLimit
	if r.ContentLength > limit+64<<10 {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", "the file is larger than "+humanBytes(limit))
		return
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(uploadTimeout))
	r.Body = http.MaxBytesReader(w, r.Body, limit+64<<10)
	mr, err := r.MultipartReader()
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "want multipart/form-data with a token and a file")
		return
	}
	part, err := mr.NextPart()
	if err != nil || part.FormName() != "token" {
		writeError(w, http.StatusBadRequest, "bad_request", "the first part must be the visitor token")
		return
	}
	raw, err := io.ReadAll(io.LimitReader(part, maxTokenLen+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "cannot read the token")
		return
	}
	visitor, err := h.sign.visitor(string(raw), c.ID)
	if err != nil {
		writeError(w, http.StatusUnauthorized, "unauthorized", "invalid visitor token")
		return
	}
	now := h.cn.opts.Now()
	if ok, wait := h.limit.allow(c.ID+"|"+visitor, now); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		writeError(w, http.StatusTooManyRequests, codeRateLimited, "too many messages, try again in a moment")
		return
	}
	part, err = mr.NextPart()
	if err != nil || part.FormName() != "file" {
		writeError(w, http.StatusBadRequest, "bad_request", "the second part must be the file")
		return
	}
	content, err := io.ReadAll(io.LimitReader(part, limit+1))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) || int64(len(content)) > limit {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", "the file is larger than "+humanBytes(limit))
		return
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "cannot read the file")
		return
	}
	if len(content) == 0 {
		writeError(w, http.StatusUnprocessableEntity, "invalid", "the file is empty")
		return
	}
	u := upload{ID: newID("upl_"), Conversation: visitor, Name: cleanFileName(part.FileName()),
		Mime: cleanMime(part.Header.Get("Content-Type")), Size: int64(len(content)), Content: content, At: now}
	if err := h.store.saveUpload(r.Context(), c.ID, u, ""); err != nil {
		h.internal(w, "save upload", err)
		return
	}
	h.log.Debug("widget: upload stored", slog.String("connection", c.ID), slog.Int64("size", u.Size))
	writeJSON(w, http.StatusCreated, uploadAnswer{ID: u.ID, Name: u.Name, Mime: u.Mime, Size: u.Size,
		Token: h.sign.downloadToken(c.ID, visitor, u.ID, now.Add(downloadLinkTT))})
}

// Download serves a visitor their own upload by a signed link. It is
// opened by a click or an <img>, which send no Origin, so the link itself
// is the credential. The file is served so that no browser runs it: as an
// attachment, with nosniff and a sandbox policy, and a type from a short
// list of inert ones.
func (h *Handler) Download(w http.ResponseWriter, r *http.Request) {
	c, ok := h.lookup(w, r)
	if !ok {
		return
	}
	visitor, id, err := h.sign.download(r.PathValue("token"), c.ID, h.cn.opts.Now())
	if errors.Is(err, errLinkExpired) {
		writeError(w, http.StatusGone, "expired", "this link has expired; open the chat again for a fresh one")
		return
	}
	if err != nil {
		writeError(w, http.StatusNotFound, "not_found", "no such file")
		return
	}
	u, err := h.store.uploadContent(r.Context(), c.ID, visitor, id)
	if errors.Is(err, errNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no such file")
		return
	}
	if err != nil {
		h.internal(w, "read upload", err)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", servedMime(u.Mime))
	hd.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": u.Name}))
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	hd.Set("Cross-Origin-Resource-Policy", "cross-origin")
	hd.Set("Cache-Control", "private, max-age=3600")
	hd.Set("Content-Length", strconv.FormatInt(u.Size, 10))
	_, _ = w.Write(u.Content)
}

// servedMime is the type a file is served with: its own when it is one of a
// few types browsers only display, application/octet-stream otherwise (no
// HTML, SVG or script, whatever the visitor claimed).
func servedMime(m string) string {
	switch m {
	case "image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain",
		"audio/mpeg", "audio/ogg", "video/mp4", "video/webm":
		return m
	}
	return "application/octet-stream"
}

// cleanMime keeps the media type of a declared Content-Type.
func cleanMime(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || len(mt) > 100 || !strings.Contains(mt, "/") {
		return "application/octet-stream"
	}
	return mt
}

// cleanFileName keeps the last path element of a file name, without
// control characters or quotes, at most 200 characters.
func cleanFileName(name string) string {
	name = path.Base(strings.ReplaceAll(name, `\`, "/"))
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' || r == utf8.RuneError {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	if name == "" || name == "." || name == "/" {
		name = "file"
	}
	if utf8.RuneCountInString(name) > 200 {
		name = string([]rune(name)[:200])
	}
	return name
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}
