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
	"github.com/connector-gateway/connector/api/demo"
	"github.com/connector-gateway/connector/api/metrics"
	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/botframework"
	"github.com/connector-gateway/connector/connectors/meta"
	"github.com/connector-gateway/connector/connectors/slack"
	"github.com/connector-gateway/connector/connectors/telegram"
	"github.com/connector-gateway/connector/connectors/twilio"
	"github.com/connector-gateway/connector/connectors/webchat"
	"github.com/connector-gateway/connector/connectors/xmpp"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/portal/tracing"
	"github.com/connector-gateway/connector/portal/traffic"
	"github.com/connector-gateway/connector/queue"
	"github.com/connector-gateway/connector/queue/sqldb"
)

// Version is set at build time (-ldflags "-X ...app.Version=v1.2.3").
var Version = "dev"

// Registry builds the connector registry from the configuration. It is the
// one place where channels are registered. The web chat keeps its
// conversations in the gateway's database, so the registry is built once
// the store is open.
func Registry(cfg Config, log *slog.Logger, store *Store, views *portal.Views) (*connectors.Registry, error) {
	wc, err := newWebchat(cfg, log, store, views)
	if err != nil {
		return nil, err
	}
	bo := cfg.BotFramework
	bo.Logger = log
	bf, err := botframework.New(bo)
	if err != nil {
		return nil, err
	}
	tg := cfg.Telegram
	tg.Logger = log
	xo := cfg.XMPP
	xo.Logger = log
	return connectors.NewRegistry(
		telegram.New(tg),
		slack.New(cfg.Slack),
		meta.NewWhatsApp(cfg.Meta), meta.NewMessenger(cfg.Meta), meta.NewInstagram(cfg.Meta),
		twilio.New(cfg.Twilio),
		xmpp.New(xo),
		bf,
		wc,
	)
}

