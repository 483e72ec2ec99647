// Package app wires Kyso's embedded default into one runnable server: a bbolt store, a local
// Tink key-encryption key, the development CA, the log push sender and the HTTP API. The
// kyso command and the end-to-end tests both run it.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/kyso-dev/kyso/keystore"
	bridge "github.com/kyso-dev/kyso/mobile-bridge"
	"github.com/kyso-dev/kyso/pki"
	"github.com/kyso-dev/kyso/push"
	"github.com/kyso-dev/kyso/push/fcm"
	"github.com/kyso-dev/kyso/server"
	"github.com/kyso-dev/kyso/signing"
	boltstore "github.com/kyso-dev/kyso/store/bbolt"
)

// Config configures an App. Zero values mean the defaults.
type Config struct {
	// DataDir holds the store, the KEK keyset, the development CA and the operator token.
	DataDir string
	// Addr is the listen address. Default: 127.0.0.1:8080.
	Addr string
	// PublicURL is how devices and relying parties reach the server. Default: from requests.
	PublicURL string
	// Logger receives the server's logs. Default: JSON to stderr.
	Logger *slog.Logger
	// Now is the clock. Default: time.Now.
	Now func() time.Time
	// CommitWindow is how long the store waits to group concurrent writes into one commit.
	// Default: the store's (10 ms).
	CommitWindow time.Duration
	// SweepInterval is how often expired sessions are swept. Default: 1 s.
	SweepInterval time.Duration
	// CallbackBackoff is the first retry delay of a failed callback. Default: 1 s.
	CallbackBackoff time.Duration
	// ShutdownTimeout bounds how long in-flight requests may take at stop. Default: 70 s
	// (a full long-poll).
	ShutdownTimeout time.Duration
	// ReadTimeout bounds reading a request (headers and body). Default: 30 s. Long-polls and
	// event streams lift it once their request is read.
	ReadTimeout time.Duration
	// Master chooses the master key that encrypts the KEK keyset: "local" (a keyset file in
	// the data directory; development only), "pkcs11" (an AES-256 key in an HSM, see PKCS11)
	// or "kms" (a KMS key by Tink key URI, see KMS). Default: local.
	Master string
	// PKCS11 locates the HSM master key when Master is "pkcs11".
	PKCS11 keystore.PKCS11Config
	// KMS locates the master key when Master is "kms" (a Tink key URI: hcvault://…).
	KMS keystore.KMSConfig
	// CATrustFile is a PEM bundle of the licensed CA's trust anchors; it enables credentials
	// certified by that CA (CSR, then an imported chain). Default: development CA only.
	CATrustFile string
	// CSRSubject holds the fixed subject fields of CSRs (O, C).
	CSRSubject pki.Subject
	// FCM, when set, delivers wake-ups through Firebase Cloud Messaging. Default: the log
	// sender (devices pull).
	FCM *fcm.Config
	// Push tunes push retries and concurrency (with FCM). Zero values mean the defaults.
	Push push.DispatcherConfig
	// MaxPendingPerUser bounds a user's unanswered sessions. Default: 5.
	MaxPendingPerUser int
	// SessionsPerSecond bounds each relying party's signature requests. Default: 50.
	SessionsPerSecond int
	// ActivationsPerMinute bounds activation attempts per client address. Default: 10.
	ActivationsPerMinute int
	// EventHeartbeat is the interval of keep-alive lines on device event streams. Default: 15 s.
	EventHeartbeat time.Duration
}

// Files in the data directory.
const (
	StoreFile         = "kyso.db"
	KEKFile           = "kek.json"
	MasterFile        = "master.json"
	CAFile            = "dev-ca.json"
	OperatorTokenFile = "operator-token"
)

// App is a running Kyso server.
type App struct {
	cfg    Config
	log    *slog.Logger
	store  *boltstore.Store
	svc    *signing.Service
	master keystore.Master
	http   *http.Server
	ln     net.Listener
	// running counts handlers, which Serve waits for before the store may close.
	running inFlight
}

// New returns an App; Open starts it.
func New(cfg Config) *App {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:8080"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = time.Second
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 70 * time.Second
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = 30 * time.Second
	}
	return &App{cfg: cfg, log: cfg.Logger}
}

