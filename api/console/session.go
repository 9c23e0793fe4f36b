package console

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Cookie names. Both are HttpOnly and SameSite=Lax, scoped to the console.
const (
	// sessionCookie carries the session token (the database has its hash).
	sessionCookie = "connector_console"
	// loginCookie carries the sign-in form's CSRF token (double submit:
	// there is no session yet to keep it in).
	loginCookie = "connector_console_login"
)

// formLimit caps a console form body.
const formLimit = 64 << 10

// authedHandler is a console handler that runs with a live session.
type authedHandler func(w http.ResponseWriter, r *http.Request, s *session)

// requireSession lets a request through only with a live session: without
// one it is redirected to the sign-in page. A POST must also carry the
// session's CSRF token; without it nothing runs and the answer is 403. An
// admin with a one-time password only reaches the password form.
func (c *base) requireSession(h authedHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := c.currentSession(r)
		if errors.Is(err, errNoSession) {
			next := Prefix
			if r.Method == http.MethodGet {
				next = r.URL.RequestURI()
			}
			http.Redirect(w, r, Prefix+"login?next="+url.QueryEscape(safeNext(next)), http.StatusSeeOther)
			return
		}
		if err != nil {
			c.internal(w, r, nil, "check your session", err)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, formLimit)
			if err := r.ParseForm(); err != nil {
				c.message(w, r, &s, http.StatusBadRequest, "Form not accepted", "The form could not be read; go back and try again.")
				return
			}
			if !sameToken(r.PostForm.Get("csrf"), s.CSRF) {
				c.refuseForm(w, r, &s)
				return
			}
		}
		if s.Admin.MustChange && r.URL.Path != Prefix+"password" && r.URL.Path != Prefix+"logout" {
			http.Redirect(w, r, Prefix+"password", http.StatusSeeOther)
			return
		}
		if c.cfg.Now().Sub(s.LastSeen) > time.Minute {
			if err := c.store.touchSession(r.Context(), &s, c.cfg.SessionTTL); err != nil {
				c.internal(w, r, &s, "renew your session", err)
				return
			}
		}
		h(w, r, &s)
	})
}

// refuseForm answers a form whose CSRF token is missing or wrong.
func (c *base) refuseForm(w http.ResponseWriter, r *http.Request, s *session) {
	c.message(w, r, s, http.StatusForbidden, "Form refused",
		"This form did not carry a valid security token, so nothing was changed. It may have come from another site, or from a page opened before you signed in again. Go back, reload the page and send it again.")
}

// currentSession returns the live session of the request's cookie.
func (c *base) currentSession(r *http.Request) (session, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" || len(ck.Value) > 100 {
		return session{}, errNoSession
	}
	return c.store.sessionByToken(r.Context(), ck.Value)
}

// secure tells whether cookies for this request get the Secure flag.
// X-Forwarded-Proto may be trusted for this: a forged value only makes the
// forger's own cookie stricter.
func (c *base) secure(r *http.Request) bool {
	switch c.cfg.CookieSecure {
	case CookieSecureAlways:
		return true
	case CookieSecureNever:
		return false
	}
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func (c *base) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     Prefix,
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   c.secure(r),
		SameSite: http.SameSiteLaxMode,
	})
}

// sameToken compares a submitted token with the expected one in constant
// time; an empty expected token never matches.
func sameToken(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// safeNext returns next when it is a path inside the console, and the
// console's home otherwise, so the sign-in page cannot be used to send an
// admin to another site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix) || strings.Contains(next, "//") || strings.ContainsAny(next, "\\\x00\r\n\t") {
		return Prefix
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, Prefix) || strings.Contains(u.Path, "/..") {
		return Prefix
	}
	return next
}

// remoteAddr is the client's address for the audit trail.
func remoteAddr(r *http.Request) string {
	addr := r.RemoteAddr
	if i := strings.LastIndexByte(addr, ':'); i > 0 && !strings.HasSuffix(addr, "]") {
		addr = addr[:i]
	}
	return strings.Trim(addr, "[]")
}
