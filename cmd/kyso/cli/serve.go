package cli

import (
	"context"
	"io"
	"log/slog"
	"os"

	"github.com/kyso-dev/kyso/cmd/kyso/app"
	"github.com/kyso-dev/kyso/push/fcm"
)

func runServe(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlags("serve", stderr)
	data := fs.String("data", "", "data directory (created on first start)")
	addr := fs.String("addr", "127.0.0.1:8080", "listen address HOST:PORT")
	publicURL := fs.String("public-url", "", "URL devices and relying parties use to reach this server (default: from each request)")
	fcmCreds := fs.String("fcm-credentials", "", "Firebase service-account JSON; enables push through FCM (also: GOOGLE_APPLICATION_CREDENTIALS)")
	fcmProject := fs.String("fcm-project", "", "Firebase project id (default: project_id of the credentials)")
	fcmEndpoint := fs.String("fcm-endpoint", "", "FCM base URL, for an egress proxy (default https://fcm.googleapis.com)")
	maxPending := fs.Int("max-pending", 5, "most unanswered signing requests per user")
	rpRate := fs.Int("rp-rate", 50, "signature requests per second per relying party (burst of the same size)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "data"); err != nil {
		return err
	}
	cfg := app.Config{DataDir: *data, Addr: *addr, PublicURL: *publicURL, Logger: slog.New(slog.NewJSONHandler(stderr, nil)),
		MaxPendingPerUser: *maxPending, SessionsPerSecond: *rpRate}
	if *fcmCreds != "" || *fcmProject != "" || *fcmEndpoint != "" || os.Getenv("GOOGLE_APPLICATION_CREDENTIALS") != "" {
		cfg.FCM = &fcm.Config{CredentialsFile: *fcmCreds, ProjectID: *fcmProject, Endpoint: *fcmEndpoint}
	}
	return app.New(cfg).Run(ctx)
}
