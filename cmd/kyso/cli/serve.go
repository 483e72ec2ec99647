package cli

import (
	"context"
	"io"
	"log/slog"

	"github.com/kyso-dev/kyso/cmd/kyso/app"
)

func runServe(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlags("serve", stderr)
	data := fs.String("data", "", "data directory (created on first start)")
	addr := fs.String("addr", "127.0.0.1:8080", "listen address HOST:PORT")
	publicURL := fs.String("public-url", "", "URL devices and relying parties use to reach this server (default: from each request)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "data"); err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(stderr, nil))
	return app.New(app.Config{DataDir: *data, Addr: *addr, PublicURL: *publicURL, Logger: logger}).Run(ctx)
}
