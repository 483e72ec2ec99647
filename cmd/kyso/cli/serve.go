package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/kyso-dev/kyso/cmd/kyso/app"
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
	caTrust := fs.String("ca-trust", "", "PEM bundle of a licensed CA's trust anchors; enables credentials with issuer external")
	csrOrg := fs.String("csr-organization", "", "O of CSRs for the external CA (default: the user's organization)")
	csrCountry := fs.String("csr-country", "VN", "C of CSRs for the external CA")
	maxPending := fs.Int("max-pending", 5, "most unanswered signing requests per user")
	rpRate := fs.Int("rp-rate", 50, "signature requests per second per relying party (burst of the same size)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "data"); err != nil {
		return err
	}
	cfg := app.Config{DataDir: *data, Addr: *addr, PublicURL: *publicURL, Logger: slog.New(slog.NewJSONHandler(stderr, nil)),
		MaxPendingPerUser: *maxPending, SessionsPerSecond: *rpRate, Master: *mf.master,
		CATrustFile: *caTrust, CSRSubject: pki.Subject{Organization: *csrOrg, Country: *csrCountry}}
	if *mf.master == "pkcs11" {
		var err error
		if cfg.PKCS11, err = mf.pkcs11(*mf.key); err != nil {
			return err
		}
	}
	if *fcmCreds != "" || *fcmProject != "" || *fcmEndpoint != "" || os.Getenv("GOOGLE_APPLICATION_CREDENTIALS") != "" {
		cfg.FCM = &fcm.Config{CredentialsFile: *fcmCreds, ProjectID: *fcmProject, Endpoint: *fcmEndpoint}
	}
	return app.New(cfg).Run(ctx)
}

// masterFlags are the flags that locate the master key, shared by serve and kek rotate-master.
type masterFlags struct {
	master, module, token, pinFile, key *string
}

func addMasterFlags(fs *flag.FlagSet) masterFlags {
	return masterFlags{
		master:  fs.String("master", "local", "master key of the KEK keyset: local (a file; development) or pkcs11 (an HSM)"),
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
	if file == "" {
		if pin := os.Getenv("KYSO_PKCS11_PIN"); pin != "" {
			return pin, nil
		}
		return "", usagef("serve: --master pkcs11 needs --pkcs11-pin-file FILE or KYSO_PKCS11_PIN")
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read PIN file: %w", err)
	}
	defer clear(raw)
	return strings.TrimSpace(string(raw)), nil
}
