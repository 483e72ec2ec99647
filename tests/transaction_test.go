package tests

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kyso-dev/kyso/apiclient"
	"github.com/kyso-dev/kyso/cmd/kyso/app"
	"github.com/kyso-dev/kyso/signing"
)

func hashOf(name string) crypto.Hash {
	return signing.HashAlgorithm(name).Hash()
}

// verifyStdlib checks a signature over a digest with the certificate's key.
func verifyStdlib(t *testing.T, cert *x509.Certificate, sigAlg, hashAlg string, digest, sig []byte) {
	t.Helper()
	h := hashOf(hashAlg)
	var err error
	switch k := cert.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, digest, sig) {
			err = io.EOF
		}
	case *rsa.PublicKey:
		if sigAlg == "RSASSA-PSS" {
			err = rsa.VerifyPSS(k, h, digest, sig, &rsa.PSSOptions{SaltLength: h.Size(), Hash: h})
		} else {
			err = rsa.VerifyPKCS1v15(k, h, digest, sig)
		}
	}
	if err != nil {
		t.Fatalf("%s signature does not verify with the standard library: %v", sigAlg, err)
	}
}

// verifyOpenSSL checks the same signature with the openssl command line, independently.
func verifyOpenSSL(t *testing.T, certDER []byte, sigAlg, hashAlg string, digest, sig []byte) {
	t.Helper()
	openssl := requireTool(t, "openssl", "openssl")
	dir := t.TempDir()
	certPath, digestPath, sigPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "digest.bin"), filepath.Join(dir, "sig.bin")
	must(t, os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER}), 0o600))
	must(t, os.WriteFile(digestPath, digest, 0o600))
	must(t, os.WriteFile(sigPath, sig, 0o600))
	md := strings.ToLower(strings.ReplaceAll(hashAlg, "-", ""))
	args := []string{"pkeyutl", "-verify", "-certin", "-inkey", certPath, "-in", digestPath, "-sigfile", sigPath, "-pkeyopt", "digest:" + md}
	switch sigAlg {
	case "RSASSA-PSS":
		args = append(args, "-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", "rsa_pss_saltlen:digest")
	case "RSASSA-PKCS1-v1_5":
		args = append(args, "-pkeyopt", "rsa_padding_mode:pkcs1")
	}
	out, err := exec.Command(openssl, args...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Signature Verified Successfully") {
		t.Fatalf("openssl does not verify the %s signature: %v\n%s", sigAlg, err, out)
	}
}

// verifyChainOpenSSL checks the certificate against its chain with openssl verify.
func verifyChainOpenSSL(t *testing.T, cert []byte, chain [][]byte) {
	t.Helper()
	openssl := requireTool(t, "openssl", "openssl")
	dir := t.TempDir()
	write := func(name string, ders ...[]byte) string {
		var b []byte
		for _, d := range ders {
			b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d})...)
		}
		p := filepath.Join(dir, name)
		must(t, os.WriteFile(p, b, 0o600))
		return p
	}
	root := write("root.pem", chain[len(chain)-1])
	inter := write("inter.pem", chain[:len(chain)-1]...)
	leaf := write("leaf.pem", cert)
	out, err := exec.Command(openssl, "verify", "-CAfile", root, "-untrusted", inter, leaf).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl verify: %v\n%s", err, out)
	}
}

// requireTool returns the path of a command, or skips (fails under KYSO_REQUIRE_ALL).
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("KYSO_REQUIRE_ALL") != "" {
			t.Fatalf("%s is required (KYSO_REQUIRE_ALL is set): apt-get install %s", name, pkg)
		}
		t.Skipf("%s not found; install it with: apt-get install %s", name, pkg)
	}
	return p
}

