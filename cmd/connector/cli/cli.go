// Package cli is the connector command line: serve, migrate, version and the
// admin helpers. It only parses and wires; the work is in the packages.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/connector-gateway/connector/cmd/connector/app"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/queue/sqldb"
)

// Main runs the command line and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(stderr, "connector:", err)
		}
		return 1
	}
	return 0
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "connector",
		Short:         "Omnichannel connector gateway: messengers in, signed batches out to your helpdesk portal",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	pf := root.PersistentFlags()
	pf.String("config", "", "config file (YAML, JSON or TOML); also CONNECTOR_CONFIG")
	pf.String("db-driver", "", "database driver: sqlite or mysql (database.driver)")
	pf.String("db-dsn", "", "database DSN or SQLite file (database.dsn)")
	pf.String("log-level", "", "debug, info, warn or error (log.level)")
	pf.String("log-format", "", "text or json (log.format)")
	root.AddCommand(serveCmd(), migrateCmd(), versionCmd(), keygenCmd(), portalCmd(), lineCmd(), connectionCmd(), deadLettersCmd(), benchCmd(), healthcheckCmd(), consoleCmd(), apiCmd(), demoCmd())
	return root
}

func serveCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the gateway (SQLite in the working directory when nothing is configured)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd.Flags())
			if err != nil {
				return err
			}
			log := newLogger(cfg, cmd.ErrOrStderr())
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			a, err := app.New(ctx, cfg, log)
			if err != nil {
				return err
			}
			return a.Run(ctx)
		},
	}
	c.Flags().String("addr", "", "listen address HOST:PORT (addr; default 127.0.0.1:8080)")
	c.Flags().String("public-url", "", "public base URL messengers reach the gateway at (public_url)")
	return c
}

func migrateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending database migrations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd.Flags())
			if err != nil {
				return err
			}
			db, err := sqldb.Open(cmd.Context(), cfg.Database.Driver, cfg.Database.DSN)
			if err != nil {
				return err
			}
			defer db.Close()
			applied, err := db.Migrate(cmd.Context())
			if err != nil {
				return err
			}
			cur, _, err := db.SchemaVersion(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "applied %d migration(s); schema at version %d\n", len(applied), cur)
			return nil
		},
	}
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "connector", app.Version)
		},
	}
}

func keygenCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "keygen",
		Short: "Print a new secrets key (for secrets.key / CONNECTOR_SECRETS_KEY)",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), portal.NewKey())
		},
	}
}

// withStore opens the configured store for an admin command.
func withStore(cmd *cobra.Command, fn func(ctx context.Context, s *app.Store) error) error {
	cfg, err := loadConfig(cmd.Flags())
	if err != nil {
		return err
	}
	log := newLogger(cfg, cmd.ErrOrStderr())
	s, err := app.OpenStore(cmd.Context(), cfg, log, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	return fn(cmd.Context(), s)
}

func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }
