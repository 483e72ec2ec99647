package tests

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-dev/kyso/apiclient"
	"github.com/kyso-dev/kyso/cmd/kyso/app"
	"github.com/kyso-dev/kyso/cmd/kyso/cli"
	"github.com/kyso-dev/kyso/mobile-bridge/client"
	"github.com/kyso-dev/kyso/push"
	"github.com/kyso-dev/kyso/push/fcm"
	"github.com/kyso-dev/kyso/push/fcm/fcmtest"
)

// withFCM points the server at a fake FCM with fast retries.
func withFCM(fake *fcmtest.Server) func(*app.Config) {
	return func(c *app.Config) {
		c.FCM = &fcm.Config{ProjectID: "kyso-e2e", Endpoint: fake.URL, WithoutAuthentication: true}
		c.Push = push.DispatcherConfig{MaxAttempts: 3, BaseDelay: 10 * time.Millisecond}
	}
}

type operatorSession struct {
	State      string
	Deliveries []struct {
		DeviceID, Outcome string
		Attempts          int
	}
	Approval *struct{ DeviceID string }
}

// waitFor polls cond every 10 ms for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// nextEvent reads one event or fails after 10 s.
func nextEvent(t *testing.T, ch <-chan client.Event) client.Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("event stream closed")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
	}
	return client.Event{}
}