func TestWalkthrough(t *testing.T) {
	e := startEnv(t)
	rp, rpKey := e.newRP("Cổng dịch vụ công")
	cases := []struct{ key, sigAlg, hashAlg string }{
		{"EC-P256", "ECDSA", "SHA-256"},
		{"RSA-2048", "RSASSA-PSS", "SHA-256"},
		{"RSA-2048", "RSASSA-PKCS1-v1_5", "SHA-512"},
	}
	for i, c := range cases {
		t.Run(c.key+"/"+c.sigAlg, func(t *testing.T) {
			s := e.newSigner("00109901234"+string(rune('0'+i)), c.key)
			hashes := digests(3, c.hashAlg)
			ctx := context.Background()
			sess, err := rp.CreateSignature(ctx, request(s, c.hashAlg, c.sigAlg, hashes), "")
			must(t, err)
			if sess.State != "pending" || sess.VerificationCode != signing.VerificationCode(hashes) {
				t.Fatalf("created: %+v", sess)
			}
			// The device sees exactly what is asked, approves after checking the code.
			pending, err := s.dev.Sessions(ctx)
			must(t, err)
			if len(pending) != 1 || pending[0].ID != sess.ID || pending[0].DisplayText != "Ký quyết định phê duyệt dự án" ||
				pending[0].RelyingParty.Name != "Cổng dịch vụ công" || len(pending[0].Documents) != 3 {
				t.Fatalf("device sees %+v", pending)
			}
			state, err := s.dev.Decide(ctx, sess.ID, true, sess.VerificationCode)
			must(t, err)
			if state != "signed" {
				t.Fatalf("after approval: %s", state)
			}
			got, err := rp.Signature(ctx, sess.ID, 5*time.Second)
			must(t, err)
			if got.State != "signed" || got.SignatureAlgorithm != c.sigAlg || len(got.Documents) != 3 || got.CompletedAt.IsZero() {
				t.Fatalf("final session: %+v", got)
			}
			cert, err := x509.ParseCertificate(got.Certificate)
			must(t, err)
			if cert.Subject.CommonName != "Nguyễn Văn "+s.nationalID || cert.Subject.SerialNumber != s.nationalID {
				t.Fatalf("certificate subject %s", cert.Subject)
			}
			for j, d := range got.Documents {
				if string(d.Hash) != string(hashes[j]) {
					t.Fatalf("document %d hash changed", j)
				}
				verifyStdlib(t, cert, c.sigAlg, c.hashAlg, hashes[j], d.Signature)
				verifyOpenSSL(t, got.Certificate, c.sigAlg, c.hashAlg, hashes[j], d.Signature)
			}
			verifyChainOpenSSL(t, got.Certificate, got.CertificateChain)
			// The answer goes out whole with its length, not chunked, even past net/http's
			// 2 KiB chunking threshold (three RSA signatures and the chain).
			req, _ := http.NewRequest("GET", e.url+"/v1/signatures/"+sess.ID, nil)
			req.Header.Set("Authorization", "Bearer "+rpKey.APIKey)
			resp, body := do(t, nil, req)
			if resp.StatusCode != 200 || resp.ContentLength != int64(len(body)) || resp.TransferEncoding != nil ||
				(strings.HasPrefix(c.key, "RSA") && len(body) <= 2048) {
				t.Fatalf("answer %d, Content-Length %d, Transfer-Encoding %v, %d bytes", resp.StatusCode, resp.ContentLength, resp.TransferEncoding, len(body))
			}
			if after, _ := s.dev.Sessions(ctx); len(after) != 0 {
				t.Fatalf("signed session still pending on the device: %d", len(after))
			}
		})
	}
}

func TestDecline(t *testing.T) {
	e := startEnv(t)
	rp, _ := e.newRP("Portal")
	s := e.newSigner("001", "EC-P256")
	ctx := context.Background()
	sess, err := rp.CreateSignature(ctx, request(s, "SHA-256", "", digests(1, "SHA-256")), "")
	must(t, err)
	state, err := s.dev.Decide(ctx, sess.ID, false, "")
	must(t, err)
	got, err := rp.Signature(ctx, sess.ID, 0)
	must(t, err)
	if state != "declined" || got.State != "declined" || got.Error == nil || got.Error.Code != "DECLINED" || got.Documents[0].Signature != nil {
		t.Fatalf("declined session: %s %+v", state, got)
	}
	_, err = s.dev.Decide(ctx, sess.ID, true, "")
	wantCode(t, err, "SESSION_NOT_PENDING")
}

func TestExpiry(t *testing.T) {
	e := startEnv(t)
	rp, _ := e.newRP("Portal")
	s := e.newSigner("001", "EC-P256")
	ctx := context.Background()
	req := request(s, "SHA-256", "", digests(1, "SHA-256"))
	req.TTLSeconds = 30
	sess, err := rp.CreateSignature(ctx, req, "")
	must(t, err)
	e.clock.Advance(31 * time.Second)
	// The sweeper expires it in the background; the long-poll sees it without a device.
	got, err := rp.Signature(ctx, sess.ID, 5*time.Second)
	must(t, err)
	if got.State != "expired" || got.Error == nil || got.Error.Code != "SESSION_EXPIRED" {
		t.Fatalf("after expiry: %+v", got)
	}
	if list, _ := s.dev.Sessions(ctx); len(list) != 0 {
		t.Fatalf("expired session still offered to the device")
	}
	_, err = s.dev.Decide(ctx, sess.ID, true, "")
	wantCode(t, err, "SESSION_EXPIRED")
}

