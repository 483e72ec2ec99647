package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-dev/kyso/apiclient"
	"github.com/kyso-dev/kyso/cmd/kyso/app"
	"github.com/kyso-dev/kyso/cmd/kyso/cli"
	boltstore "github.com/kyso-dev/kyso/store/bbolt"
)

// kyso runs the kyso command in-process and decodes its JSON output into out.
func kyso(t *testing.T, out any, args ...string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := cli.Run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("kyso %s: exit %d\n%s", strings.Join(args, " "), code, stderr.String())
	}
	if out != nil {
		if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
			t.Fatalf("kyso %s printed %q: %v", strings.Join(args, " "), stdout.String(), err)
		}
	}
}

// TestCLIWalkthrough is the README's walkthrough: operator token -> relying party -> user ->
// credential -> activation code -> kyso device enroll -> signature request -> kyso device
// approve -> signature verified with openssl.
func TestCLIWalkthrough(t *testing.T) {
	e := startEnv(t)
	tokenFile := filepath.Join(e.dir, app.OperatorTokenFile)
	if fi, err := os.Stat(tokenFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("operator token file: %v %v", fi.Mode(), err)
	}
	admin := []string{"admin", "--server", e.url, "--token-file", tokenFile}
	var rp struct{ ID, APIKey string }
	kyso(t, &rp, append(admin, "relying-parties", "create", "--name", "Cổng dịch vụ công")...)
	var user struct{ ID, NationalID string }
	kyso(t, &user, append(admin, "users", "create", "--national-id", "001099012345", "--display-name", "Trần Thị B")...)
	var found struct{ Users []struct{ ID string } }
	kyso(t, &found, append(admin, "users", "find", "--national-id", "001099012345")...)
	if len(found.Users) != 1 || found.Users[0].ID != user.ID {
		t.Fatalf("users find: %+v", found)
	}
	var cred credential
	kyso(t, &cred, append(admin, "credentials", "create", user.ID, "--key-algorithm", "RSA-2048")...)
	var code struct{ Code, ActivationURI string }
	kyso(t, &code, append(admin, "activation-codes", "create", user.ID)...)
	if !strings.HasPrefix(code.ActivationURI, "kyso://activate?") {
		t.Fatalf("activationUri %q", code.ActivationURI)
	}
	state := filepath.Join(t.TempDir(), "ipad.json")
	kyso(t, nil, "device", "enroll", "--server", e.url, "--code", code.Code, "--state", state, "--name", "iPad", "--platform", "ipados")
	if fi, err := os.Stat(state); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("device state file: %v", err)
	}
	var devices struct {
		Devices []struct{ ID, Platform, Status string }
	}
	kyso(t, &devices, append(admin, "devices", "list", user.ID)...)
	if len(devices.Devices) != 1 || devices.Devices[0].Platform != "ipados" || devices.Devices[0].Status != "active" {
		t.Fatalf("devices list: %+v", devices)
	}

	hashes := digests(1, "SHA-256")
	rpc := apiclient.New(e.url, rp.APIKey)
	sess, err := rpc.CreateSignature(context.Background(), apiclient.SignatureRequest{NationalID: "001099012345",
		HashAlgorithm: "SHA-256", Documents: []apiclient.Document{{Label: "Tờ khai.pdf", Hash: hashes[0]}}, DisplayText: "Ký tờ khai"}, "")
	must(t, err)
	var pending struct {
		Sessions []struct{ ID, VerificationCode string }
	}
	kyso(t, &pending, "device", "pending", "--state", state)
	if len(pending.Sessions) != 1 || pending.Sessions[0].VerificationCode != sess.VerificationCode {
		t.Fatalf("device pending: %+v", pending)
	}
	// A wrong expected code refuses to approve.
	var stdout, stderr bytes.Buffer
	wrong := "0000"
	if sess.VerificationCode == wrong {
		wrong = "0001"
	}
	if c := cli.Run(context.Background(), []string{"device", "approve", "--state", state, "--session", sess.ID, "--expect-code", wrong}, &stdout, &stderr); c == 0 {
		t.Fatal("approve with the wrong expected code succeeded")
	}
	kyso(t, nil, "device", "approve", "--state", state, "--session", sess.ID, "--expect-code", sess.VerificationCode)
	got, err := rpc.Signature(context.Background(), sess.ID, 5*time.Second)
	must(t, err)
	if got.State != "signed" {
		t.Fatalf("state %s", got.State)
	}
	verifyOpenSSL(t, got.Certificate, "RSASSA-PSS", "SHA-256", hashes[0], got.Documents[0].Signature)

	var revoked struct{ Status string }
	kyso(t, &revoked, append(admin, "devices", "revoke", devices.Devices[0].ID, "--reason", "lost")...)
	if revoked.Status != "revoked" {
		t.Fatalf("revoke: %+v", revoked)
	}
}