// Open creates or opens the data directory and everything in it, and starts listening.
// On failure everything opened so far is closed again.
func (a *App) Open(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if a.cfg.DataDir == "" {
		return errors.New("no data directory given (--data DIR)")
	}
	var publicURL *url.URL
	if a.cfg.PublicURL != "" {
		if publicURL, err = url.Parse(a.cfg.PublicURL); err != nil || publicURL.Host == "" || publicURL.Scheme != "https" && publicURL.Scheme != "http" {
			return fmt.Errorf("--public-url %q is not an absolute http:// or https:// URL", a.cfg.PublicURL)
		}
	}
	if err := os.MkdirAll(a.cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	if a.master, err = a.openMaster(); err != nil {
		return err
	}
	kek, created, migrated, err := keystore.OpenKEK(filepath.Join(a.cfg.DataDir, KEKFile), a.master)
	switch {
	case err != nil:
		return err
	case created:
		a.log.Info("created the key-encryption keyset, encrypted under the master", "file", filepath.Join(a.cfg.DataDir, KEKFile), "master", a.master.Describe())
	case migrated:
		a.log.Info("encrypted the clear KEK keyset of an earlier version under the master", "master", a.master.Describe())
	}
	keys := keystore.New(kek)
	ca, created, err := pki.OpenDevCA(ctx, filepath.Join(a.cfg.DataDir, CAFile), keys, a.cfg.Now)
	if err != nil {
		return err
	}
	if created {
		a.log.Info("created the development CA", "root", ca.Root().Subject.String())
	}
	notifier, err := a.notifier(ctx)
	if err != nil {
		return err
	}
	if a.store, err = boltstore.Open(filepath.Join(a.cfg.DataDir, StoreFile), boltstore.Options{MaxBatchDelay: a.cfg.CommitWindow}); err != nil {
		return err
	}
	var external signing.ExternalCA
	if a.cfg.CATrustFile != "" {
		ext, err := pki.LoadExternalCA(a.cfg.CATrustFile, a.cfg.CSRSubject)
		if err != nil {
			return err
		}
		external = ext
		a.log.Info("external CA enabled: credentials with issuer external get a CSR", "trust", a.cfg.CATrustFile)
	}
	a.svc = signing.NewService(a.store, keys, ca, notifier, bridge.Protocol{}, signing.Config{
		Rotation: keys, KeyHolders: []signing.KeyHolder{ca}, ExternalCA: external,
		Now: a.cfg.Now, Logger: a.log, CallbackSender: &server.CallbackSender{Now: a.cfg.Now},
		CallbackBackoff: a.cfg.CallbackBackoff, MaxPendingPerUser: a.cfg.MaxPendingPerUser,
	})
	if err := a.bootstrapOperator(ctx); err != nil {
		return err
	}
	api := server.New(a.svc, server.Config{Logger: a.log, PublicURL: publicURL, Now: a.cfg.Now, SessionsPerSecond: a.cfg.SessionsPerSecond,
		Heartbeat: a.cfg.EventHeartbeat, ActivationsPerMinute: a.cfg.ActivationsPerMinute})
	// HTTP/1.1 and, on the same plain listener, HTTP/2 for clients that speak it directly
	// (a TLS-terminating proxy's upstream, or many long-polls and event streams over a few
	// connections instead of one connection, and one file descriptor, each).
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	a.http = &http.Server{Handler: a.running.wrap(api), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: a.cfg.ReadTimeout,
		WriteTimeout: 75 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10,
		Protocols: &protocols, HTTP2: &http.HTTP2Config{MaxConcurrentStreams: 250},
		ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)}
	if a.ln, err = net.Listen("tcp", a.cfg.Addr); err != nil {
		return fmt.Errorf("listen on %s: %w", a.cfg.Addr, err)
	}
	a.log.Info("kyso listening", "addr", a.ln.Addr().String(), "data", a.cfg.DataDir, "store", "bbolt")
	return nil
}

// openMaster opens the configured master key.
func (a *App) openMaster() (keystore.Master, error) {
	switch a.cfg.Master {
	case "", "local":
		m, created, err := keystore.OpenLocalMaster(filepath.Join(a.cfg.DataDir, MasterFile))
		if err != nil {
			return nil, err
		}
		if created {
			a.log.Info("created a local master key", "file", filepath.Join(a.cfg.DataDir, MasterFile))
		}
		a.log.Warn("the master key is a local keyset file: fine for development, but production keys belong under an HSM or KMS (--master pkcs11)")
		return m, nil
	case "pkcs11":
		cfg := a.cfg.PKCS11
		_, err := os.Stat(filepath.Join(a.cfg.DataDir, KEKFile))
		cfg.CreateIfMissing = errors.Is(err, os.ErrNotExist) // first start only
		m, created, err := keystore.OpenPKCS11Master(cfg)
		if err != nil {
			return nil, err
		}
		if created {
			a.log.Info("created the master key inside the HSM", "master", m.Describe())
		}
		a.log.Info("master key in the HSM", "master", m.Describe())
		return m, nil
	case "kms":
		m, err := keystore.OpenKMSMaster(a.cfg.KMS)
		if err != nil {
			return nil, err
		}
		a.log.Info("master key in the KMS", "master", m.Describe())
		return m, nil
	}
	return nil, fmt.Errorf("unknown master %q: use local, pkcs11 or a KMS key URI", a.cfg.Master)
}

