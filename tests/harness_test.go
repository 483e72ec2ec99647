// Package tests holds Kyso's end-to-end tests: the real server (app.App, the same code the
// kyso binary runs) on 127.0.0.1 with a bbolt store in a temporary directory, driven over
// HTTP by the reference device SDK and the relying-party client.
package tests

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kyso-dev/kyso/apiclient"
	"github.com/kyso-dev/kyso/cmd/kyso/app"
	bridge "github.com/kyso-dev/kyso/mobile-bridge"
	"github.com/kyso-dev/kyso/mobile-bridge/client"
)

// clock is the injected server (and device) clock: real time plus an offset tests advance.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// logBuffer collects the server's log output for the no-secrets scan.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

// env is one running server.
type env struct {
	t       testing.TB
	dir     string
	addr    string
	clock   *clock
	logs    *logBuffer
	app     *app.App
	cancel  context.CancelFunc
	done    chan error
	url     string
	opToken string
	op      *apiclient.Client
	options []func(*app.Config)
}

// startEnv starts a server; options adjust its configuration.
func startEnv(t testing.TB, options ...func(*app.Config)) *env {
	t.Helper()
	e := &env{t: t, dir: filepath.Join(t.TempDir(), "data"), addr: "127.0.0.1:0", clock: &clock{}, logs: &logBuffer{}, options: options}
	e.start()
	t.Cleanup(e.stop)
	return e
}

func (e *env) start() {
	e.t.Helper()
	logger := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := app.Config{DataDir: e.dir, Addr: e.addr, Logger: logger, Now: e.clock.Now,
		SweepInterval: 20 * time.Millisecond, CallbackBackoff: 20 * time.Millisecond, ShutdownTimeout: 5 * time.Second}
	for _, o := range e.options {
		o(&cfg)
	}
	e.app = app.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	if err := e.app.Open(ctx); err != nil {
		cancel()
		e.t.Fatalf("open app: %v", err)
	}
	e.cancel, e.done = cancel, make(chan error, 1)
	go func() { e.done <- e.app.Serve(ctx) }()
	e.addr, e.url = e.app.Addr(), e.app.URL()
	tok, err := os.ReadFile(filepath.Join(e.dir, app.OperatorTokenFile))
	if err != nil {
		e.t.Fatal(err)
	}
	e.opToken = strings.TrimSpace(string(tok))
	e.op = apiclient.New(e.url, e.opToken)
}

// stop shuts the server down gracefully and closes the store.
func (e *env) stop() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	if err := <-e.done; err != nil {
		e.t.Errorf("serve: %v", err)
	}
	if err := e.app.Close(); err != nil {
		e.t.Errorf("close: %v", err)
	}
	e.cancel = nil
}

// restart stops the server and starts it again on the same address and data.
func (e *env) restart() {
	e.stop()
	e.start()
}

// ---- fixtures ------------------------------------------------------------------------------

type rpInfo struct {
	ID             string `json:"id"`
	APIKey         string `json:"apiKey"`
	CallbackSecret string `json:"callbackSecret"`
}

func (e *env) newRP(name string) (*apiclient.Client, rpInfo) {
	e.t.Helper()
	var rp rpInfo
	must(e.t, e.op.Do(context.Background(), "POST", "/admin/v1/relying-parties", map[string]string{"name": name}, &rp, nil))
	return apiclient.New(e.url, rp.APIKey), rp
}

func (e *env) newUser(nationalID, name string) string {
	e.t.Helper()
	var u struct{ ID string }
	must(e.t, e.op.Do(context.Background(), "POST", "/admin/v1/users",
		map[string]string{"nationalId": nationalID, "displayName": name, "organization": "UBND tỉnh"}, &u, nil))
	return u.ID
}

type credential struct {
	ID               string   `json:"id"`
	KeyAlgorithm     string   `json:"keyAlgorithm"`
	Status           string   `json:"status"`
	Certificate      []byte   `json:"certificate"`
	CertificateChain [][]byte `json:"certificateChain"`
}

func (e *env) newCredential(userID, alg string) credential {
	e.t.Helper()
	var c credential
	must(e.t, e.op.Do(context.Background(), "POST", "/admin/v1/users/"+userID+"/credentials", map[string]string{"keyAlgorithm": alg}, &c, nil))
	return c
}

func (e *env) activationCode(userID string) string {
	e.t.Helper()
	var out struct{ Code string }
	must(e.t, e.op.Do(context.Background(), "POST", "/admin/v1/users/"+userID+"/activation-codes", nil, &out, nil))
	return out.Code
}

func (e *env) enroll(userID, platform string) *client.Client {
	return e.enrollWith(userID, client.EnrollOptions{Platform: platform, Name: platform + " test"})
}

func (e *env) enrollWith(userID string, opts client.EnrollOptions) *client.Client {
	e.t.Helper()
	c, err := client.Enroll(context.Background(), e.url, e.activationCode(userID), opts)
	must(e.t, err)
	c.Now = e.clock.Now
	return c
}

// signer is a ready user: one credential and one enrolled device.
type signer struct {
	userID, nationalID string
	cred               credential
	dev                *client.Client
}

func (e *env) newSigner(nationalID, alg string) signer {
	e.t.Helper()
	uid := e.newUser(nationalID, "Nguyễn Văn "+nationalID)
	return signer{userID: uid, nationalID: nationalID, cred: e.newCredential(uid, alg), dev: e.enroll(uid, "ipados")}
}

func digests(n int, hashAlg string) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		doc := make([]byte, 64)
		rand.Read(doc)
		switch hashAlg {
		case "SHA-384":
			h := sha512.Sum384(doc)
			out[i] = h[:]
		case "SHA-512":
			h := sha512.Sum512(doc)
			out[i] = h[:]
		default:
			h := sha256.Sum256(doc)
			out[i] = h[:]
		}
	}
	return out
}

func request(s signer, hashAlg, sigAlg string, hashes [][]byte) apiclient.SignatureRequest {
	req := apiclient.SignatureRequest{NationalID: s.nationalID, HashAlgorithm: hashAlg, SignatureAlgorithm: sigAlg,
		DisplayText: "Ký quyết định phê duyệt dự án"}
	for i, h := range hashes {
		req.Documents = append(req.Documents, apiclient.Document{Label: "Quyết định " + string(rune('1'+i)) + "/QĐ-UBND.pdf", Hash: h})
	}
	return req
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// apiCode returns the problem code of err, or "" if err is not a problem answer.
func apiCode(err error) string {
	var ae *bridge.APIError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	if apiCode(err) != code {
		t.Fatalf("got %v, want problem %s", err, code)
	}
}

func do(t testing.TB, c *http.Client, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	must(t, err)
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp, b.Bytes()
}
