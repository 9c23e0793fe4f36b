package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/connector-gateway/connector/api"
	"github.com/connector-gateway/connector/api/console"
	"github.com/connector-gateway/connector/api/metrics"
	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/botframework"
	"github.com/connector-gateway/connector/connectors/slack"
	"github.com/connector-gateway/connector/connectors/telegram"
	"github.com/connector-gateway/connector/connectors/webchat"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/queue"
)

// Version is set at build time (-ldflags "-X ...app.Version=v1.2.3").
var Version = "dev"

// Registry builds the connector registry from the configuration. It is the
// one place where channels are registered.
func Registry(cfg Config, log *slog.Logger) (*connectors.Registry, error) {
	bf, err := botframework.New(botframework.Options{OpenIDURL: cfg.BotFramework.OpenIDURL, EmulatorOpenIDURL: cfg.BotFramework.EmulatorOpenIDURL,
		TokenURL: cfg.BotFramework.TokenURL, ServiceURLs: cfg.BotFramework.ServiceURLs, Logger: log})
	if err != nil {
		return nil, err
	}
	return connectors.NewRegistry(
		telegram.New(telegram.Options{APIEndpoint: cfg.Telegram.APIEndpoint, PollTimeout: cfg.Telegram.PollTimeout, Logger: log}),
		slack.New(slack.Options{APIURL: cfg.Slack.APIURL}),
		webchat.New(webchat.Options{MessageLimit: cfg.Webchat.MessageLimit, UploadLimit: cfg.Webchat.UploadLimit, RatePerMinute: cfg.Webchat.RatePerMinute, Poll: cfg.Webchat.Poll}),
		bf,
	)
}

// Store is an open database with the records and outbox on it.
type Store struct {
	// SecretsKey is the key records are sealed with (file links derive
	// their key from it).
	SecretsKey string
	DB         *queue.DB
	Records    *portal.Records
	Outbox     *queue.Outbox
	// Inbox is the one way events enter Outbox.
	Inbox *portal.Inbox
}

// Close stops the outbox's committer and closes the database.
func (s *Store) Close() {
	s.Outbox.Close()
	s.DB.Close()
}

// OpenStore opens the database, migrates it or refuses a schema that is
// behind, and opens the records with the secrets key.
func OpenStore(ctx context.Context, cfg Config, log *slog.Logger, onEnqueue func([]queue.LineRef)) (*Store, error) {
	db, err := queue.Open(ctx, cfg.Database.Driver, cfg.Database.DSN)
	if err != nil {
		return nil, err
	}
	if cfg.autoMigrate() {
		applied, err := db.Migrate(ctx)
		if err != nil {
			db.Close()
			return nil, err
		}
		if len(applied) > 0 {
			log.Info("database migrated", slog.Any("versions", applied))
		}
	} else if err := db.CheckSchema(ctx); err != nil {
		db.Close()
		return nil, err
	}
	key, err := loadKey(cfg, log)
	if err != nil {
		db.Close()
		return nil, err
	}
	sealer, err := portal.NewSealer(key)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("config: secrets.key: %w", err)
	}
	outbox, err := queue.NewOutbox(db, queue.Config{
		Schedule: cfg.Queue.Schedule, Window: cfg.Queue.Window, DedupeTTL: cfg.Queue.DedupeTTL, OnEnqueue: onEnqueue,
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Store{SecretsKey: key, DB: db, Records: portal.NewRecords(db, sealer, outbox), Outbox: outbox, Inbox: portal.NewInbox(outbox)}, nil
}

func loadKey(cfg Config, log *slog.Logger) (string, error) {
	if cfg.Secrets.Key != "" {
		return cfg.Secrets.Key, nil
	}
	path := cfg.keyFile()
	if path == "" {
		return "", errors.New("config: secrets.key: not set")
	}
	raw, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(raw)), nil
	}
	if !errors.Is(err, os.ErrNotExist) || cfg.Secrets.KeyFile != "" || cfg.Database.Driver != queue.DriverSQLite {
		return "", fmt.Errorf("config: secrets.key_file: %w", err)
	}
	key := portal.NewKey()
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("config: secrets.key_file: create %s: %w", path, err)
	}
	log.Warn("created a new secrets key; back it up with the database, without it stored secrets cannot be read", slog.String("file", path))
	return key, nil
}