func TestLongPollWakesOnDecision(t *testing.T) {
	e := startEnv(t)
	rp, _ := e.newRP("Portal")
	s := e.newSigner("001", "EC-P256")
	ctx := context.Background()
	sess, err := rp.CreateSignature(ctx, request(s, "SHA-256", "", digests(1, "SHA-256")), "")
	must(t, err)
	type result struct {
		sess *apiclient.Session
		at   time.Time
		err  error
	}
	res := make(chan result, 1)
	go func() {
		got, err := rp.Signature(ctx, sess.ID, 30*time.Second)
		res <- result{got, time.Now(), err}
	}()
	time.Sleep(200 * time.Millisecond) // let the long-poll reach the server and wait
	_, err = s.dev.Decide(ctx, sess.ID, true, "")
	decided := time.Now()
	must(t, err)
	r := <-res
	must(t, r.err)
	if r.sess.State != "signed" {
		t.Fatalf("long-poll answered %s", r.sess.State)
	}
	if lag := r.at.Sub(decided); lag > 100*time.Millisecond {
		t.Fatalf("long-poll answered %v after the decision; want within 100 ms", lag)
	}
}

func TestIdempotentCreate(t *testing.T) {
	e := startEnv(t)
	rp, _ := e.newRP("Portal")
	s := e.newSigner("001", "EC-P256")
	ctx := context.Background()
	req := request(s, "SHA-256", "", digests(2, "SHA-256"))
	first, err := rp.CreateSignature(ctx, req, "order-42")
	must(t, err)
	again, err := rp.CreateSignature(ctx, req, "order-42")
	must(t, err)
	if again.ID != first.ID {
		t.Fatalf("same key and body gave a new session %s != %s", again.ID, first.ID)
	}
	req.DisplayText = "something else"
	_, err = rp.CreateSignature(ctx, req, "order-42")
	wantCode(t, err, "IDEMPOTENCY_CONFLICT")
	if list, _ := s.dev.Sessions(ctx); len(list) != 1 {
		t.Fatalf("the user was asked %d times; want once", len(list))
	}
	// The key belongs to the relying party: another one may use it.
	rp2, _ := e.newRP("Other")
	other, err := rp2.CreateSignature(ctx, req, "order-42")
	must(t, err)
	if other.ID == first.ID {
		t.Fatal("idempotency keys leaked across relying parties")
	}
}

func TestCallbackDeliveredOnceWithHMACAndRetried(t *testing.T) {
	e := startEnv(t)
	rp, info := e.newRP("Portal")
	s := e.newSigner("001", "EC-P256")
	var mu sync.Mutex
	var attempts, delivered int
	var body []byte
	var header string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		attempts++
		if attempts == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		delivered++
		body, header = b, r.Header.Get("Kyso-Signature")
	}))
	defer recv.Close()
	ctx := context.Background()
	req := request(s, "SHA-256", "", digests(1, "SHA-256"))
	req.CallbackURL = recv.URL + "/kyso-callback"
	sess, err := rp.CreateSignature(ctx, req, "")
	must(t, err)
	_, err = s.dev.Decide(ctx, sess.ID, true, "")
	must(t, err)
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		d := delivered
		mu.Unlock()
		if d > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // time for any wrong extra delivery (backoff is 20 ms)
	mu.Lock()
	defer mu.Unlock()
	if attempts != 2 || delivered != 1 {
		t.Fatalf("attempts %d, deliveries %d; want a failed first attempt and exactly one delivery", attempts, delivered)
	}
	// Kyso-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, t + "." + body)>
	parts := strings.Split(header, ",")
	if len(parts) != 2 || !strings.HasPrefix(parts[0], "t=") || !strings.HasPrefix(parts[1], "v1=") {
		t.Fatalf("Kyso-Signature %q", header)
	}
	mac := hmac.New(sha256.New, []byte(info.CallbackSecret))
	mac.Write([]byte(parts[0][2:] + "."))
	mac.Write(body)
	if !hmac.Equal([]byte(hex.EncodeToString(mac.Sum(nil))), []byte(parts[1][3:])) {
		t.Fatal("callback HMAC does not verify with the relying party's secret")
	}
	var cb apiclient.Session
	must(t, json.Unmarshal(body, &cb))
	got, err := rp.Signature(ctx, sess.ID, 0)
	must(t, err)
	if cb.ID != sess.ID || cb.State != "signed" || string(cb.Documents[0].Signature) != string(got.Documents[0].Signature) {
		t.Fatalf("callback body is not the session: %+v", cb)
	}
}

