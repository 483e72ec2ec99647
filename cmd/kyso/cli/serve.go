package cli

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"time"

	"github.com/kyso-dev/kyso/cmd/kyso/app"
	"github.com/kyso-dev/kyso/internal/gctune"
	"github.com/kyso-dev/kyso/internal/logbuf"
	"github.com/kyso-dev/kyso/keystore"
	"github.com/kyso-dev/kyso/pki"
	"github.com/kyso-dev/kyso/push/fcm"
	"github.com/kyso-dev/kyso/signing"
)

func runServe(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlags("serve", stderr)
	data := fs.String("data", "", "data directory (created on first start)")
	addr := fs.String("addr", "127.0.0.1:8080", "listen address HOST:PORT")
	publicURL := fs.String("public-url", "", "URL devices and relying parties use to reach this server (default: from each request)")
	fcmCreds := fs.String("fcm-credentials", "", "Firebase service-account JSON; enables push through FCM (also: GOOGLE_APPLICATION_CREDENTIALS)")
	fcmProject := fs.String("fcm-project", "", "Firebase project id (default: project_id of the credentials)")
	fcmEndpoint := fs.String("fcm-endpoint", "", "FCM base URL, for an egress proxy (default https://fcm.googleapis.com)")
	mf := addMasterFlags(fs)
	vaultAddr := fs.String("vault-addr", os.Getenv("VAULT_ADDR"), "Vault/OpenBao address for an hcvault:// master (default: https:// and the URI's host)")
	vaultTokenFile := fs.String("vault-token-file", "", "file holding the Vault token for an hcvault:// master (or set VAULT_TOKEN)")
	caTrust := fs.String("ca-trust", "", "PEM bundle of a licensed CA's trust anchors; enables credentials with issuer external")
	csrOrg := fs.String("csr-organization", "", "O of CSRs for the external CA (default: the user's organization)")
	csrCountry := fs.String("csr-country", "VN", "C of CSRs for the external CA")
	maxPending := fs.Int("max-pending", 5, "most unanswered signing requests per user")
	rpRate := fs.Int("rp-rate", 50, "signature requests per second per relying party (burst of the same size)")
	activationRate := fs.Int("activation-rate", 10, "activation attempts per minute per client address")
	logFlush := fs.Duration("log-flush", 100*time.Millisecond, "write info log lines in batches at most this long after they are logged (warnings and errors at once; 0: every line at once)")
	commitWindow := fs.Duration("commit-window", 10*time.Millisecond, "how long the store waits to group concurrent writes into one commit (one fsync pair), 1ms to 1s: longer shares each commit among more writes under load, shorter answers an idle server sooner")
	gcFloor := fs.Int("gc-min-heap", 64, "MiB the heap may grow to before the garbage collector runs (fewer collections while the live heap is small; 0: Go's default; GOGC or GOMEMLIMIT, if set, win)")
	pprofAddr := fs.String("pprof", "", "serve Go's pprof profiles on this separate address (e.g. 127.0.0.1:6060); off by default")
	if err := flagsOnly(fs, args); err != nil {
		return err
	}
	if err := required(fs, "data"); err != nil {
		return err
	}
	if err := cmp.Or(atLeast(fs, 1, "max-pending", "rp-rate", "activation-rate"), atLeast(fs, 0, "gc-min-heap"), notNegative(fs, "log-flush")); err != nil {
		return err
	}
	if *commitWindow < time.Millisecond || *commitWindow > time.Second {
		return usagef("--commit-window must be between 1ms and 1s, not %s", *commitWindow)
	}
	logOut := logbuf.New(stderr, *logFlush, 64<<10)
	defer logOut.Close()
	logger := slog.New(logbuf.Handler(slog.NewJSONHandler(logOut, nil), logOut, slog.LevelWarn))
	cfg := app.Config{DataDir: *data, Addr: *addr, PublicURL: *publicURL, Logger: logger,
		CommitWindow: *commitWindow, MaxPendingPerUser: *maxPending, SessionsPerSecond: *rpRate, ActivationsPerMinute: *activationRate, Master: *mf.master,
		CATrustFile: *caTrust, CSRSubject: pki.Subject{Organization: *csrOrg, Country: *csrCountry}}
	switch {
	case *mf.master == "pkcs11":
		var err error
		if cfg.PKCS11, err = mf.pkcs11(*mf.key); err != nil {
			return err
		}
	case strings.Contains(*mf.master, "://"):
		token, err := readSecret(*vaultTokenFile, "VAULT_TOKEN", "--vault-token-file")
		if err != nil {
			return err
		}
		cfg.Master = "kms"
		cfg.KMS = keystore.KMSConfig{URI: *mf.master, VaultAddress: *vaultAddr, VaultToken: signing.Secret(token)}
	}
	if *fcmCreds != "" || *fcmProject != "" || *fcmEndpoint != "" || os.Getenv("GOOGLE_APPLICATION_CREDENTIALS") != "" {
		cfg.FCM = &fcm.Config{CredentialsFile: *fcmCreds, ProjectID: *fcmProject, Endpoint: *fcmEndpoint}
	}
	if stop, ok := gctune.Floor(uint64(*gcFloor) << 20); ok {
		defer stop()
	}
	if *pprofAddr != "" {
		stop, err := servePprof(*pprofAddr, stderr)
		if err != nil {
			return err
		}
		defer stop()
	}
	return app.New(cfg).Run(ctx)
}

