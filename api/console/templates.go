package console

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// embedded holds templates/ and static/.
//
//go:embed templates static
var embedded embed.FS

// pageNames lists every page the console renders; each is
// templates/<name>.html, executed inside templates/layout.html.
func pageNames() []string {
	return []string{
		"login", "password", "message",
		"status", "line", "connection", "settings", "audit", "find",
		"wizard_portal", "wizard_portal_created", "wizard_portal_kind", "wizard_line", "wizard_channel", "wizard_test", "wizard_activate",
	}
}

// pages are the parsed page templates, by name.
type pages struct {
	byName map[string]*template.Template
}

// loadPages parses the layout, the shared partials and every page; a
// missing or broken file is an error naming it, so the gateway refuses to
// start rather than fail on the first visit.
func loadPages(fsys fs.FS, funcs template.FuncMap) (*pages, error) {
	base := template.New("layout.html").Funcs(funcs)
	for _, f := range []string{"templates/layout.html", "templates/partials.html"} {
		raw, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, fmt.Errorf("console: template %s is missing: %w", f, err)
		}
		if _, err := base.New(f).Parse(string(raw)); err != nil {
			return nil, fmt.Errorf("console: template %s: %w", f, err)
		}
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, name := range pageNames() {
		f := "templates/" + name + ".html"
		raw, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, fmt.Errorf("console: template %s is missing: %w", f, err)
		}
		t, err := base.Clone()
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", f, err)
		}
		if _, err := t.New(f).Parse(string(raw)); err != nil {
			return nil, fmt.Errorf("console: template %s: %w", f, err)
		}
		for _, block := range []string{"title", "content"} {
			if t.Lookup(block) == nil {
				return nil, fmt.Errorf("console: template %s defines no %q block", f, block)
			}
		}
		p.byName[name] = t
	}
	return p, nil
}

// page is what every template gets.
type page struct {
	// Nav marks the current section in the header ("status", "wizard",
	// "audit").
	Nav   string
	Admin *admin
	CSRF  string
	// Notice is a one-line confirmation shown above the content.
	Notice string
	Data   any
}

// render executes a page into a buffer first, so a template error becomes
// a clean 500 instead of half a page.
func (c *base) render(w http.ResponseWriter, r *http.Request, status int, name string, s *session, nav string, data any) {
	p := page{Nav: nav, Data: data, Notice: noticeFor(r.URL.Query())}
	if s != nil {
		p.Admin, p.CSRF = &s.Admin, s.CSRF
	}
	c.renderPage(w, status, name, "layout", p)
}

func (c *base) renderPage(w http.ResponseWriter, status int, name, tmpl string, p page) {
	t, ok := c.pages.byName[name]
	if !ok {
		c.cfg.Logger.Error("console: no such page template", slog.String("page", name))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, tmpl, p); err != nil {
		c.cfg.Logger.Error("console: render", slog.String("page", name), slog.Any("err", err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// noticeFor turns the "done" query parameter a form's redirect carries into
// its confirmation text. Only fixed texts: a link cannot make the console
// say anything else.
func noticeFor(q url.Values) string {
	n, _ := strconv.Atoi(q.Get("n"))
	switch q.Get("done") {
	case "password":
		return "Your password was changed."
	case "settings":
		return "The settings were saved."
	case "deactivated":
		return "The connection was deactivated: it no longer receives messages."
	case "replayed":
		return fmt.Sprintf("%d dead %s put back in the queue; they are delivered again now.", n, pluralWord(int64(n), "letter was", "letters were"))
	}
	return ""
}

func pluralWord(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// done is the redirect target after a form: path with its confirmation.
func done(path, what string, n int64) string {
	q := url.Values{"done": {what}}
	if n != 0 {
		q.Set("n", strconv.FormatInt(n, 10))
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + q.Encode()
}

// messageView is the data of the message page.
type messageView struct {
	Title, Text string
}

// message renders a short page that explains something (an error, a refusal).
func (c *base) message(w http.ResponseWriter, r *http.Request, s *session, status int, title, text string) {
	c.render(w, r, status, "message", s, "", messageView{Title: title, Text: text})
}

// internal logs err and shows a generic error page.
func (c *base) internal(w http.ResponseWriter, r *http.Request, s *session, what string, err error) {
	c.cfg.Logger.Error("console: "+what, slog.Any("err", err))
	c.message(w, r, s, http.StatusInternalServerError, "Something went wrong",
		"The gateway could not "+what+". The error is in the gateway's log; try again in a moment.")
}

// funcs are the template helpers; they read the console's clock.
func (c *base) funcs() template.FuncMap {
	return template.FuncMap{
		// when formats a time for people, in UTC.
		"when": func(t time.Time) string {
			if t.IsZero() {
				return "never"
			}
			return t.UTC().Format("2006-01-02 15:04:05 UTC")
		},
		// iso is the machine form for <time datetime>.
		"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		// ago says how long ago t was ("3m 12s").
		"ago": func(t time.Time) string { return human(c.cfg.Now().Sub(t)) },
		// in says how long until t ("in 59m 3s").
		"in": func(t time.Time) string { return human(t.Sub(c.cfg.Now())) },
		"ms": func(d time.Duration) int64 { return d.Milliseconds() },
		"plural": func(n any, one, many string) (string, error) {
			switch v := n.(type) {
			case int:
				return pluralWord(int64(v), one, many), nil
			case int64:
				return pluralWord(v, one, many), nil
			}
			return "", fmt.Errorf("plural: want an integer, got %T", n)
		},
		// dict builds a map for a partial: dict "key" value "key" value...
		"dict": func(kv ...any) (map[string]any, error) {
			if len(kv)%2 != 0 {
				return nil, fmt.Errorf("dict: odd number of arguments")
			}
			m := make(map[string]any, len(kv)/2)
			for i := 0; i < len(kv); i += 2 {
				k, ok := kv[i].(string)
				if !ok {
					return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
				}
				m[k] = kv[i+1]
			}
			return m, nil
		},
		"join":   strings.Join,
		"redact": redactURL,
	}
}

// redactURL hides a password inside a URL (https://user:secret@host/...):
// a portal's webhook URL may carry basic-auth credentials, which the
// console must not show or write to the audit trail.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// human writes a duration the way people read it: the two largest units.
func human(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	d = d.Round(time.Second)
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	h := d / time.Hour
	d -= h * time.Hour
	m := d / time.Minute
	d -= m * time.Minute
	s := d / time.Second
	switch {
	case days > 0:
		return fmt.Sprintf("%dd %dh", days, h)
	case h > 0:
		return fmt.Sprintf("%dh %dm", h, m)
	case m > 0:
		return fmt.Sprintf("%dm %ds", m, s)
	default:
		return fmt.Sprintf("%ds", s)
	}
}
