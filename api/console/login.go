package console

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// loginView is the data of the sign-in page.
type loginView struct {
	Username string
	Next     string
	Error    string
	// Token is the sign-in form's CSRF token (also in loginCookie).
	Token string
}

// loginPage shows the sign-in form (or goes home when already signed in).
func (c *authPages) loginPage(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if _, err := c.currentSession(r); err == nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	c.showLogin(w, r, http.StatusOK, loginView{Next: next})
}

func (c *authPages) showLogin(w http.ResponseWriter, r *http.Request, status int, v loginView) {
	v.Token = randomToken()
	c.setCookie(w, r, loginCookie, v.Token, 3600)
	c.render(w, r, status, "login", nil, "", v)
}

// login checks the credentials and starts a session.
func (c *authPages) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, formLimit)
	if err := r.ParseForm(); err != nil {
		c.message(w, r, nil, http.StatusBadRequest, "Form not accepted", "The form could not be read; go back and try again.")
		return
	}
	ck, err := r.Cookie(loginCookie)
	if err != nil || !sameToken(r.PostForm.Get("csrf"), ck.Value) {
		c.refuseForm(w, r, nil)
		return
	}
	v := loginView{Username: strings.TrimSpace(r.PostForm.Get("username")), Next: safeNext(r.PostForm.Get("next"))}
	password := r.PostForm.Get("password")
	if v.Username == "" || password == "" {
		v.Error = "Enter your user name and password."
		c.showLogin(w, r, http.StatusUnprocessableEntity, v)
		return
	}
	ctx := r.Context()
	a, err := c.store.adminByName(ctx, v.Username)
	if err != nil && !errors.Is(err, errNoAdmin) {
		c.internal(w, r, nil, "check your sign-in", err)
		return
	}
	if err == nil && c.cfg.Now().Before(a.LockedUntil) {
		v.Error = "Too many wrong passwords: this account is locked until " + a.LockedUntil.Format("15:04:05 UTC") + ". Try again then."
		c.showLogin(w, r, http.StatusTooManyRequests, v)
		return
	}
	ok, err := c.verify(r, a.PasswordHash, password, err == nil)
	if err != nil {
		c.internal(w, r, nil, "check your sign-in", err)
		return
	}
	addr := remoteAddr(r)
	if !ok {
		if a.ID != "" {
			if _, err := c.store.loginFailed(ctx, a); err != nil {
				c.internal(w, r, nil, "check your sign-in", err)
				return
			}
		}
		if err := c.store.audit(ctx, auditEntry{Actor: truncate(normalizeUsername(v.Username), 100), Action: "login.failed", RemoteAddr: addr}); err != nil {
			c.cfg.Logger.Warn("console: audit failed sign-in", slog.Any("err", err))
		}
		// One message for a wrong name and a wrong password: the form
		// does not tell which admins exist.
		v.Error = "Wrong user name or password."
		c.showLogin(w, r, http.StatusUnauthorized, v)
		return
	}
	if err := c.store.loginSucceeded(ctx, a); err != nil {
		c.internal(w, r, nil, "sign you in", err)
		return
	}
	tok, _, err := c.store.createSession(ctx, a, c.cfg.SessionTTL)
	if err != nil {
		c.internal(w, r, nil, "sign you in", err)
		return
	}
	if err := c.store.audit(ctx, auditEntry{Actor: a.Username, Action: "login", RemoteAddr: addr}); err != nil {
		c.internal(w, r, nil, "sign you in", err)
		return
	}
	c.setCookie(w, r, sessionCookie, tok, 0)
	c.setCookie(w, r, loginCookie, "", -1)
	next := v.Next
	if a.MustChange {
		next = Prefix + "password"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// dummyHash is checked against when the user name is unknown, so a wrong
// name takes as long as a wrong password.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$ZHVtbXloYXNoZHVtbXloYXNoZHVtbXloYXNoISE"

// verify checks a password, a few at a time (each hash takes 19 MiB).
func (c *authPages) verify(r *http.Request, hash, password string, known bool) (bool, error) {
	select {
	case c.hashing <- struct{}{}:
		defer func() { <-c.hashing }()
	case <-r.Context().Done():
		return false, r.Context().Err()
	case <-time.After(30 * time.Second):
		return false, errors.New("console: password check queue is full")
	}
	if !known {
		_, _ = checkPassword(dummyHash, password)
		return false, nil
	}
	return checkPassword(hash, password)
}

// logout ends the session.
func (c *authPages) logout(w http.ResponseWriter, r *http.Request, s *session) {
	if err := c.store.deleteSession(r.Context(), s.TokenHash); err != nil {
		c.internal(w, r, s, "sign you out", err)
		return
	}
	if err := c.store.audit(r.Context(), auditEntry{Actor: s.Admin.Username, Action: "logout", RemoteAddr: remoteAddr(r)}); err != nil {
		c.cfg.Logger.Warn("console: audit sign-out", slog.Any("err", err))
	}
	c.setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, Prefix+"login", http.StatusSeeOther)
}

// passwordView is the data of the password form.
type passwordView struct {
	Forced bool
	Errors map[string]string
}

func (c *authPages) passwordPage(w http.ResponseWriter, r *http.Request, s *session) {
	c.render(w, r, http.StatusOK, "password", s, "", passwordView{Forced: s.Admin.MustChange})
}

// changePassword sets a new password after checking the current one; every
// other session of the admin ends.
func (c *authPages) changePassword(w http.ResponseWriter, r *http.Request, s *session) {
	v := passwordView{Forced: s.Admin.MustChange, Errors: map[string]string{}}
	current, next, again := r.PostForm.Get("current"), r.PostForm.Get("new"), r.PostForm.Get("again")
	ok, err := c.verify(r, s.Admin.PasswordHash, current, true)
	if err != nil {
		c.internal(w, r, s, "check your password", err)
		return
	}
	if !ok {
		v.Errors["current"] = "This is not your current password."
	}
	if msg := validateNewPassword(next, s.Admin.Username); msg != "" {
		v.Errors["new"] = "The new password " + msg + "."
	} else if next == current {
		v.Errors["new"] = "Choose a password different from the current one."
	}
	if again != next {
		v.Errors["again"] = "The two new passwords differ."
	}
	if len(v.Errors) > 0 {
		c.render(w, r, http.StatusUnprocessableEntity, "password", s, "", v)
		return
	}
	if err := c.store.setPassword(r.Context(), s.Admin.ID, hashPassword(next), false, s.TokenHash); err != nil {
		c.internal(w, r, s, "change your password", err)
		return
	}
	if err := c.store.audit(r.Context(), auditEntry{Actor: s.Admin.Username, Action: "password.change", Target: s.Admin.ID, RemoteAddr: remoteAddr(r)}); err != nil {
		c.internal(w, r, s, "record the change", err)
		return
	}
	http.Redirect(w, r, done(Prefix, "password", 0), http.StatusSeeOther)
}