// servePprof serves net/http/pprof on its own listener, never on the API's.
func servePprof(addr string, stderr io.Writer) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pprof listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	fmt.Fprintf(stderr, "pprof on http://%s/debug/pprof/\n", ln.Addr())
	return func() { srv.Close() }, nil
}

// masterFlags are the flags that locate the master key, shared by serve and kek rotate-master.
type masterFlags struct {
	master, module, token, pinFile, key *string
}

func addMasterFlags(fs *flag.FlagSet) masterFlags {
	return masterFlags{
		master:  fs.String("master", "local", "master key of the KEK keyset: local (a file; development), pkcs11 (an HSM) or a KMS key URI (hcvault://HOST/transit/keys/NAME)"),
		module:  fs.String("pkcs11-module", "", "PKCS#11 library path (--master pkcs11)"),
		token:   fs.String("pkcs11-token", "", "PKCS#11 token label (--master pkcs11)"),
		pinFile: fs.String("pkcs11-pin-file", "", "file holding the token user PIN (or set KYSO_PKCS11_PIN); never give the PIN itself as a flag"),
		key:     fs.String("pkcs11-key", "kyso-master", "label of the AES-256 master key in the token (created on first start)"),
	}
}

// pkcs11 returns the HSM configuration for the key label, reading the PIN once.
func (mf masterFlags) pkcs11(keyLabel string) (keystore.PKCS11Config, error) {
	pin, err := readPIN(*mf.pinFile)
	if err != nil {
		return keystore.PKCS11Config{}, err
	}
	return keystore.PKCS11Config{Module: *mf.module, TokenLabel: *mf.token, PIN: signing.Secret(pin), KeyLabel: keyLabel}, nil
}

// readPIN reads the HSM PIN once, from the file or else KYSO_PKCS11_PIN.
func readPIN(file string) (string, error) {
	return readSecret(file, "KYSO_PKCS11_PIN", "--pkcs11-pin-file")
}

// readSecret reads a secret once from file, or else from the environment variable env (if
// not empty).
func readSecret(file, env, flagName string) (string, error) {
	if file == "" {
		if env == "" {
			return "", usagef("give %s FILE", flagName)
		}
		if v := os.Getenv(env); v != "" {
			return v, nil
		}
		return "", usagef("give %s FILE or set %s", flagName, env)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", flagName, err)
	}
	defer clear(raw)
	return strings.TrimSpace(string(raw)), nil
}