func TestPendingSessionSurvivesRestart(t *testing.T) {
	e := startEnv(t)
	rp, _ := e.newRP("Portal")
	s := e.newSigner("001", "RSA-2048")
	ctx := context.Background()
	hashes := digests(2, "SHA-256")
	sess, err := rp.CreateSignature(ctx, request(s, "SHA-256", "", hashes), "")
	must(t, err)
	e.restart()
	state, err := s.dev.Decide(ctx, sess.ID, true, sess.VerificationCode)
	must(t, err)
	got, err := rp.Signature(ctx, sess.ID, 0)
	must(t, err)
	if state != "signed" || got.State != "signed" {
		t.Fatalf("after restart: %s %s", state, got.State)
	}
	cert, _ := x509.ParseCertificate(got.Certificate)
	for i, d := range got.Documents {
		verifyStdlib(t, cert, "RSASSA-PSS", "SHA-256", hashes[i], d.Signature)
	}
}

// TestLongPollOutlivesReadTimeout: a long-poll waits its full time even when it is longer
// than the server's read timeout (which net/http enforces by cancelling the request).
func TestLongPollOutlivesReadTimeout(t *testing.T) {
	e := startEnv(t, func(c *app.Config) { c.ReadTimeout = 300 * time.Millisecond })
	rp, _ := e.newRP("Portal")
	s := e.newSigner("001", "EC-P256")
	ctx := context.Background()
	sess, err := rp.CreateSignature(ctx, request(s, "SHA-256", "", digests(1, "SHA-256")), "")
	must(t, err)
	start := time.Now()
	got, err := rp.Signature(ctx, sess.ID, time.Second)
	must(t, err)
	if took := time.Since(start); took < 900*time.Millisecond || got.State != "pending" {
		t.Fatalf("a 1 s long-poll answered after %v with %s", took, got.State)
	}
	events, _, err := s.dev.Events(ctx, "")
	must(t, err)
	<-events // the snapshot
	time.Sleep(time.Second)
	phone := e.enroll(s.userID, "android") // the user's other device decides
	_, err = phone.Decide(ctx, sess.ID, true, "")
	must(t, err)
	for ev := range events {
		if ev.Type == "session.updated" && ev.Update.State == "signed" {
			return
		}
	}
	t.Fatal("the event stream ended before the decision (cut by the read timeout)")
}

// TestCallbackSurvivesRestart: the server stops while the relying party's receiver is down;
// after the restart the owed callback is delivered, once.
func TestCallbackSurvivesRestart(t *testing.T) {
	e := startEnv(t)
	rp, _ := e.newRP("Portal")
	s := e.newSigner("001", "EC-P256")
	var mu sync.Mutex
	up, attempts, delivered := false, 0, 0
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		attempts++
		if !up {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		delivered++
	}))
	t.Cleanup(recv.Close)
	ctx := context.Background()
	req := request(s, "SHA-256", "", digests(1, "SHA-256"))
	req.CallbackURL = recv.URL
	sess, err := rp.CreateSignature(ctx, req, "")
	must(t, err)
	_, err = s.dev.Decide(ctx, sess.ID, true, "")
	must(t, err)
	waitFor(t, "a failed callback attempt", func() bool { mu.Lock(); defer mu.Unlock(); return attempts > 0 })
	e.stop()
	mu.Lock()
	up = true
	mu.Unlock()
	e.start()
	waitFor(t, "the callback after the restart", func() bool { mu.Lock(); defer mu.Unlock(); return delivered > 0 })
	time.Sleep(200 * time.Millisecond) // the sweeper runs every 20 ms: time for a wrong second delivery
	mu.Lock()
	defer mu.Unlock()
	if delivered != 1 {
		t.Fatalf("%d deliveries after the restart; want exactly one", delivered)
	}
}

// TestStopIsBoundedBySilentConnections: a connection that never sends a request must not
// keep the server from stopping, nor make the stop fail.
func TestStopIsBoundedBySilentConnections(t *testing.T) {
	e := startEnv(t, func(c *app.Config) { c.ShutdownTimeout = 300 * time.Millisecond })
	conn, err := net.Dial("tcp", e.addr)
	must(t, err)
	defer conn.Close()
	time.Sleep(50 * time.Millisecond) // accepted, in the new state
	start := time.Now()
	e.stop() // fails the test if Serve returns an error
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("stop took %v", took)
	}
	if !strings.Contains(string(e.logs.Bytes()), "closing the connections still open") {
		t.Fatal("no log line about the forced close")
	}
}
