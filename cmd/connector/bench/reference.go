package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/connector-gateway/connector/queue/sqldb"
)

// The reference server is the yardstick ingest is stated against: about the
// least a durable webhook receiver can do. It parses the Telegram update
// into a struct, hands it to one group committer that writes every waiting
// update in one multi-row insert (a unique key on update_id makes a retry a
// no-op), and answers 200 only after that commit. No auth, no routing, no
// delivery: what it costs is the floor of HTTP + JSON + one durable commit
// per group on this machine. It runs as a child process (connector bench
// reference-server) so its CPU is measured apart from the load generator's.

type refUpdate struct {
	UpdateID int64 `json:"update_id"`
	Message  *struct {
		MessageID int64 `json:"message_id"`
		From      struct {
			ID        int64  `json:"id"`
			FirstName string `json:"first_name"`
			Username  string `json:"username"`
		} `json:"from"`
		Chat struct {
			ID   int64  `json:"id"`
			Type string `json:"type"`
		} `json:"chat"`
		Date int64  `json:"date"`
		Text string `json:"text"`
	} `json:"message"`
}

type refReq struct {
	id      int64
	payload []byte
	done    chan error
}

const refTable = "bench_reference"

// ServeReference runs the reference server on addr until ctx ends. It
// creates (and empties) its own table in the database.
func ServeReference(ctx context.Context, driver, dsn, addr string) error {
	db, err := sqldb.Open(ctx, driver, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	_, _ = db.SQL.ExecContext(ctx, "DROP TABLE IF EXISTS "+refTable)
	ddl := "CREATE TABLE " + refTable + " (update_id BIGINT NOT NULL PRIMARY KEY, payload MEDIUMBLOB NOT NULL) ENGINE=InnoDB"
	if driver == sqldb.DriverSQLite {
		ddl = "CREATE TABLE " + refTable + " (update_id INTEGER NOT NULL PRIMARY KEY, payload BLOB NOT NULL)"
	}
	if _, err := db.SQL.ExecContext(ctx, ddl); err != nil {
		return err
	}
	defer db.SQL.ExecContext(context.Background(), "DROP TABLE IF EXISTS "+refTable)

	reqs := make(chan *refReq, 512)
	go refCommitter(db, reqs)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("POST /hook/{hash}", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "read", http.StatusBadRequest)
			return
		}
		var u refUpdate
		if err := json.Unmarshal(body, &u); err != nil || u.UpdateID <= 0 || u.Message == nil {
			http.Error(w, "malformed", http.StatusBadRequest)
			return
		}
		payload, _ := json.Marshal(u.Message)
		req := &refReq{id: u.UpdateID, payload: payload, done: make(chan error, 1)}
		reqs <- req
		if err := <-req.done; err != nil {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// refCommitter is the whole group commit: take one request, add every
// other one waiting, write them in one autocommitted statement.
func refCommitter(db *sqldb.DB, reqs <-chan *refReq) {
	group := make([]*refReq, 0, 512)
	args := make([]any, 0, 1024)
	var q strings.Builder
	for r := range reqs {
		group = append(group[:0], r)
	fill:
		for len(group) < cap(group) {
			select {
			case r := <-reqs:
				group = append(group, r)
			default:
				break fill
			}
		}
		q.Reset()
		q.WriteString(db.Dialect.InsertIgnore() + " " + refTable + " (update_id, payload) VALUES ")
		args = args[:0]
		for i, r := range group {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString("(?,?)")
			args = append(args, r.id, r.payload)
		}
		_, err := db.SQL.ExecContext(context.Background(), q.String(), args...)
		if err != nil {
			err = fmt.Errorf("reference: insert: %w", err)
		}
		for _, r := range group {
			r.done <- err
		}
	}
}
