package tests

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-dev/kyso/apiclient"
	"github.com/kyso-dev/kyso/cmd/kyso/app"
	bridge "github.com/kyso-dev/kyso/mobile-bridge"
	"github.com/kyso-dev/kyso/mobile-bridge/client"
	"github.com/kyso-dev/kyso/signing"
	boltstore "github.com/kyso-dev/kyso/store/bbolt"
)

// pendingSession creates a session for s and returns it with the device's view of it.
func pendingSession(t *testing.T, rp *apiclient.Client, s signer) (*apiclient.Session, *bridge.SessionInfo) {
	t.Helper()
	ctx := context.Background()
	sess, err := rp.CreateSignature(ctx, request(s, "SHA-256", "", digests(2, "SHA-256")), "")
	must(t, err)
	info, err := s.dev.Session(ctx, sess.ID)
	must(t, err)
	return sess, info
}

func assertState(t *testing.T, rp *apiclient.Client, id, want string) {
	t.Helper()
	got, err := rp.Signature(context.Background(), id, 0)
	must(t, err)
	if got.State != want {
		t.Fatalf("session is %s, want %s (an attack changed state)", got.State, want)
	}
}

func TestAttacksOnDecisions(t *testing.T) {
	e := startEnv(t)
	rp, _ := e.newRP("Portal")
	alice := e.newSigner("001", "EC-P256")
	mallory := e.newSigner("002", "EC-P256")
	ctx := context.Background()

	t.Run("decision by another user's device", func(t *testing.T) {
		sess, info := pendingSession(t, rp, alice)
		_, err := mallory.dev.Session(ctx, sess.ID)
		wantCode(t, err, "NOT_FOUND")
		sig, _ := mallory.dev.SignDecision(info.Challenge, "approve")
		_, err = mallory.dev.SendDecision(ctx, sess.ID, "approve", "", sig)
		wantCode(t, err, "NOT_FOUND")
		assertState(t, rp, sess.ID, "pending")
	})

	t.Run("altered challenge", func(t *testing.T) {
		sess, info := pendingSession(t, rp, alice)
		altered := append([]byte{}, info.Challenge...)
		altered[20] ^= 0x01
		sig, _ := alice.dev.SignDecision(altered, "approve")
		_, err := alice.dev.SendDecision(ctx, sess.ID, "approve", "", sig)
		wantCode(t, err, "INVALID_SIGNATURE")
		// A decline signature presented as an approval.
		sig, _ = alice.dev.SignDecision(info.Challenge, "decline")
		_, err = alice.dev.SendDecision(ctx, sess.ID, "approve", "", sig)
		wantCode(t, err, "INVALID_SIGNATURE")
		// A signature over another session's challenge.
		_, other := pendingSession(t, rp, alice)
		sig, _ = alice.dev.SignDecision(other.Challenge, "approve")
		_, err = alice.dev.SendDecision(ctx, sess.ID, "approve", "", sig)
		wantCode(t, err, "INVALID_SIGNATURE")
		assertState(t, rp, sess.ID, "pending")
	})

	t.Run("replayed decision", func(t *testing.T) {
		sess, info := pendingSession(t, rp, alice)
		sig, _ := alice.dev.SignDecision(info.Challenge, "approve")
		body, _ := json.Marshal(bridge.DecisionRequest{Decision: "approve", Signature: sig})
		path := "/device/v1/sessions/" + sess.ID + "/decision"
		req, err := alice.dev.NewSignedRequest(ctx, "POST", path, body, e.clock.Now(), "nonce-replay")
		must(t, err)
		resp, _ := do(t, nil, req)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("first decision: %d", resp.StatusCode)
		}
		// The very same bytes again: the nonce is spent.
		again, _ := alice.dev.NewSignedRequest(ctx, "POST", path, body, e.clock.Now(), "nonce-replay")
		resp, raw := do(t, nil, again)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(raw), "UNAUTHENTICATED") {
			t.Fatalf("replayed request: %d %s", resp.StatusCode, raw)
		}
		// The same decision freshly signed: the session is no longer pending.
		_, err = alice.dev.SendDecision(ctx, sess.ID, "approve", "", sig)
		wantCode(t, err, "SESSION_NOT_PENDING")
		_, err = alice.dev.SendDecision(ctx, sess.ID, "decline", "", sig)
		wantCode(t, err, "SESSION_NOT_PENDING")
		assertState(t, rp, sess.ID, "signed")
	})

	t.Run("stale created", func(t *testing.T) {
		req, err := alice.dev.NewSignedRequest(ctx, "GET", "/device/v1/sessions", nil, e.clock.Now().Add(-2*time.Minute), "")
		must(t, err)
		if resp, raw := do(t, nil, req); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("stale created: %d %s", resp.StatusCode, raw)
		}
	})

	t.Run("reused nonce", func(t *testing.T) {
		for i, want := range []int{http.StatusOK, http.StatusUnauthorized} {
			req, err := alice.dev.NewSignedRequest(ctx, "GET", "/device/v1/sessions", nil, e.clock.Now(), "same-nonce")
			must(t, err)
			if resp, _ := do(t, nil, req); resp.StatusCode != want {
				t.Fatalf("request %d with the same nonce: %d, want %d", i, resp.StatusCode, want)
			}
		}
	})

	t.Run("unsigned and forged device requests", func(t *testing.T) {
		req, _ := http.NewRequest("GET", e.url+"/device/v1/sessions", nil)
		if resp, _ := do(t, nil, req); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("unsigned: %d", resp.StatusCode)
		}
		// Mallory signs with her key but claims Alice's device id.
		req, _ = mallory.dev.NewSignedRequest(ctx, "GET", "/device/v1/sessions", nil, e.clock.Now(), "")
		req.Header.Set("Signature-Input", strings.Replace(req.Header.Get("Signature-Input"), mallory.dev.DeviceID(), alice.dev.DeviceID(), 1))
		if resp, _ := do(t, nil, req); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("forged keyid: %d", resp.StatusCode)
		}
	})

	t.Run("revoked device", func(t *testing.T) {
		bob := e.newSigner("003", "EC-P256")
		sess, info := pendingSession(t, rp, bob)
		sig, _ := bob.dev.SignDecision(info.Challenge, "approve")
		var dev struct{ Status string }
		must(t, e.op.Do(ctx, "POST", "/admin/v1/devices/"+bob.dev.DeviceID()+"/revoke", map[string]string{"reason": "lost on a trip"}, &dev, nil))
		if dev.Status != "revoked" {
			t.Fatalf("revoke answered %+v", dev)
		}
		_, err := bob.dev.SendDecision(ctx, sess.ID, "approve", "", sig)
		wantCode(t, err, "UNAUTHENTICATED")
		_, err = bob.dev.Sessions(ctx)
		wantCode(t, err, "UNAUTHENTICATED")
		assertState(t, rp, sess.ID, "pending")
		// With no active device left, new requests are refused up front.
		_, err = rp.CreateSignature(ctx, request(bob, "SHA-256", "", digests(1, "SHA-256")), "")
		wantCode(t, err, "NO_ACTIVE_DEVICE")
	})
}

