package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"sync"

	"github.com/kyso-dev/kyso/apiclient"
	"github.com/kyso-dev/kyso/mobile-bridge/client"
)

type user struct {
	id, nationalID string
}

type fixture struct {
	rp      *apiclient.Client
	users   []*user
	devices []*client.Client
	http    *http.Client
}

// close releases the fixture's pooled connections, including any dialled for a request
// that was cancelled before it was sent (a server's graceful stop waits for those).
func (fx *fixture) close() { fx.http.CloseIdleConnections() }

// setup registers a relying party and n users, each with one device (and a credential of
// the configured key type when withCredential), through the operator API.
func setup(ctx context.Context, cfg Config, n int, withCredential bool) (*fixture, error) {
	hc := httpClient(cfg.Workers + n)
	op := apiclient.New(cfg.Server, cfg.OperatorToken)
	op.HTTP = hc
	run := make([]byte, 4)
	rand.Read(run)
	prefix := "B" + hex.EncodeToString(run) + "N"
	var rp struct{ APIKey string }
	if err := op.Do(ctx, http.MethodPost, "/admin/v1/relying-parties", map[string]string{"name": "kyso bench"}, &rp, nil); err != nil {
		return nil, fmt.Errorf("bench setup: relying party: %w", err)
	}
	fx := &fixture{rp: apiclient.New(cfg.Server, rp.APIKey), users: make([]*user, n), devices: make([]*client.Client, n), http: hc}
	fx.rp.HTTP = hc
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			u, d, err := setupUser(ctx, op, cfg, fmt.Sprint(prefix, i), withCredential)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			fx.users[i], fx.devices[i] = u, d
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, fmt.Errorf("bench setup: %w", firstErr)
	}
	return fx, nil
}

func setupUser(ctx context.Context, op *apiclient.Client, cfg Config, nationalID string, withCredential bool) (*user, *client.Client, error) {
	var u struct{ ID string }
	if err := op.Do(ctx, http.MethodPost, "/admin/v1/users", map[string]string{"nationalId": nationalID, "displayName": "Bench " + nationalID}, &u, nil); err != nil {
		return nil, nil, fmt.Errorf("user: %w", err)
	}
	if withCredential {
		if err := op.Do(ctx, http.MethodPost, "/admin/v1/users/"+u.ID+"/credentials", map[string]string{"keyAlgorithm": cfg.KeyAlgorithm}, nil, nil); err != nil {
			return nil, nil, fmt.Errorf("credential: %w", err)
		}
	}
	var code struct{ Code string }
	if err := op.Do(ctx, http.MethodPost, "/admin/v1/users/"+u.ID+"/activation-codes", nil, &code, nil); err != nil {
		return nil, nil, fmt.Errorf("activation code: %w", err)
	}
	d, err := client.Enroll(ctx, cfg.Server, code.Code, client.EnrollOptions{Platform: "other", Name: "bench device", HTTP: op.HTTP})
	if err != nil {
		return nil, nil, fmt.Errorf("enrol (raise the server's --activation-rate for many devices): %w", err)
	}
	d.HTTP = op.HTTP
	return &user{id: u.ID, nationalID: nationalID}, d, nil
}
