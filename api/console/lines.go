package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/queue"
)

// deadLettersPerPage is how many dead letters the line page lists at once.
const deadLettersPerPage = 100

// lineView is the data of a line's page.
type lineView struct {
	Row         *lineRow
	Portal      portal.Portal
	DeadLetters []deadLetterRow
	// NextAfter is the dead-letter id to continue the list after (0: no more).
	NextAfter int64
	After     int64
}

// deadLetterRow is a dead letter with a short summary of its event.
type deadLetterRow struct {
	queue.DeadLetter
	Type    string
	Summary string
}

func summarize(d queue.DeadLetter) deadLetterRow {
	row := deadLetterRow{DeadLetter: d}
	var ev connectors.Event
	if err := json.Unmarshal(d.Payload, &ev); err != nil {
		row.Type = "unreadable event"
		return row
	}
	row.Type = ev.Type
	if ev.Message != nil && ev.Message.Text != "" {
		text := []rune(ev.Message.Text)
		if len(text) > 80 {
			text = append(text[:79], '…')
		}
		row.Summary = string(text)
	}
	if ev.User != nil && ev.User.Name != "" {
		row.Summary = ev.User.Name + ": " + row.Summary
	}
	return row
}

// lineOf loads the line named in the path, answering 404 itself.
func (c *base) lineOf(w http.ResponseWriter, r *http.Request, s *session) (portal.Line, bool) {
	l, err := c.deps.Records.GetLine(r.Context(), r.PathValue("line"))
	if errors.Is(err, portal.ErrNotFound) {
		c.message(w, r, s, http.StatusNotFound, "No such line", "The line does not exist (any more).")
		return l, false
	}
	if err != nil {
		c.internal(w, r, s, "read the line", err)
		return l, false
	}
	return l, true
}

// linePage shows one line: its state, connections and dead letters.
func (c *adminPages) linePage(w http.ResponseWriter, r *http.Request, s *session) {
	l, ok := c.lineOf(w, r, s)
	if !ok {
		return
	}
	ctx := r.Context()
	v, err := c.collectStatus(ctx)
	if err != nil {
		c.internal(w, r, s, "read the line", err)
		return
	}
	var lv lineView
	for _, pr := range v.Portals {
		for _, lr := range pr.Lines {
			if lr.Line.ID == l.ID {
				lv.Row, lv.Portal = lr, pr.Portal
			}
		}
	}
	if lv.Row == nil {
		c.message(w, r, s, http.StatusNotFound, "No such line", "The line's portal does not exist (any more).")
		return
	}
	lv.After, _ = strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	dls, err := c.deps.Outbox.DeadLetters(ctx, l.ID, lv.After, deadLettersPerPage+1)
	if err != nil {
		c.internal(w, r, s, "read the dead letters", err)
		return
	}
	if len(dls) > deadLettersPerPage {
		dls = dls[:deadLettersPerPage]
		lv.NextAfter = dls[len(dls)-1].ID
	}
	for _, d := range dls {
		lv.DeadLetters = append(lv.DeadLetters, summarize(d))
	}
	c.render(w, r, http.StatusOK, "line", s, "status", lv)
}