// TestCLIUsageErrors: a mistake on the command line is refused before anything starts, with
// exit code 2 and a message that names it (never a panic, a silent default or a run that
// fails later).
func TestCLIUsageErrors(t *testing.T) {
	token := filepath.Join(t.TempDir(), "token")
	must(t, os.WriteFile(token, []byte("kyso_op_x"), 0o600))
	for _, c := range []struct {
		args []string
		says string
	}{
		{nil, "Usage"},
		{[]string{"frobnicate"}, "unknown command"},
		{[]string{"serve"}, "--data is required"},
		{[]string{"serve", "--data", "x", "--commit-window", "0s"}, "--commit-window"},
		{[]string{"serve", "--data", "x", "--commit-window", "2s"}, "--commit-window"},
		{[]string{"serve", "--data", "x", "--rp-rate", "0"}, "--rp-rate must be at least 1"},
		{[]string{"serve", "--data", "x", "--max-pending", "-1"}, "--max-pending must be at least 1"},
		{[]string{"serve", "--data", "x", "--activation-rate", "-5"}, "--activation-rate must be at least 1"},
		{[]string{"serve", "--data", "x", "--gc-min-heap", "-1"}, "--gc-min-heap must not be negative"},
		{[]string{"serve", "--data", "x", "--log-flush", "-1s"}, "--log-flush must not be negative"},
		{[]string{"serve", "--data", "x", "extra"}, `unexpected argument "extra"`},
		{[]string{"admin", "users", "create"}, "--token-file is required"},
		{[]string{"admin", "--token-file", token, "users", "get", "usr_1", "extra"}, `admin users get: unexpected argument "extra"`},
		{[]string{"admin", "--token-file", token, "users", "find", "--national-id", "1", "extra"}, `unexpected argument "extra"`},
		{[]string{"kek", "--token-file", token, "status", "extra"}, `kek status: unexpected argument "extra"`},
		{[]string{"kek", "--token-file", token, "disable", "k1", "extra"}, `unexpected argument "extra"`},
		{[]string{"kek", "rotate-master", "--data", "x", "extra"}, `unexpected argument "extra"`},
		{[]string{"audit", "verify", "extra"}, `unexpected argument "extra"`},
		{[]string{"device"}, "give a command"},
		{[]string{"device", "approve", "--state", "x"}, "--session ID or --all"},
		{[]string{"device", "pending", "--state", "x", "extra"}, `unexpected argument "extra"`},
		{[]string{"device", "run", "--state", "x", "--auto-approve", "--interval", "0s"}, "--interval must be at least 10ms"},
		{[]string{"bench", "--limit-measurements", "1"}, "--limit-measurements must be at least 2"},
		{[]string{"bench", "--warm-up", "-1s"}, "--warm-up must not be negative"},
		{[]string{"bench", "--workers", "0"}, "--workers must be at least 1"},
		{[]string{"bench", "--workers", "-3"}, "--workers must be at least 1"},
		{[]string{"bench", "--devices", "-1"}, "--devices must not be negative"},
		{[]string{"bench", "--documents", "0"}, "--documents must be at least 1"},
		{[]string{"bench", "--documents", "51"}, "--documents must be at most 50"},
		{[]string{"bench", "--duration", "0s"}, "--duration must be positive"},
		{[]string{"bench", "--requests", "-5"}, "--requests must not be negative"},
		{[]string{"bench", "--key", "EC-P999"}, `--key must be EC-P256, EC-P384, RSA-2048 or RSA-3072, not "EC-P999"`},
		{[]string{"bench", "--hold", "--pending", "-1"}, "--pending must not be negative"},
		{[]string{"bench", "--hold", "--streams", "-1"}, "--streams must not be negative"},
		{[]string{"bench", "extra"}, `unexpected argument "extra"`},
		{[]string{"bench", "--server", "http://127.0.0.1:1"}, "--token-file is required with --server"},
		{[]string{"bench", "--server", "https://kyso.example", "--token-file", token}, "--server must be an http:// URL"},
		{[]string{"bench", "--server", "127.0.0.1:8080", "--token-file", token}, "--server must be an http:// URL"},
		{[]string{"bench", "--hold", "--server", "http://127.0.0.1:1", "--token-file", token}, "leave out --server"},
		{[]string{"bench", "--hold", "--pending", "0", "--long-polls", "0", "--streams", "0"}, "nothing to hold"},
		{[]string{"bench", "--hold", "--cpu-profile", filepath.Join(t.TempDir(), "p")}, "--cpu-profile profiles the load of a run, not --hold"},
	} {
		var stdout, stderr bytes.Buffer
		if code := cli.Run(context.Background(), c.args, &stdout, &stderr); code != 2 {
			t.Errorf("kyso %v: exit %d, want 2 (usage)\n%s", c.args, code, stderr.String())
		}
		if !strings.Contains(stderr.String(), c.says) {
			t.Errorf("kyso %v said %q, want it to say %q", c.args, stderr.String(), c.says)
		}
	}
}