// App is a running gateway.
type App struct {
	cfg        Config
	log        *slog.Logger
	store      *Store
	registry   *connectors.Registry
	dispatcher *portal.Dispatcher
	// woken is the dispatcher as the outbox's commit callback sees it; it
	// is set once the dispatcher exists.
	woken     atomic.Pointer[portal.Dispatcher]
	sender    *portal.Sender
	receivers *portal.Receivers
	widget    *webchat.Handler
	server    *http.Server
	listener  net.Listener
}

// New builds the gateway and binds its listen address; Run serves.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, log: log}
	reg, err := Registry(cfg, log)
	if err != nil {
		return nil, err
	}
	a.registry = reg
	// The dispatcher is made after the store but woken by it, so the
	// callback reaches it through the App.
	store, err := OpenStore(ctx, cfg, log, func(lines []queue.LineRef) {
		if d := a.woken.Load(); d != nil {
			d.Wake(lines)
		}
	})
	if err != nil {
		return nil, err
	}
	a.store = store
	cache := portal.NewCache(store.Records, 2*time.Second)
	m := metrics.New(store.DB.SQL)
	m.Register(metrics.NewQueueCollector(store.DB.SQL, log))
	if bf, ok := reg.Get(botframework.Type); ok {
		if bf, ok := bf.(*botframework.Connector); ok {
			m.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "connector_botframework_channels_refused_total",
				Help: "Bot Framework activities answered 200 and dropped because their connection does not accept their channel."},
				func() float64 { return float64(bf.RefusedChannels()) }))
		}
	}
	a.dispatcher, err = portal.NewDispatcher(store.Outbox, cache, portal.DispatcherConfig{
		BatchSize: cfg.Dispatch.BatchSize, Concurrency: cfg.Dispatch.Concurrency, PerPortal: cfg.Dispatch.PerPortal,
		Timeout: cfg.Dispatch.Timeout, Lease: cfg.Dispatch.Lease, Poll: cfg.Dispatch.Poll,
		UserAgent: "connector-gateway/" + Version, Logger: log, Observer: m,
	})
	if err != nil {
		store.Close()
		return nil, err
	}
	a.woken.Store(a.dispatcher)
	files, err := portal.NewFileLinks(store.SecretsKey, cfg.PublicURL, cfg.Files.LinkTTL)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("config: secrets.key: %w", err)
	}
	views := portal.NewViews(cfg.PublicURL, files)
	a.sender = portal.NewSender(store.Outbox, store.Records, reg, views, portal.SenderConfig{
		Concurrency: cfg.Send.Concurrency, Timeout: cfg.Send.Timeout, GiveUpAfter: cfg.Send.GiveUpAfter,
		Logger: log, Observer: m,
	})
	a.widget, err = serveWidget(reg, store, views, log)
	if err != nil {
		store.Close()
		return nil, err
	}
	a.receivers = portal.NewReceivers(store.Outbox, store.Inbox, store.Records, reg, views, portal.ReceiversConfig{
		Lease: cfg.Poll.Lease, Logger: log,
	})
	lifecycle := portal.NewLifecycle(portal.LifecycleDeps{
		Records: store.Records, Registry: reg, Views: views, Receivers: a.receivers, Cache: cache, Logger: log,
	})
	handler := api.New(api.Config{BodyLimit: cfg.HTTP.BodyLimit, Logger: log}, api.Deps{
		Records: store.Records, Outbox: store.Outbox, Inbox: store.Inbox, Registry: reg, Views: views, Lifecycle: lifecycle,
		WakeSender: a.sender.Wake, Ready: a.ready, Files: files, Cache: cache, Metrics: m, Widget: widgetSurface(a.widget),
	})
	if cfg.Console.Enabled {
		cons, err := console.New(ctx, console.Config{
			AdminUser: cfg.Console.AdminUser, AdminPassword: cfg.Console.AdminPassword,
			CookieSecure: cfg.Console.CookieSecure, SessionTTL: cfg.Console.SessionTTL, Refresh: cfg.Console.Refresh, Logger: log,
		}, console.Deps{DB: store.DB, Records: store.Records, Outbox: store.Outbox, Registry: reg, Lifecycle: lifecycle, Views: views})
		if err != nil {
			store.Close()
			return nil, err
		}
		handler.MountConsole(cons)
	}
	a.server = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	a.listener, err = net.Listen("tcp", cfg.Addr)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	return a, nil
}

