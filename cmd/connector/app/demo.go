package app

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/connector-gateway/connector/api/console"
	"github.com/connector-gateway/connector/api/demo"
)

// DemoConfig turns on the built-in demo portal (connector demo).
type DemoConfig struct {
	// Enabled serves the demo inbox and test site. Default false.
	Enabled bool
	// TelegramToken, when set, also connects that bot in polling mode.
	TelegramToken string
}

// mountDemo builds the demo portal on the gateway's own loopback address
// and serves its pages: the inbox inside the console, the webhook and the
// test site beside the API. Its setup (portal, line, connections) runs
// once the gateway serves, in Run, as it calls the API over HTTP.
func (a *App) mountDemo(ctx context.Context, store *Store, cons *console.Console, api http.Handler) error {
	if cons == nil {
		return errors.New("demo: needs the console (console.enabled), which signs the inbox in")
	}
	d, err := demo.New(demo.Config{
		BaseURL: "http://" + loopback(a.Addr()), PublicURL: strings.TrimRight(a.cfg.PublicURL, "/"),
		TelegramToken: a.cfg.Demo.TelegramToken, Logger: a.log,
	}, store.Records)
	if err != nil {
		return err
	}
	if err := d.Prepare(ctx); err != nil {
		return err
	}
	d.MountInbox(cons)
	mux := http.NewServeMux()
	mux.Handle("/demo/", d.Public())
	mux.Handle("/", api)
	a.server.Handler = a.tracer.Handler(mux)
	a.demo = d
	return nil
}

// loopback is the listen address as this process reaches it: a wildcard
// host becomes 127.0.0.1.
func loopback(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