// TestCLIBenchSaysWhenWarmUpDoesNotApply: --warm-up given to a run by --requests is not
// dropped silently.
func TestCLIBenchSaysWhenWarmUpDoesNotApply(t *testing.T) {
	var stdout, stderr bytes.Buffer
	args := []string{"bench", "--requests", "5", "--warm-up", "2s", "--server", "http://127.0.0.1:1", "--token-file", filepath.Join(t.TempDir(), "missing")}
	if code := cli.Run(context.Background(), args, &stdout, &stderr); code == 0 {
		t.Fatalf("kyso %v: exit 0 without a token file", args)
	}
	if !strings.Contains(stderr.String(), "--warm-up applies only to a run by --duration") {
		t.Fatalf("kyso %v said:\n%s", args, stderr.String())
	}
}

func TestCLIServeAndAutoApprove(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ctx, stop := context.WithCancel(context.Background())
	serveErr := &logBuffer{}
	served := make(chan int, 1)
	go func() {
		served <- cli.Run(ctx, []string{"serve", "--data", dir, "--addr", "127.0.0.1:0"}, io.Discard, serveErr)
	}()
	// The server announces its address in the log; wait for the operator token and that line.
	var url string
	for deadline := time.Now().Add(10 * time.Second); url == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, line := range strings.Split(string(serveErr.Bytes()), "\n") {
			var l struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "kyso listening" {
				url = "http://" + l.Addr
			}
		}
	}
	if url == "" {
		t.Fatalf("kyso serve did not start:\n%s", string(serveErr.Bytes()))
	}
	tokenFile := filepath.Join(dir, app.OperatorTokenFile)
	admin := []string{"admin", "--server", url, "--token-file", tokenFile}
	var rp struct{ APIKey string }
	kyso(t, &rp, append(admin, "relying-parties", "create", "--name", "P")...)
	var user struct{ ID string }
	kyso(t, &user, append(admin, "users", "create", "--national-id", "42", "--display-name", "A")...)
	kyso(t, nil, append(admin, "credentials", "create", user.ID)...)
	var code struct{ Code string }
	kyso(t, &code, append(admin, "activation-codes", "create", user.ID)...)
	state := filepath.Join(t.TempDir(), "phone.json")
	kyso(t, nil, "device", "enroll", "--server", url, "--code", code.Code, "--state", state)

	runCtx, stopRun := context.WithCancel(context.Background())
	ran := make(chan int, 1)
	go func() {
		ran <- cli.Run(runCtx, []string{"device", "run", "--state", state, "--auto-approve", "--interval", "50ms"}, io.Discard, io.Discard)
	}()
	rpc := apiclient.New(url, rp.APIKey)
	sess, err := rpc.CreateSignature(context.Background(), apiclient.SignatureRequest{NationalID: "42", HashAlgorithm: "SHA-256",
		Documents: []apiclient.Document{{Label: "a", Hash: digests(1, "SHA-256")[0]}}, DisplayText: "x"}, "")
	must(t, err)
	got, err := rpc.Signature(context.Background(), sess.ID, 10*time.Second)
	must(t, err)
	stopRun()
	if c := <-ran; c != 0 {
		t.Errorf("device run exit %d", c)
	}
	if got.State != "signed" {
		t.Fatalf("auto-approve: state %s", got.State)
	}
	stop() // SIGINT/SIGTERM: graceful stop, store closed
	if c := <-served; c != 0 {
		t.Fatalf("serve exit %d:\n%s", c, string(serveErr.Bytes()))
	}
	if !strings.Contains(string(serveErr.Bytes()), "store closed") {
		t.Fatal("the store was not closed cleanly at stop")
	}
	if !strings.Contains(string(serveErr.Bytes()), "HSM or KMS") {
		t.Fatal("no start-up warning about the local key-encryption key")
	}
}