// Addr is the address the gateway listens on.
func (a *App) Addr() string { return a.listener.Addr().String() }

// Store exposes the records and outbox (admin commands, tests).
func (a *App) Store() *Store { return a.store }

// Receivers exposes the poll supervisor (tests).
func (a *App) Receivers() *portal.Receivers { return a.receivers }

func (a *App) ready(ctx context.Context) error {
	if err := a.store.DB.SQL.PingContext(ctx); err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	if err := a.store.DB.CheckSchema(ctx); err != nil {
		return err
	}
	if !a.dispatcher.Running() {
		return errors.New("dispatcher not running")
	}
	return nil
}

// Run serves until ctx ends, then shuts down in order: stop accepting and
// drain HTTP requests (webhooks in flight still commit), stop the pollers,
// dispatcher and sender (batches in flight finish, leases are released),
// flush the outbox, close the database. Pollers of every active polling
// connection start at once (where no other process holds them).
func (a *App) Run(ctx context.Context) error {
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	var wg sync.WaitGroup
	wg.Add(4)
	go func() {
		defer wg.Done()
		_ = a.receivers.Run(workCtx)
	}()
	go func() {
		defer wg.Done()
		if err := a.dispatcher.Run(workCtx); err != nil {
			a.log.Error("dispatcher stopped", slog.Any("err", err))
		}
	}()
	go func() {
		defer wg.Done()
		_ = a.sender.Run(workCtx)
	}()
	go func() {
		defer wg.Done()
		a.janitor(workCtx)
	}()
	if a.cfg.Debug.PprofAddr != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		dbg := &http.Server{Addr: a.cfg.Debug.PprofAddr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := dbg.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				a.log.Warn("pprof listener", slog.Any("err", err))
			}
		}()
		defer dbg.Close()
		a.log.Info("pprof serving", slog.String("addr", a.cfg.Debug.PprofAddr))
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- a.server.Serve(a.listener) }()
	a.log.Info("gateway serving", slog.String("addr", a.Addr()), slog.String("database", a.cfg.Database.Driver),
		slog.String("version", Version))

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
	}
	a.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.HTTP.ShutdownTimeout)
	defer cancel()
	if serr := a.server.Shutdown(sctx); serr != nil {
		a.log.Warn("http shutdown", slog.Any("err", serr))
	}
	if a.widget != nil {
		// Widget sockets are hijacked connections, which Shutdown leaves open.
		if werr := a.widget.Shutdown(sctx); werr != nil {
			a.log.Warn("widget sockets shutdown", slog.Any("err", werr))
		}
	}
	stopWork()
	wg.Wait()
	a.store.Close()
	a.log.Info("stopped")
	return err
}

// janitor forgets old dedupe keys and finished outbound requests.
func (a *App) janitor(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := a.store.Outbox.PurgeDedupeKeys(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("purge dedupe keys", slog.Any("err", err))
		} else if n > 0 {
			a.log.Debug("purged dedupe keys", slog.Int64("count", n))
		}
		if _, err := a.store.Outbox.PurgeOutbound(ctx, 7*24*time.Hour); err != nil && ctx.Err() == nil {
			a.log.Warn("purge outbound requests", slog.Any("err", err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