// Store is an open database with the records and the queue's stores on it.
type Store struct {
	// SecretsKey is the key records are sealed with (file links derive
	// their key from it).
	SecretsKey string
	DB         *sqldb.DB
	Records    *portal.Records
	Outbox     *queue.Outbox
	Outbound   *queue.Outbound
	Polls      *queue.Polls
	Keys       *queue.Keys
	// Instances records the running processes and frees a dead one's
	// leases (instance.go).
	Instances *queue.Instances
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
	db, err := sqldb.Open(ctx, cfg.Database.Driver, cfg.Database.DSN)
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
	qcfg := cfg.Queue
	qcfg.OnEnqueue = onEnqueue
	outbox, err := queue.NewOutbox(db, qcfg)
	if err != nil {
		db.Close()
		return nil, err
	}
	polls := queue.NewPolls(db, nil)
	records := portal.NewRecords(db, sealer, outbox, polls)
	inbox := portal.NewInbox(outbox)
	inbox.NoteChannels(records.NoteChannel)
	return &Store{SecretsKey: key, DB: db, Records: records, Outbox: outbox,
		Outbound: queue.NewOutbound(outbox), Polls: polls, Keys: queue.NewKeys(outbox), Inbox: inbox,
		Instances: queue.NewInstances(db, nil)}, nil
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
	if !errors.Is(err, os.ErrNotExist) || cfg.Secrets.KeyFile != "" || cfg.Database.Driver != sqldb.DriverSQLite {
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
	demo      *demo.Demo
	traffic   *traffic.Recorder
	tracer    *tracing.Tracer
	server    *http.Server
	listener  net.Listener
	// instance is this process's id: the owner of every lease it takes,
	// kept alive by its heartbeat (instance.go).
	instance string
}

// New builds the gateway and binds its listen address; Run serves.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, log: log, instance: queue.NewInstanceID()}
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
	files, err := portal.NewFileLinks(store.SecretsKey, cfg.PublicURL, cfg.Files)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("config: secrets.key: %w", err)
	}
	views := portal.NewViews(cfg.PublicURL, files)
	reg, err := Registry(cfg, log, store, views)
	if err != nil {
		store.Close()
		return nil, err
	}
	a.registry = reg
	a.widget = widgetOf(reg)
	cache := portal.NewCache(store.Records, 2*time.Second)
	m := metrics.New(store.DB.SQL)
	m.Register(metrics.NewQueueCollector(store.Outbox, store.Outbound, log))
	if bf, ok := reg.Get(botframework.Type); ok {
		if bf, ok := bf.(*botframework.Connector); ok {
			m.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "connector_botframework_channels_refused_total",
				Help: "Bot Framework activities answered 200 and dropped because their connection does not accept their channel."},
				func() float64 { return float64(bf.RefusedChannels()) }))
		}
	}
	dcfg := cfg.Dispatch
	dcfg.Owner = a.instance
	a.tracer, err = tracing.New(ctx, cfg.Tracing, Version)
	if err != nil {
		store.Close()
		return nil, err
	}
	if a.tracer != nil {
		store.Inbox.Trace(a.tracer)
		dcfg.Tracer = a.tracer
	}
	a.traffic = traffic.New(nil)
	store.Inbox.Observe(a.traffic.Received)
	dcfg.UserAgent, dcfg.Logger, dcfg.Observer = "connector-gateway/"+Version, log, traffic.Tee(m, a.traffic)
	// Batches get their portal from BatchPortals (version-checked with the
	// batch's own read, not the timed cache), so a secret rotation is in
	// force for the very next batch.
	// The sender is built below; adapters wake it only from webhooks,
	// which arrive once the server runs.
	dcfg.Adapters = Adapters(store, &http.Client{Timeout: dcfg.Timeout}, cfg.PublicURL, log, func() { a.sender.Wake() })
	a.dispatcher, err = portal.NewDispatcher(store.Outbox, portal.NewBatchPortals(store.Records), dcfg)
	if err != nil {
		store.Close()
		return nil, err
	}
	a.woken.Store(a.dispatcher)
	scfg := cfg.Send
	scfg.Owner = a.instance
	scfg.Logger, scfg.Observer = log, m
	if a.tracer != nil {
		scfg.Tracer = a.tracer
	}
	a.sender = portal.NewSender(store.Outbound, store.Records, reg, views, scfg)
	rcfg := cfg.Poll
	rcfg.Owner = a.instance
	rcfg.Logger = log
	a.receivers = portal.NewReceivers(store.Polls, store.Inbox, store.Records, reg, views, rcfg)
	lifecycle := portal.NewLifecycle(portal.LifecycleDeps{
		Records: store.Records, Registry: reg, Views: views, Receivers: a.receivers, Cache: cache, Logger: log,
		Adapters: dcfg.Adapters,
	})
	hcfg := cfg.HTTP
	hcfg.Logger = log
	handler := api.New(hcfg, api.Deps{
		Records: store.Records, Outbox: store.Outbox, Outbound: store.Outbound, Keys: store.Keys, Inbox: store.Inbox,
		Registry: reg, Views: views, Lifecycle: lifecycle, Streams: a.receivers,
		WakeSender: a.sender.Wake, Ready: a.ready, Files: files, Cache: cache, Metrics: m, Widget: widgetSurface(a.widget),
		Adapters: dcfg.Adapters,
	})
	var cons *console.Console
	if cfg.Console.Enabled {
		ccfg := cfg.Console
		ccfg.Logger = log
		cons, err = console.New(ctx, ccfg, console.Deps{DB: store.DB, Records: store.Records, Outbox: store.Outbox, Keys: store.Keys,
			Registry: reg, Lifecycle: lifecycle, Views: views, Traffic: a.traffic, Outbound: store.Outbound, Adapters: dcfg.Adapters})
		if err != nil {
			store.Close()
			return nil, err
		}
		handler.MountConsole(cons)
	}
	a.server = &http.Server{
		Handler:           a.tracer.Handler(handler),
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
	if cfg.Demo.Enabled {
		if err := a.mountDemo(ctx, store, cons, handler); err != nil {
			a.listener.Close()
			store.Close()
			return nil, err
		}
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
// close the connectors, flush the outbox, close the database. Pollers of every active polling
// connection start at once (where no other process holds them).
func (a *App) Run(ctx context.Context) error {
	// Before any worker claims: free what dead processes held.
	if err := a.startInstance(ctx); err != nil {
		a.log.Error("instance registry; a dead predecessor's leases run out instead", slog.Any("err", err))
	}
	// The heartbeat outlives the workers: a process draining is alive.
	beatCtx, stopBeat := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBeat()
	beatDone := make(chan struct{})
	go func() {
		defer close(beatDone)
		a.heartbeat(beatCtx)
	}()
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
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = rtReplies(a.store, a.sender, a.log).Run(workCtx)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.traffic.Sample(workCtx, 15*time.Second, a.depthsByPortal)
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
	if a.demo != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = a.demo.Setup(workCtx)
		}()
	}
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
	stopBeat()
	<-beatDone
	// Every lease was given back: nothing for others to release.
	rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
	if rerr := a.store.Instances.Remove(rctx, a.instance); rerr != nil {
		a.log.Warn("instance registry", slog.Any("err", rerr))
	}
	rcancel()
	if terr := a.tracer.Shutdown(sctx); terr != nil {
		a.log.Warn("tracing shutdown", slog.Any("err", terr))
	}
	// Nothing calls the connectors any more: stop what they run on their
	// own (Slack's background profile lookups).
	if cerr := a.registry.Close(); cerr != nil {
		a.log.Warn("close connectors", slog.Any("err", cerr))
	}
	a.store.Close()
	a.log.Info("stopped")
	return err
}

// janitor forgets old dedupe keys and finished outbound requests.
func (a *App) janitor(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := a.store.Keys.Purge(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("purge dedupe keys", slog.Any("err", err))
		} else if n > 0 {
			a.log.Debug("purged dedupe keys", slog.Int64("count", n))
		}
		if _, err := a.store.Outbound.Purge(ctx, 7*24*time.Hour); err != nil && ctx.Err() == nil {
			a.log.Warn("purge outbound requests", slog.Any("err", err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
