package cli

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/connector-gateway/connector/cmd/connector/app"
)

// envTelegramToken names the bot the demo also connects (polling).
const envTelegramToken = "TELEGRAM_BOT_TOKEN"

func demoCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "demo",
		Short: "Run the gateway with a built-in demo portal: a test site with the chat widget and a helpdesk inbox",
		Long: `Run the gateway (as serve does) plus a built-in demo portal, to see a message
go round trip in minutes with nothing else installed.

On the first start the demo creates its portal (webhook: the gateway's own
/demo/batches on loopback), a line and a web chat connection. Open
http://<addr>/demo/site, write in the chat, and answer from the inbox at
http://<addr>/console/demo/ (sign in to the console first: the first start
logs a one-time admin password). The inbox is a real portal: batches reach it
signed through the outbox and dispatcher, and its answers, edits and deletions
are signed API calls.

With ` + envTelegramToken + ` set, the demo also connects that Telegram bot in
polling mode (no public URL needed): write to the bot, answer from the inbox.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd.Flags())
			if err != nil {
				return err
			}
			cfg.Demo = app.DemoConfig{Enabled: true, TelegramToken: os.Getenv(envTelegramToken)}
			if cfg.PublicURL == "" {
				// The widget's script and socket are loaded from here.
				cfg.PublicURL = "http://" + cfg.Addr
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
	c.Flags().String("public-url", "", "base URL browsers reach the gateway at (public_url; default http://<addr>)")
	return c
}