func TestCLIAuditVerify(t *testing.T) {
	e := startEnv(t)
	rp, _ := e.newRP("Portal")
	s := e.newSigner("001", "EC-P256")
	sess, _ := pendingSession(t, rp, s)
	_, err := s.dev.Decide(context.Background(), sess.ID, true, "")
	must(t, err)
	var out struct {
		Verified int
		LastSeq  uint64
	}
	kyso(t, &out, "audit", "verify", "--server", e.url, "--token-file", filepath.Join(e.dir, app.OperatorTokenFile))
	// operator, RP, user, credential, activation code, device, session created/approved/signed
	if out.Verified < 9 || out.LastSeq != uint64(out.Verified) {
		t.Fatalf("audit verify: %+v", out)
	}
	var page struct {
		Records []struct{ Action, Subject string }
	}
	must(t, e.op.Do(context.Background(), "GET", "/admin/v1/audit?after=0&limit=1000", nil, &page, nil))
	seen := map[string]bool{}
	for _, r := range page.Records {
		if r.Subject == sess.ID {
			seen[r.Action] = true
		}
	}
	for _, a := range []string{"session.created", "session.approved", "session.signed"} {
		if !seen[a] {
			t.Errorf("no %s audit record for the session", a)
		}
	}
}

func TestPublicURLInActivationURI(t *testing.T) {
	e := startEnv(t, func(c *app.Config) { c.PublicURL = "https://kyso.example.gov.vn" })
	uid := e.newUser("001", "A")
	var out struct{ ActivationURI string }
	must(t, e.op.Do(context.Background(), "POST", "/admin/v1/users/"+uid+"/activation-codes", nil, &out, nil))
	if !strings.Contains(out.ActivationURI, "server=https%3A%2F%2Fkyso.example.gov.vn") {
		t.Fatalf("activationUri %q", out.ActivationURI)
	}
}

// TestCLIReportsAServerErrorOnce: an error the server answered is printed as it said it, with
// its status and code, once prefixed.
func TestCLIReportsAServerErrorOnce(t *testing.T) {
	e := startEnv(t)
	var stdout, stderr bytes.Buffer
	args := []string{"admin", "--server", e.url, "--token-file", filepath.Join(e.dir, app.OperatorTokenFile), "users", "get", "usr_nope"}
	if code := cli.Run(context.Background(), args, &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if got, want := stderr.String(), "kyso: 404 USER_NOT_FOUND: no user \"usr_nope\"\n"; got != want {
		t.Fatalf("said %q, want %q", got, want)
	}
}

// TestCLIRotateMasterRefusesAStoreInUse: rotating the master while a server holds the data
// directory is refused, and says why; a store that cannot be opened for another reason
// says that reason instead.
func TestCLIRotateMasterRefusesAStoreInUse(t *testing.T) {
	dir := t.TempDir()
	st, err := boltstore.Open(filepath.Join(dir, app.StoreFile), boltstore.Options{})
	must(t, err)
	var stdout, stderr bytes.Buffer
	if code := cli.Run(context.Background(), []string{"kek", "rotate-master", "--data", dir}, &stdout, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "the store is in use; stop the server first") {
		t.Fatalf("exit %d, said %q", code, stderr.String())
	}
	must(t, st.Close())
	must(t, os.WriteFile(filepath.Join(dir, app.StoreFile), []byte("not a bbolt file"), 0o600))
	stderr.Reset()
	if code := cli.Run(context.Background(), []string{"kek", "rotate-master", "--data", dir}, &stdout, &stderr); code != 1 ||
		strings.Contains(stderr.String(), "in use") {
		t.Fatalf("a damaged store: exit %d, said %q", code, stderr.String())
	}
}

// TestCLIServeRefusesAPublicURLItCannotServe: --public-url must be an absolute http(s) URL
// (it is the scheme and host of signed device requests); nothing is created otherwise.
func TestCLIServeRefusesAPublicURLItCannotServe(t *testing.T) {
	for _, u := range []string{"ftp://kyso.example", "kyso.example", "/relative"} {
		data := filepath.Join(t.TempDir(), "data")
		var stderr bytes.Buffer
		if code := cli.Run(context.Background(), []string{"serve", "--data", data, "--addr", "127.0.0.1:0", "--public-url", u}, io.Discard, &stderr); code != 1 ||
			!strings.Contains(stderr.String(), "is not an absolute http:// or https:// URL") {
			t.Errorf("--public-url %s: exit %d, said %q", u, code, stderr.String())
		}
		if _, err := os.Stat(data); !os.IsNotExist(err) {
			t.Errorf("--public-url %s: the data directory was created", u)
		}
	}
}
