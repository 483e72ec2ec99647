package cli

import (
	"context"
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
	master := fs.String("master", "local", "master key of the KEK keyset: local (a file; development) or pkcs11 (an HSM)")
	p11Module := fs.String("pkcs11-module", "", "PKCS#11 library path (--master pkcs11)")
	p11Token := fs.String("pkcs11-token", "", "PKCS#11 token label (--master pkcs11)")
	p11PinFile := fs.String("pkcs11-pin-file", "", "file holding the token user PIN (or set KYSO_PKCS11_PIN); never give the PIN itself as a flag")
	p11Key := fs.String("pkcs11-key", "kyso-master", "label of the AES-256 master key in the token (created on first start)")
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
		MaxPendingPerUser: *maxPending, SessionsPerSecond: *rpRate, Master: *master,
		CATrustFile: *caTrust, CSRSubject: pki.Subject{Organization: *csrOrg, Country: *csrCountry}}
	if *master == "pkcs11" {
		pin, err := readPIN(*p11PinFile)
		if err != nil {
			return err
		}
		cfg.PKCS11 = keystore.PKCS11Config{Module: *p11Module, TokenLabel: *p11Token, PIN: signing.Secret(pin), KeyLabel: *p11Key}
	}
	if *fcmCreds != "" || *fcmProject != "" || *fcmEndpoint != "" || os.Getenv("GOOGLE_APPLICATION_CREDENTIALS") != "" {
		cfg.FCM = &fcm.Config{CredentialsFile: *fcmCreds, ProjectID: *fcmProject, Endpoint: *fcmEndpoint}
	}
	return app.New(cfg).Run(ctx)
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