// notifier chooses how devices are woken: FCM when configured, else the log sender.
func (a *App) notifier(ctx context.Context) (signing.Notifier, error) {
	if a.cfg.FCM == nil {
		a.log.Info("push: Firebase Cloud Messaging is not configured (--fcm-credentials or GOOGLE_APPLICATION_CREDENTIALS); wake-ups go to this log and devices pull")
		return &push.LogSender{Logger: a.log}, nil
	}
	fc := *a.cfg.FCM
	if fc.Now == nil {
		fc.Now = a.cfg.Now
	}
	sender, err := fcm.New(ctx, fc)
	if err != nil {
		return nil, err
	}
	pc := a.cfg.Push
	if pc.Logger == nil {
		pc.Logger = a.log
	}
	a.log.Info("push: Firebase Cloud Messaging", "project", sender.Project(), "endpoint", fc.Endpoint)
	return push.NewDispatcher(sender, pc), nil
}

func (a *App) bootstrapOperator(ctx context.Context) error {
	path := filepath.Join(a.cfg.DataDir, OperatorTokenFile)
	token, created, err := a.svc.BootstrapOperator(ctx)
	if err != nil {
		return fmt.Errorf("create the first operator: %w", err)
	}
	if !created {
		if _, err := os.Stat(path); err != nil {
			a.log.Warn("the first operator's token file is gone; its token still works if you kept it", "file", path)
		}
		return nil
	}
	if err := os.WriteFile(path, []byte(token.Reveal()+"\n"), 0o600); err != nil {
		return fmt.Errorf("write operator token: %w", err)
	}
	a.log.Info("created the first operator (role admin); its token is in the file", "file", path)
	return nil
}

// Addr returns the address the server listens on.
func (a *App) Addr() string { return a.ln.Addr().String() }

// URL returns the server's base URL on its listen address.
func (a *App) URL() string { return "http://" + a.Addr() }

// Serve serves until ctx ends, then stops gracefully: it stops accepting, lets in-flight
// requests finish and their handlers return (bounded by ShutdownTimeout), and stops the
// sweeper.
func (a *App) Serve(ctx context.Context) error {
	sweepCtx, stopSweep := context.WithCancel(context.Background())
	swept := make(chan struct{})
	go func() {
		defer close(swept)
		a.svc.RunSweeper(sweepCtx, a.cfg.SweepInterval)
	}()
	errc := make(chan error, 1)
	go func() { errc <- a.http.Serve(a.ln) }()
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		a.log.Info("stopping: finishing in-flight requests")
		a.svc.Drain()
		sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
		err = a.http.Shutdown(sctx)
		if err == nil && !a.running.wait(sctx) { // handlers of streams their clients reset
			err = context.DeadlineExceeded
		}
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			// Requests had their time; what is left (a stuck client, a connection that never
			// sent a request) must not keep the process alive.
			a.log.Warn("stopping: closing the connections still open after the grace period", "grace", a.cfg.ShutdownTimeout)
			err = a.http.Close()
		}
	}
	stopSweep()
	<-swept
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// Run is Open, Serve and Close.
func (a *App) Run(ctx context.Context) error {
	if err := a.Open(ctx); err != nil {
		return err
	}
	defer a.Close()
	return a.Serve(ctx)
}

// Close stops background work and closes the store. It is safe to call more than once.
func (a *App) Close() error {
	if a.svc != nil {
		a.svc.Close()
		a.svc = nil
	}
	if a.ln != nil {
		a.ln.Close()
	}
	if a.master != nil {
		a.master.Close()
		a.master = nil
	}
	if a.store != nil {
		err := a.store.Close()
		a.store = nil
		if err != nil {
			return fmt.Errorf("close store: %w", err)
		}
		a.log.Info("store closed")
	}
	return nil
}