func TestRelyingPartiesAreIsolated(t *testing.T) {
	e := startEnv(t)
	rpA, _ := e.newRP("A")
	rpB, _ := e.newRP("B")
	s := e.newSigner("001", "EC-P256")
	sess, _ := pendingSession(t, rpA, s)
	_, err := rpB.Signature(context.Background(), sess.ID, 0)
	wantCode(t, err, "NOT_FOUND")
	_, err = rpB.Signature(context.Background(), "ses_DOESNOTEXIST0", 0)
	wantCode(t, err, "NOT_FOUND")
}

func TestCallerAuthentication(t *testing.T) {
	e := startEnv(t)
	rp, info := e.newRP("A")
	ctx := context.Background()
	cases := []struct {
		name   string
		client *apiclient.Client
		path   string
	}{
		{"wrong operator token", apiclient.New(e.url, "kyso_op_WRONG"), "/admin/v1/users?nationalId=1"},
		{"no operator token", apiclient.New(e.url, ""), "/admin/v1/users?nationalId=1"},
		{"API key on the operator API", apiclient.New(e.url, info.APIKey), "/admin/v1/users?nationalId=1"},
		{"operator token on the RP API", apiclient.New(e.url, e.opToken), "/v1/credentials?nationalId=1"},
		{"wrong API key", apiclient.New(e.url, "kyso_rp_WRONG"), "/v1/credentials?nationalId=1"},
	}
	for _, c := range cases {
		err := c.client.Do(ctx, "GET", c.path, nil, nil, nil)
		if apiCode(err) != "UNAUTHENTICATED" {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	// The right key gets past authentication (to the domain's answer).
	wantCode(t, rp.Do(ctx, "GET", "/v1/credentials?nationalId=none", nil, nil, nil), "USER_NOT_FOUND")
}

func TestActivationCodeAbuse(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	uid := e.newUser("001", "A")
	enroll := func(code string) error {
		_, err := client.Enroll(ctx, e.url, code, client.EnrollOptions{Platform: "android"})
		return err
	}

	t.Run("reused", func(t *testing.T) {
		code := e.activationCode(uid)
		must(t, enroll(code))
		wantCode(t, enroll(code), "ACTIVATION_CODE_INVALID")
	})
	t.Run("expired", func(t *testing.T) {
		code := e.activationCode(uid)
		e.clock.Advance(11 * time.Minute) // default TTL is 600 s; this also refills the rate limit
		wantCode(t, enroll(code), "ACTIVATION_CODE_INVALID")
	})
	t.Run("guessed five times", func(t *testing.T) {
		code := e.activationCode(uid)
		for i := range 5 {
			// Same code id (first characters), wrong secret part.
			alt := "ABCDE"[i : i+1]
			if alt == code[18:19] {
				alt = "7"
			}
			guess := code[:18] + alt

			wantCode(t, enroll(guess), "ACTIVATION_CODE_INVALID")
		}
		wantCode(t, enroll(code), "ACTIVATION_CODE_INVALID")
	})
	t.Run("rate limited per address", func(t *testing.T) {
		e.clock.Advance(2 * time.Minute)
		var last error
		for range 11 {
			last = enroll("AAAA-AAAA-AAAA-AAAA")
		}
		wantCode(t, last, "RATE_LIMITED")
	})
	var devs struct{ Devices []json.RawMessage }
	must(t, e.op.Do(ctx, "GET", "/admin/v1/users/"+uid+"/devices", nil, &devs, nil))
	if len(devs.Devices) != 1 {
		t.Fatalf("%d devices enrolled; only the first, honest activation may enrol one", len(devs.Devices))
	}
}

// TestWrappedKeyMovedToAnotherUserCannotSign copies Alice's wrapped key into Bob's credential
// record, as an attacker with write access to the store might. Bob's signature must fail,
// because the key's associated data binds Alice's credential and user id.
func TestWrappedKeyMovedToAnotherUserCannotSign(t *testing.T) {
	e := startEnv(t)
	rp, _ := e.newRP("Portal")
	alice := e.newSigner("001", "EC-P256")
	bob := e.newSigner("002", "EC-P256")
	e.stop()
	stolen := storedCredential(t, e, alice.cred.ID).WrappedKey
	st, err := boltstore.Open(filepath.Join(e.dir, app.StoreFile), boltstore.Options{})
	must(t, err)
	_, err = st.UpdateCredential(context.Background(), bob.cred.ID, func(c *signing.Credential) error {
		c.WrappedKey = stolen
		return nil
	}, signing.AuditRecord{Actor: "attacker", Action: "credential.tampered", Subject: bob.cred.ID})
	must(t, err)
	must(t, st.Close())
	e.start()
	ctx := context.Background()
	sess, err := rp.CreateSignature(ctx, request(bob, "SHA-256", "", digests(1, "SHA-256")), "")
	must(t, err)
	state, err := bob.dev.Decide(ctx, sess.ID, true, "")
	must(t, err)
	got, err := rp.Signature(ctx, sess.ID, 0)
	must(t, err)
	if state != "failed" || got.State != "failed" || got.Documents[0].Signature != nil {
		t.Fatalf("a moved key produced state %s / %+v", state, got)
	}
}
