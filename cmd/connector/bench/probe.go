package bench

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/connector-gateway/connector/queue/sqldb"
)

// probe reads what a phase cost: CPU time of the server process under test
// and of the database server (from /proc/<pid>/stat), and the statements the
// database ran (MariaDB's global Com_* counters). The counters and the
// database's CPU are server-wide: on a shared machine they include other
// clients' work, which the run's load line says.
type probe struct {
	db    *sql.DB // nil: no statement counts (SQLite)
	dbPID int     // 0: no database process (SQLite)
}

type sample struct {
	// bench is this process's own CPU: the load generator and the fake
	// portals, which share the machine with the server and the database.
	server, db, bench time.Duration
	stmts             int64
	// From MariaDB's USER_STATISTICS when userstat is on: the run's own
	// database user's statements, commits and CPU, free of other clients.
	userOK            bool
	userStmts, userTx int64
	userCPU           time.Duration
	at                time.Time
}

// cost is one phase's cost per event.
type cost struct {
	ServerCPUus float64 `json:"server_cpu_us"`
	DBCPUus     float64 `json:"db_cpu_us"`
	// BenchCPUus is the bench process's own CPU per event: the loader and
	// the portals (signature checks) on this same machine.
	BenchCPUus    float64 `json:"bench_cpu_us"`
	StmtsPerEvent float64 `json:"statements"`
	// Per-user figures (only with MariaDB's userstat on): statements and
	// commits per event and the database threads' CPU for this run's user.
	UserStmtsPerEvent   float64 `json:"user_statements,omitempty"`
	UserCommitsPerEvent float64 `json:"user_commits,omitempty"`
	UserDBCPUus         float64 `json:"user_db_cpu_us,omitempty"`
}

func newProbe(ctx context.Context, o Options) *probe {
	p := &probe{}
	if o.Driver == sqldb.DriverSQLite {
		return p
	}
	if db, err := sqldb.Open(ctx, o.Driver, o.DSN); err == nil {
		p.db = db.SQL
	}
	p.dbPID = findProcess("mariadbd", "mysqld")
	return p
}

func (p *probe) close() {
	if p.db != nil {
		p.db.Close()
	}
}

func (p *probe) sample(ctx context.Context, serverPID int) sample {
	s := sample{server: procCPU(serverPID), bench: procCPU(os.Getpid()), at: time.Now()}
	if p.dbPID != 0 {
		s.db = procCPU(p.dbPID)
	}
	if p.db != nil {
		s.stmts = p.statements(ctx)
		var cpu float64
		err := p.db.QueryRowContext(ctx, `SELECT SELECT_COMMANDS+UPDATE_COMMANDS+OTHER_COMMANDS, COMMIT_TRANSACTIONS, CPU_TIME
			FROM information_schema.USER_STATISTICS WHERE USER = SUBSTRING_INDEX(CURRENT_USER(), '@', 1)`).Scan(&s.userStmts, &s.userTx, &cpu)
		if err == nil {
			s.userOK, s.userCPU = true, time.Duration(cpu*float64(time.Second))
		}
	}
	return s
}

// statements sums the counters of the statements a queue runs.
func (p *probe) statements(ctx context.Context) int64 {
	rows, err := p.db.QueryContext(ctx, "SHOW GLOBAL STATUS WHERE Variable_name IN ('Com_insert','Com_select','Com_update','Com_delete','Com_replace','Com_insert_select','Com_delete_multi','Com_update_multi')")
	if err != nil {
		return 0
	}
	defer rows.Close()
	var n int64
	for rows.Next() {
		var name, v string
		if rows.Scan(&name, &v) == nil {
			x, _ := strconv.ParseInt(v, 10, 64)
			n += x
		}
	}
	return n
}

// per divides what changed since before by events.
func (p *probe) per(before, after sample, events int64) cost {
	if events <= 0 {
		return cost{}
	}
	c := cost{
		ServerCPUus: float64((after.server - before.server).Microseconds()) / float64(events),
		BenchCPUus:  float64((after.bench - before.bench).Microseconds()) / float64(events),
	}
	if p.dbPID != 0 {
		c.DBCPUus = float64((after.db - before.db).Microseconds()) / float64(events)
	}
	if p.db != nil {
		// The probe's own SHOW STATUS counts as one select.
		c.StmtsPerEvent = float64(after.stmts-before.stmts-1) / float64(events)
	}
	if before.userOK && after.userOK {
		// The probe's own two queries count as statements of this user.
		c.UserStmtsPerEvent = float64(after.userStmts-before.userStmts-2) / float64(events)
		c.UserCommitsPerEvent = float64(after.userTx-before.userTx) / float64(events)
		c.UserDBCPUus = float64((after.userCPU - before.userCPU).Microseconds()) / float64(events)
	}
	return c
}

// mix is the event-weighted mean of c (over n events) and d (over m).
func (c cost) mix(n int64, d cost, m int64) cost {
	if n+m <= 0 {
		return c
	}
	f := func(a, b float64) float64 { return (a*float64(n) + b*float64(m)) / float64(n+m) }
	return cost{
		ServerCPUus: f(c.ServerCPUus, d.ServerCPUus), DBCPUus: f(c.DBCPUus, d.DBCPUus), BenchCPUus: f(c.BenchCPUus, d.BenchCPUus),
		StmtsPerEvent:     f(c.StmtsPerEvent, d.StmtsPerEvent),
		UserStmtsPerEvent: f(c.UserStmtsPerEvent, d.UserStmtsPerEvent), UserCommitsPerEvent: f(c.UserCommitsPerEvent, d.UserCommitsPerEvent),
		UserDBCPUus: f(c.UserDBCPUus, d.UserDBCPUus),
	}
}

func (c cost) String() string {
	s := fmt.Sprintf("server CPU %.0f µs/event", c.ServerCPUus)
	if c.BenchCPUus > 0 {
		s += fmt.Sprintf(", bench (loader, portals) CPU %.0f µs/event", c.BenchCPUus)
	}
	if c.DBCPUus > 0 || c.StmtsPerEvent > 0 {
		s += fmt.Sprintf(", database CPU %.0f µs/event, %.2f statements/event", c.DBCPUus, c.StmtsPerEvent)
	}
	if c.UserStmtsPerEvent > 0 {
		s += fmt.Sprintf(" (server-wide); this user: %.2f statements, %.3f commits, %.0f µs DB CPU /event", c.UserStmtsPerEvent, c.UserCommitsPerEvent, c.UserDBCPUus)
	}
	return s
}

// procCPU is a process's user+system CPU time so far.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: state is field 3, utime 14, stime 15.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / ticks
}

// findProcess returns the pid of the first process with one of the names.
func findProcess(names ...string) int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		comm, err := os.ReadFile(filepath.Join(d, "comm"))
		if err != nil {
			continue
		}
		name := strings.TrimSpace(string(comm))
		for _, n := range names {
			if name == n {
				pid, _ := strconv.Atoi(filepath.Base(d))
				return pid
			}
		}
	}
	return 0
}

// loadAvg is the 1-minute load average, to print next to throughput.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