// TestIPadAndPhoneWithOneDeadToken: the phone's token is unregistered and retired; the
// iPad is woken, follows the event stream and approves; the phone's stream sees the session
// leave its list; the phone's dead token is never used again.
func TestIPadAndPhoneWithOneDeadToken(t *testing.T) {
	fake := fcmtest.New()
	t.Cleanup(fake.Close) // after the server's own cleanup: it may still be sending
	fake.Respond(func(token string, _ int) fcmtest.Reply {
		if token == "phone-token-dead" {
			return fcmtest.Unregistered
		}
		return fcmtest.OK
	})
	e := startEnv(t, withFCM(fake))
	rp, _ := e.newRP("E-office")
	uid := e.newUser("001", "Lãnh đạo Sở")
	e.newCredential(uid, "EC-P256")
	ipad := e.enrollWith(uid, client.EnrollOptions{Platform: "ipados", Name: "iPad", PushToken: "ipad-token", Language: "vi"})
	phone := e.enrollWith(uid, client.EnrollOptions{Platform: "android", Name: "Phone", PushToken: "phone-token-dead"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ipadEvents, _, err := ipad.Events(ctx, "")
	must(t, err)
	phoneEvents, _, err := phone.Events(ctx, "")
	must(t, err)

	hashes := digests(2, "SHA-256")
	req := request(signer{nationalID: "001"}, "SHA-256", "", hashes)
	req.DisplayText = "Ký công văn số 77/SNV-VP"
	sess, err := rp.CreateSignature(ctx, req, "")
	must(t, err)

	// The iPad learns of the request from its stream and approves it.
	ev := nextEvent(t, ipadEvents)
	if ev.Type != "session.created" || ev.Session == nil || ev.Session.ID != sess.ID || ev.Session.DisplayText != req.DisplayText {
		t.Fatalf("iPad event %+v", ev)
	}
	if st, err := ipad.Decide(ctx, sess.ID, true, sess.VerificationCode); err != nil || st != "signed" {
		t.Fatalf("iPad approval: %s %v", st, err)
	}
	// The phone sees it appear, then leave its list: one update, with the final state (the
	// intermediate "approved" is not sent).
	if ev := nextEvent(t, phoneEvents); ev.Type != "session.created" || ev.Session.ID != sess.ID {
		t.Fatalf("phone event %+v", ev)
	}
	if ev := nextEvent(t, phoneEvents); ev.Type != "session.updated" || ev.Update.ID != sess.ID || ev.Update.State != "signed" {
		t.Fatalf("phone event %+v, want the session signed", ev)
	}
	if list, _ := phone.Sessions(ctx); len(list) != 0 {
		t.Fatalf("the phone still lists %d sessions", len(list))
	}

	// Deliveries are recorded and visible to operators; the dead token is retired.
	var os operatorSession
	waitFor(t, "two delivery records", func() bool {
		must(t, e.op.Do(ctx, "GET", "/admin/v1/sessions/"+sess.ID, nil, &os, nil))
		return len(os.Deliveries) == 2
	})
	outcomes := map[string]string{}
	for _, d := range os.Deliveries {
		outcomes[d.DeviceID] = d.Outcome
	}
	if outcomes[ipad.DeviceID()] != "delivered" || outcomes[phone.DeviceID()] != "unregistered" || os.Approval.DeviceID != ipad.DeviceID() {
		t.Fatalf("deliveries %+v, approval %+v", os.Deliveries, os.Approval)
	}
	var devs struct {
		Devices []struct {
			ID           string
			HasPushToken bool
		}
	}
	must(t, e.op.Do(ctx, "GET", "/admin/v1/users/"+uid+"/devices", nil, &devs, nil))
	for _, d := range devs.Devices {
		if d.ID == phone.DeviceID() && d.HasPushToken {
			t.Fatal("the unregistered token was not retired")
		}
	}

	// No push ever carries the display text, a label or a hash.
	for _, r := range fake.Requests() {
		for _, secret := range []string{req.DisplayText, "Quyết định", base64.StdEncoding.EncodeToString(hashes[0]), "001", "Lãnh đạo"} {
			if bytes.Contains(r.Body, []byte(secret)) || strings.Contains(string(r.Body), jsonEscape(secret)) {
				t.Fatalf("a push carries %q: %s", secret, r.Body)
			}
		}
	}

	// The next request reaches the iPad only; the dead token is never tried again.
	sess2, err := rp.CreateSignature(ctx, request(signer{nationalID: "001"}, "SHA-256", "", digests(1, "SHA-256")), "")
	must(t, err)
	// The iPad's own decision's answer told it the final state: its stream does not repeat it.
	if ev := nextEvent(t, ipadEvents); ev.Type != "session.created" || ev.Session.ID != sess2.ID {
		t.Fatalf("iPad event after its own approval %+v, want only the next request", ev)
	}
	waitFor(t, "the second push", func() bool { return len(fake.RequestsFor("ipad-token")) == 2 })
	if n := len(fake.RequestsFor("phone-token-dead")); n != 1 {
		t.Fatalf("the retired token was sent %d pushes", n)
	}
	// The app registers a fresh token: it is used from the next request on.
	must(t, phone.SetPushToken(ctx, "phone-token-new"))
	_, err = ipad.Decide(ctx, sess2.ID, false, "")
	must(t, err)
	_, err = rp.CreateSignature(ctx, request(signer{nationalID: "001"}, "SHA-256", "", digests(1, "SHA-256")), "")
	must(t, err)
	waitFor(t, "a push to the new token", func() bool { return len(fake.RequestsFor("phone-token-new")) == 1 })
}

func jsonEscape(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// TestFCMDownSessionsCompleteByPull: FCM hangs; the relying party is answered at once and
// the device completes the session by pulling.
func TestFCMDownSessionsCompleteByPull(t *testing.T) {
	fake := fcmtest.New()
	t.Cleanup(fake.Close) // after the server's own cleanup: it may still be sending
	fake.Respond(func(string, int) fcmtest.Reply { return fcmtest.Reply{Delay: time.Minute} })
	e := startEnv(t, withFCM(fake))
	rp, _ := e.newRP("Portal")
	uid := e.newUser("001", "A")
	e.newCredential(uid, "EC-P256")
	dev := e.enrollWith(uid, client.EnrollOptions{Platform: "android", PushToken: "tok"})
	ctx := context.Background()
	start := time.Now()
	sess, err := rp.CreateSignature(ctx, request(signer{nationalID: "001"}, "SHA-256", "", digests(1, "SHA-256")), "")
	must(t, err)
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("creating a session took %v while FCM hangs; push must not hold up the relying party", took)
	}
	waitFor(t, "the push attempt", func() bool { return len(fake.Requests()) > 0 })
	list, err := dev.Sessions(ctx)
	must(t, err)
	if len(list) != 1 {
		t.Fatalf("pull: %d sessions", len(list))
	}
	if st, err := dev.Decide(ctx, sess.ID, true, ""); err != nil || st != "signed" {
		t.Fatalf("approval by pull: %s %v", st, err)
	}
}

func TestPendingCapAndRateLimit(t *testing.T) {
	e := startEnv(t, func(c *app.Config) { c.MaxPendingPerUser = 2; c.SessionsPerSecond = 4 })
	rp, _ := e.newRP("Portal")
	s := e.newSigner("001", "EC-P256")
	ctx := context.Background()
	var ids []string
	for range 2 {
		sess, err := rp.CreateSignature(ctx, request(s, "SHA-256", "", digests(1, "SHA-256")), "")
		must(t, err)
		ids = append(ids, sess.ID)
	}
	_, err := rp.CreateSignature(ctx, request(s, "SHA-256", "", digests(1, "SHA-256")), "")
	wantCode(t, err, "TOO_MANY_PENDING_SESSIONS")
	_, err = s.dev.Decide(ctx, ids[0], false, "")
	must(t, err)
	_, err = rp.CreateSignature(ctx, request(s, "SHA-256", "", digests(1, "SHA-256")), "")
	must(t, err) // room again after an answer

	// Four requests have been spent this second (the refused one counts too); the fifth waits.
	req, _ := http.NewRequest("POST", e.url+"/v1/signatures", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+rpKey(rp))
	var last *http.Response
	for range 3 {
		last, _ = do(t, nil, req.Clone(ctx))
		req.Body = io.NopCloser(strings.NewReader("{}"))
	}
	if last.StatusCode != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
		t.Fatalf("rate limit: %d, Retry-After %q", last.StatusCode, last.Header.Get("Retry-After"))
	}
}

func rpKey(c *apiclient.Client) string { return c.Token() }

func TestVerificationCodeChoice(t *testing.T) {
	e := startEnv(t)
	rp, _ := e.newRP("Portal")
	s := e.newSigner("001", "EC-P256")
	ctx := context.Background()
	create := func() *apiclient.Session {
		req := request(s, "SHA-256", "", digests(1, "SHA-256"))
		req.Interaction = "verificationCodeChoice"
		sess, err := rp.CreateSignature(ctx, req, "")
		must(t, err)
		return sess
	}

	right := create()
	info, err := s.dev.Session(ctx, right.ID)
	must(t, err)
	if info.VerificationCode != "" || len(info.VerificationCodeChoices) != 3 || !contains(info.VerificationCodeChoices, right.VerificationCode) {
		t.Fatalf("device view: code %q choices %v (relying party shows %s)", info.VerificationCode, info.VerificationCodeChoices, right.VerificationCode)
	}
	_, err = s.dev.Decide(ctx, right.ID, true, "")
	if err != client.ErrPickACode {
		t.Fatalf("approve without a pick: %v", err)
	}
	if st, err := s.dev.Decide(ctx, right.ID, true, right.VerificationCode); err != nil || st != "signed" {
		t.Fatalf("right pick: %s %v", st, err)
	}

	wrong := create()
	info, _ = s.dev.Session(ctx, wrong.ID)
	var decoy string
	for _, c := range info.VerificationCodeChoices {
		if c != wrong.VerificationCode {
			decoy = c
		}
	}
	// A code that was never offered is refused outright.
	sig, _ := s.dev.SignDecision(info.Challenge, "approve:9999x")
	_, err = s.dev.SendDecision(ctx, wrong.ID, "approve", "9999x", sig)
	wantCode(t, err, "INVALID_REQUEST")
	if st, err := s.dev.Decide(ctx, wrong.ID, true, decoy); err != nil || st != "declined" {
		t.Fatalf("wrong pick: %s %v", st, err)
	}
	got, err := rp.Signature(ctx, wrong.ID, 0)
	must(t, err)
	if got.State != "declined" || got.Error == nil || got.Error.Code != "WRONG_VERIFICATION_CODE" {
		t.Fatalf("after a wrong pick: %+v", got)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestEventStreamResumes: a device that drops its stream gets exactly what it missed when
// it reconnects with Last-Event-ID, and a third concurrent stream is refused.
func TestEventStreamResumes(t *testing.T) {
	e := startEnv(t)
	rp, _ := e.newRP("Portal")
	s := e.newSigner("001", "EC-P256")
	ctx, cancel := context.WithCancel(context.Background())
	a, err := rp.CreateSignature(ctx, request(s, "SHA-256", "", digests(1, "SHA-256")), "")
	must(t, err)
	events, _, err := s.dev.Events(ctx, "")
	must(t, err)
	snap := nextEvent(t, events) // the snapshot
	if snap.Type != "session.created" || snap.Session.ID != a.ID {
		t.Fatalf("snapshot %+v", snap)
	}
	cancel() // the device goes away
	for range events {
	}
	b, err := rp.CreateSignature(context.Background(), request(s, "SHA-256", "", digests(1, "SHA-256")), "")
	must(t, err)
	phone := e.enroll(s.userID, "android") // the user's other device declines a meanwhile
	_, err = phone.Decide(context.Background(), a.ID, false, "")
	must(t, err)

	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	events, _, err = s.dev.Events(ctx2, snap.ID)
	must(t, err)
	first, second := nextEvent(t, events), nextEvent(t, events)
	if first.Type != "session.created" || first.Session.ID != b.ID || second.Type != "session.updated" || second.Update.ID != a.ID || second.Update.State != "declined" {
		t.Fatalf("resumed with %+v then %+v", first, second)
	}
	_, _, err = s.dev.Events(ctx2, "")
	must(t, err)
	_, _, err = s.dev.Events(ctx2, "")
	wantCode(t, err, "RATE_LIMITED")
}

// TestServeWithFCMCredentials runs the real kyso serve with a service-account credentials
// file and --fcm-endpoint: the Firebase client fetches an OAuth token (from the fake's token
// endpoint) and sends authorised pushes.
func TestServeWithFCMCredentials(t *testing.T) {
	fake := fcmtest.New()
	t.Cleanup(fake.Close) // after the server's own cleanup: it may still be sending
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	creds, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "kyso-prod-test", "private_key_id": "k1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "kyso@kyso-prod-test.iam.gserviceaccount.com", "client_id": "1",
		"token_uri": fake.URL + "/token",
	})
	dir := t.TempDir()
	credFile := filepath.Join(dir, "fcm.json")
	must(t, os.WriteFile(credFile, creds, 0o600))
	data := filepath.Join(dir, "data")
	ctx, stop := context.WithCancel(context.Background())
	logs := &logBuffer{}
	served := make(chan int, 1)
	go func() {
		served <- cli.Run(ctx, []string{"serve", "--data", data, "--addr", "127.0.0.1:0", "--fcm-credentials", credFile, "--fcm-endpoint", fake.URL}, io.Discard, logs)
	}()
	var url string
	waitFor(t, "kyso serve", func() bool {
		for _, line := range strings.Split(string(logs.Bytes()), "\n") {
			var l struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "kyso listening" {
				url = "http://" + l.Addr
			}
		}
		return url != ""
	})
	op := apiclient.New(url, readToken(t, data))
	var rp struct{ APIKey string }
	var user struct{ ID string }
	var code struct{ Code string }
	must(t, op.Do(ctx, "POST", "/admin/v1/relying-parties", map[string]string{"name": "P"}, &rp, nil))
	must(t, op.Do(ctx, "POST", "/admin/v1/users", map[string]string{"nationalId": "7", "displayName": "A"}, &user, nil))
	must(t, op.Do(ctx, "POST", "/admin/v1/users/"+user.ID+"/credentials", nil, nil, nil))
	must(t, op.Do(ctx, "POST", "/admin/v1/users/"+user.ID+"/activation-codes", nil, &code, nil))
	_, err := client.Enroll(ctx, url, code.Code, client.EnrollOptions{Platform: "android", PushToken: "real-looking-token"})
	must(t, err)
	_, err = apiclient.New(url, rp.APIKey).CreateSignature(ctx, apiclient.SignatureRequest{NationalID: "7", HashAlgorithm: "SHA-256",
		Documents: []apiclient.Document{{Label: "a", Hash: digests(1, "SHA-256")[0]}}, DisplayText: "x"}, "")
	must(t, err)
	waitFor(t, "an authorised push", func() bool { return len(fake.Requests()) == 1 })
	r := fake.Requests()[0]
	if r.Project != "kyso-prod-test" || r.Auth != "Bearer fake-access-token" || fake.TokensIssued() == 0 {
		t.Fatalf("push to project %q with Authorization %q", r.Project, r.Auth)
	}
	stop()
	if c := <-served; c != 0 {
		t.Fatalf("serve exit %d", c)
	}
}

func readToken(t *testing.T, dataDir string) string {
	raw, err := os.ReadFile(filepath.Join(dataDir, app.OperatorTokenFile))
	must(t, err)
	return strings.TrimSpace(string(raw))
}

func TestEventStreamHeartbeat(t *testing.T) {
	e := startEnv(t, func(c *app.Config) { c.EventHeartbeat = 50 * time.Millisecond })
	s := e.newSigner("001", "EC-P256")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := s.dev.NewSignedRequest(ctx, "GET", "/device/v1/events", nil, e.clock.Now(), "")
	must(t, err)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("Content-Type %q", ct)
	}
	buf := make([]byte, 4096)
	var got strings.Builder
	for !strings.Contains(got.String(), ": keep-alive\n\n") {
		n, err := resp.Body.Read(buf)
		if err != nil {
			t.Fatalf("stream: %v after %q", err, got.String())
		}
		got.Write(buf[:n])
	}
}
