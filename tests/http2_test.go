package tests

import (
	"context"
	"crypto/x509"
	"net/http"
	"testing"
	"time"
)

// h2cClient speaks HTTP/2 without TLS only (prior knowledge): a request it sends cannot
// fall back to HTTP/1.1.
func h2cClient() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p}, Timeout: time.Minute}
}

// TestHTTP2Cleartext: the API over HTTP/2 on the plain listener, as a TLS-terminating proxy
// or a client multiplexing many long-polls and event streams would use it. A device follows
// its event stream and approves with RFC 9421-signed requests, and the relying party's
// long-poll gets a signature that verifies.
func TestHTTP2Cleartext(t *testing.T) {
	e := startEnv(t)
	h2 := h2cClient()
	resp, err := h2.Get(e.url + "/healthz")
	must(t, err)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz over HTTP/2: %s %d", resp.Proto, resp.StatusCode)
	}

	rp, _ := e.newRP("Portal")
	rp.HTTP = h2
	s := e.newSigner("001", "EC-P256")
	s.dev.HTTP = h2
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	events, _, err := s.dev.Events(ctx, "")
	must(t, err)
	hashes := digests(1, "SHA-256")
	sess, err := rp.CreateSignature(ctx, request(s, "SHA-256", "", hashes), "")
	must(t, err)
	ev := nextEvent(t, events)
	if ev.Session == nil || ev.Session.ID != sess.ID {
		t.Fatalf("event %+v", ev)
	}
	sig, err := s.dev.SignDecision(ev.Session.Challenge, "approve")
	must(t, err)
	_, err = s.dev.SendDecision(ctx, sess.ID, "approve", "", sig)
	must(t, err)
	done, err := rp.Signature(ctx, sess.ID, 30*time.Second)
	must(t, err)
	if done.State != "signed" {
		t.Fatalf("session %+v", done)
	}
	cert, err := x509.ParseCertificate(done.Certificate)
	must(t, err)
	verifyStdlib(t, cert, done.SignatureAlgorithm, "SHA-256", hashes[0], done.Documents[0].Signature)
}