// replay puts a line's dead letters (all, or the ticked ones) back in its
// queue, in their original order.
func (c *adminPages) replay(w http.ResponseWriter, r *http.Request, s *session) {
	l, ok := c.lineOf(w, r, s)
	if !ok {
		return
	}
	var ids []int64
	if r.PostForm.Get("scope") != "all" {
		for _, raw := range r.PostForm["id"] {
			id, err := strconv.ParseInt(raw, 10, 64)
			if err != nil || id <= 0 {
				c.message(w, r, s, http.StatusBadRequest, "Nothing replayed", "The list of dead letters sent was not valid; reload the page and try again.")
				return
			}
			ids = append(ids, id)
		}
		if len(ids) == 0 {
			c.message(w, r, s, http.StatusUnprocessableEntity, "Nothing replayed", "Tick at least one dead letter, or use “Replay all”.")
			return
		}
	}
	n, err := c.deps.Outbox.Replay(r.Context(), l.ID, ids)
	if err != nil {
		c.internal(w, r, s, "replay the dead letters", err)
		return
	}
	detail := fmt.Sprintf("replayed %d dead letter(s) of line %q", n, l.Name)
	if len(ids) > 0 {
		strs := make([]string, len(ids))
		for i, id := range ids {
			strs[i] = strconv.FormatInt(id, 10)
		}
		detail += " (ids " + strings.Join(strs, ", ") + ")"
	}
	if err := c.store.audit(r.Context(), auditEntry{Actor: s.Admin.Username, Action: "deadletters.replay", Target: l.ID, Detail: detail, RemoteAddr: remoteAddr(r)}); err != nil {
		c.internal(w, r, s, "record the replay", err)
		return
	}
	http.Redirect(w, r, done(Prefix+"lines/"+l.ID, "replayed", n), http.StatusSeeOther)
}

// auditView is the data of the audit trail page.
type auditView struct {
	Entries    []auditEntry
	NextBefore int64
}

const auditPerPage = 100

func (c *adminPages) auditPage(w http.ResponseWriter, r *http.Request, s *session) {
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	es, err := c.store.auditPage(r.Context(), before, auditPerPage+1)
	if err != nil {
		c.internal(w, r, s, "read the audit trail", err)
		return
	}
	v := auditView{Entries: es}
	if len(es) > auditPerPage {
		v.Entries = es[:auditPerPage]
		v.NextBefore = v.Entries[len(v.Entries)-1].ID
	}
	c.render(w, r, http.StatusOK, "audit", s, "audit", v)
}

// receivedView is the answer of the wizard's "first message" check.
type receivedView struct {
	Received   bool       `json:"received"`
	ReceivedAt *time.Time `json:"received_at,omitempty"`
	// Delivered: the portal acknowledged the line's events since then.
	Delivered bool `json:"delivered"`
	// Pending events of the line and why the last delivery failed, if it did.
	Pending       int64      `json:"pending"`
	DeliveryError string     `json:"delivery_error,omitempty"`
	LockedUntil   *time.Time `json:"locked_until,omitempty"`
}

// received tells whether the connection received anything from its
// messenger since the given time (ms since the epoch), and whether the
// portal has acknowledged it; the wizard's last step polls it.
func (c *adminPages) received(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	cn, err := c.deps.Records.GetConnection(ctx, r.PathValue("connection"))
	if errors.Is(err, portal.ErrNotFound) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such connection"})
		return
	}
	if err != nil {
		c.cfg.Logger.Error("console: received check", slog.Any("err", err))
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal error"})
		return
	}
	since, _ := strconv.ParseInt(r.URL.Query().Get("since"), 10, 64)
	first, got, err := c.deps.Keys.FirstSince(ctx, receivedPrefix(cn), time.UnixMilli(since))
	if err == nil {
		var st queue.LineStatus
		if st, err = c.deps.Outbox.Status(ctx, cn.LineID); err == nil {
			v := receivedView{Pending: st.Pending, DeliveryError: st.LastError, LockedUntil: st.LockedUntil}
			if got {
				v.Received, v.ReceivedAt = true, &first
				v.Delivered = st.LastOKAt != nil && !st.LastOKAt.Before(first)
			}
			writeJSON(w, http.StatusOK, v)
			return
		}
	}
	c.cfg.Logger.Error("console: received check", slog.Any("err", err))
	writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal error"})
}

// receivedPrefix is the dedupe-key prefix of everything a connection
// receives from its messenger (connectors.DedupeKey).
func receivedPrefix(c portal.Connection) string { return connectors.DedupeKeyPrefix(c.Connector, c.ID) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
