// Package kysotest starts a real Kyso server (the embedded default) in a temporary directory
// for examples and tests in other packages.
package kysotest

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/kyso-dev/kyso/cmd/kyso/app"
)

// Server is a running server on 127.0.0.1.
type Server struct {
	URL           string
	OperatorToken string
	dir           string
	app           *app.App
	stop          context.CancelFunc
	done          chan error
}

// Start runs a server on a new data directory under the system temp dir.
func Start() (*Server, error) {
	dir, err := os.MkdirTemp("", "kyso-")
	if err != nil {
		return nil, err
	}
	a := app.New(app.Config{DataDir: filepath.Join(dir, "data"), Addr: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, stop := context.WithCancel(context.Background())
	if err := a.Open(ctx); err != nil {
		stop()
		os.RemoveAll(dir)
		return nil, err
	}
	s := &Server{URL: a.URL(), dir: dir, app: a, stop: stop, done: make(chan error, 1)}
	go func() { s.done <- a.Serve(ctx) }()
	tok, err := os.ReadFile(filepath.Join(dir, "data", app.OperatorTokenFile))
	if err != nil {
		s.Close()
		return nil, err
	}
	s.OperatorToken = strings.TrimSpace(string(tok))
	return s, nil
}

// Close stops the server and removes its data.
func (s *Server) Close() {
	s.stop()
	<-s.done
	s.app.Close()
	os.RemoveAll(s.dir)
}
