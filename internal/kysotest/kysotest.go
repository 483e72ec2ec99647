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

	"github.com/kyso-dev/kyso/apiclient"
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

// Citizen is a user enrolled by an operator, with a relying party to ask them.
type Citizen struct {
	UserID         string
	NationalID     string
	APIKey         string // of a new relying party named "Portal"
	ActivationCode string // enrols one device
}

// NewCitizen enrols a user with an EC-P256 credential and an activation code, and registers
// a relying party, through the operator API.
func (s *Server) NewCitizen(ctx context.Context, nationalID, displayName string) (*Citizen, error) {
	op := apiclient.New(s.URL, s.OperatorToken)
	var rp struct{ APIKey string }
	var user struct{ ID string }
	var code struct{ Code string }
	steps := []func() error{
		func() error {
			return op.Do(ctx, "POST", "/admin/v1/relying-parties", map[string]string{"name": "Portal"}, &rp, nil)
		},
		func() error {
			return op.Do(ctx, "POST", "/admin/v1/users", map[string]string{"nationalId": nationalID, "displayName": displayName}, &user, nil)
		},
		func() error { return op.Do(ctx, "POST", "/admin/v1/users/"+user.ID+"/credentials", nil, nil, nil) },
		func() error {
			return op.Do(ctx, "POST", "/admin/v1/users/"+user.ID+"/activation-codes", nil, &code, nil)
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return &Citizen{UserID: user.ID, NationalID: nationalID, APIKey: rp.APIKey, ActivationCode: code.Code}, nil
}
