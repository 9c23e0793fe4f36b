package webchat

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/connector-gateway/connector/connectors"
)

// sessionRequest is what the widget posts when a page loads (token only, or
// nothing on a first visit) and when the visitor fills in the pre-chat form
// (profile set).
type sessionRequest struct {
	Token    string `json:"token"`
	Language string `json:"language"`
	// Profile, when set, replaces the visitor's name and e-mail.
	Profile *struct {
		Name  string `json:"name"`
		Email string `json:"email"`
	} `json:"profile"`
}

// sessionAnswer tells the widget who it is and how to look.
type sessionAnswer struct {
	Token   string       `json:"token"`
	Visitor string       `json:"visitor"`
	Profile profile      `json:"profile"`
	Config  publicConfig `json:"config"`
}

// maxSessionBody bounds a session request.
const maxSessionBody = 8 << 10

// Session starts or continues a visitor's session: a valid token of this
// widget is kept, anything else (none, forged, another widget's) gets a new
// visitor. It creates nothing in the database until the visitor writes or
// fills in the pre-chat form, so page views cost no storage. The widget
// posts it as text/plain, which spares the browser a CORS preflight; the
// body is JSON all the same.
func (h *Handler) Session(w http.ResponseWriter, r *http.Request) {
	c, ok := h.widget(w, r)
	if !ok {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxSessionBody+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "cannot read the request")
		return
	}
	if len(body) > maxSessionBody {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", "request too large")
		return
	}
	var in sessionRequest
	if len(body) > 0 {
		if err := json.Unmarshal(body, &in); err != nil {
			writeError(w, http.StatusBadRequest, "malformed_json", "the request is not valid JSON")
			return
		}
	}
	ctx := r.Context()
	now := h.cn.opts.Now()
	token := in.Token
	visitor, err := h.sign.visitor(token, c.ID)
	if err != nil {
		visitor = newID("vis_")
		token = h.sign.visitorToken(c.ID, visitor, now)
	}
	if !languageShape.MatchString(in.Language) {
		in.Language = ""
	}
	if in.Profile != nil {
		p, fields := checkProfile(c.Settings, in.Profile.Name, in.Profile.Email)
		if len(fields) > 0 {
			writeErrorFields(w, http.StatusUnprocessableEntity, "invalid", "please check the form", fields)
			return
		}
		p.Language = in.Language
		if ok, _ := h.limit.allow(c.ID+"|"+visitor, now); !ok {
			writeError(w, http.StatusTooManyRequests, codeRateLimited, "too many requests, try again in a moment")
			return
		}
		if err := h.store.setProfile(ctx, c.ID, visitor, p); err != nil {
			h.internal(w, "save profile", err)
			return
		}
	}
	p, err := h.store.profile(ctx, c.ID, visitor)
	if err != nil && !errors.Is(err, errNotFound) {
		h.internal(w, "read profile", err)
		return
	}
	p.Language = "" // the browser knows its own language
	writeJSON(w, http.StatusOK, sessionAnswer{Token: token, Visitor: visitor, Profile: p, Config: h.cn.publicConfig(c.Settings)})
}

// checkProfile cleans a pre-chat form and names what is wrong with it.
func checkProfile(s connectors.Settings, name, email string) (profile, map[string]string) {
	fields := map[string]string{}
	name = strings.Join(strings.Fields(cleanText(name)), " ")
	email = strings.TrimSpace(email)
	switch {
	case name == "" && s[SettingPrechatName] == PrechatRequired:
		fields["name"] = "please tell us your name"
	case utf8.RuneCountInString(name) > 100:
		fields["name"] = "at most 100 characters"
	}
	switch {
	case email == "" && s[SettingPrechatEmail] == PrechatRequired:
		fields["email"] = "please give your e-mail address"
	case email != "" && !validEmail(email):
		fields["email"] = "this does not look like an e-mail address"
	}
	return profile{Name: name, Email: email}, fields
}

func validEmail(s string) bool {
	if len(s) > 254 {
		return false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return false
	}
	_, domain, ok := strings.Cut(s, "@")
	return ok && strings.Contains(domain, ".") && !strings.ContainsAny(s, " <>\"")
}

// internal logs a failure of the gateway and answers 503.
func (h *Handler) internal(w http.ResponseWriter, what string, err error) {
	h.log.Error("widget: "+what, slog.Any("err", err))
	writeError(w, http.StatusServiceUnavailable, codeUnavailable, "the chat is unavailable, try again later")
}
