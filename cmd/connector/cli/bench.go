package cli

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/connector-gateway/connector/cmd/connector/bench"
)

func benchCmd() *cobra.Command {
	var o bench.Options
	c := &cobra.Command{
		Use:   "bench",
		Short: "Measure the whole pipeline against this machine's ceilings (writes to the database: use a scratch one)",
		Long: `bench measures, in one run: the database's one-row-per-commit, multi-row and
claim-and-delete ceilings and a loopback HTTP round trip; then, against a real
gateway child process, webhook ingest, end-to-end latency at a fixed offered
rate, healthy lines' latency while another portal is dead, a backlog drain,
and the gateway's peak RSS with many configured lines. Each phase states its
CPU per event: the server's, the database's (MariaDB), and the bench's own
(the loader and the fake portals share the machine). It prints a table and,
as its last line, one JSON object.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Out = cmd.OutOrStdout()
			_, err := bench.Run(cmd.Context(), o)
			return err
		},
	}
	f := c.Flags()
	f.StringVar(&o.Driver, "driver", "sqlite", "database driver: mysql or sqlite")
	f.StringVar(&o.DSN, "dsn", "", "database DSN (mysql: a scratch database; sqlite: default a new temp file)")
	f.BoolVar(&o.Short, "short", false, "a few-second run with small counts")
	f.DurationVar(&o.Duration, "duration", 0, "length of each timed phase (default 10s, short 1s)")
	f.IntVar(&o.Concurrency, "concurrency", 0, "concurrent webhook senders in the ingest phase (default 64)")
	f.IntVar(&o.BatchSize, "batch-size", 0, "dispatcher batch size (default 100)")
	f.IntVar(&o.Lines, "lines", 0, "lines configured in all (default 10000, short 300)")
	f.IntVar(&o.Rate, "rate", 0, "offered rate in the latency phases, events/s (default 1000)")
	f.StringVar(&o.PprofAddr, "pprof", "", "serve the gateway child's pprof on this address (to profile a run)")
	f.IntVar(&o.Backlog, "backlog", 0, "events in the backlog drain (default 1000000, short 20000)")
	c.AddCommand(referenceServerCmd())
	return c
}

// referenceServerCmd runs the reference group-commit server bench loads
// beside the gateway; bench starts it as a child process.
func referenceServerCmd() *cobra.Command {
	var driver, dsn, addr string
	c := &cobra.Command{
		Use:    "reference-server",
		Short:  "The minimal group-commit webhook server bench measures ingest against",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			return bench.ServeReference(ctx, driver, dsn, addr)
		},
	}
	f := c.Flags()
	f.StringVar(&driver, "driver", "sqlite", "database driver")
	f.StringVar(&dsn, "dsn", "", "database DSN")
	f.StringVar(&addr, "addr", "127.0.0.1:0", "listen address")
	return c
}
