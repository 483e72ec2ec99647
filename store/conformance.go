// Package store holds what every signing.Store implementation shares: the conformance suite
// that each one runs (store/bbolt now, store/postgres later), so they behave alike.
package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kyso-dev/kyso/signing"
)

// Conformance runs the shared behaviour tests against stores made by open. Each call of open
// must return a new, empty store.
func Conformance(t *testing.T, open func(t *testing.T) signing.Store) {
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	rec := func(action string) signing.AuditRecord {
		return signing.AuditRecord{Time: now, Actor: "test", Action: action, Subject: "s"}
	}
	code := func(err error) string { return signing.ErrorCode(err) }

	t.Run("users", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		u := &signing.User{ID: "usr_1", NationalID: "001", DisplayName: "Nguyễn Văn A", CreatedAt: now}
		if err := s.CreateUser(ctx, u, rec("user.created")); err != nil {
			t.Fatal(err)
		}
		dup := &signing.User{ID: "usr_2", NationalID: "001", DisplayName: "B", CreatedAt: now}
		if err := s.CreateUser(ctx, dup, rec("user.created")); code(err) != signing.EUSEREXISTS {
			t.Fatalf("duplicate national id: got %v, want USER_EXISTS", err)
		}
		got, err := s.UserByNationalID(ctx, "001")
		if err != nil || got.ID != "usr_1" || got.DisplayName != "Nguyễn Văn A" {
			t.Fatalf("by national id: %+v %v", got, err)
		}
		if _, err := s.User(ctx, "usr_2"); code(err) != signing.ENOTFOUND {
			t.Fatalf("refused user was stored: %v", err)
		}
		if _, err := s.UserByNationalID(ctx, "002"); code(err) != signing.ENOTFOUND {
			t.Fatalf("unknown national id: %v", err)
		}
	})

	t.Run("credentials and devices are listed oldest first", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		mustUser(t, s, "usr_1", "001")
		for i, id := range []string{"cred_z", "cred_a", "cred_m"} {
			c := &signing.Credential{ID: id, UserID: "usr_1", KeyAlgorithm: signing.KeyECP256, Status: signing.CredentialActive,
				WrappedKey: []byte{1, 2}, CreatedAt: now.Add(time.Duration(i) * time.Second)}
			if err := s.CreateCredential(ctx, c, rec("credential.created")); err != nil {
				t.Fatal(err)
			}
		}
		list, err := s.CredentialsByUser(ctx, "usr_1")
		if err != nil || len(list) != 3 || list[0].ID != "cred_z" || list[2].ID != "cred_m" {
			t.Fatalf("credentials: %v %v", ids(list), err)
		}
		if err := s.CreateCredential(ctx, &signing.Credential{ID: "cred_x", UserID: "usr_nobody"}, rec("x")); code(err) != signing.ENOTFOUND {
			t.Fatalf("credential of unknown user: %v", err)
		}
	})

	t.Run("activation redeems once and counts failures even when refused", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		mustUser(t, s, "usr_1", "001")
		ac := &signing.ActivationCode{ID: "ABCDEF", UserID: "usr_1", CodeHash: []byte("h"), ExpiresAt: now.Add(time.Hour), CreatedAt: now}
		if err := s.CreateActivationCode(ctx, ac, rec("activation_code.created")); err != nil {
			t.Fatal(err)
		}
		wrong := signing.Errorf(signing.EACTIVATIONINVALID, "wrong")
		for range 2 {
			err := s.RedeemActivationCode(ctx, "ABCDEF", func(c *signing.ActivationCode) (*signing.Device, signing.AuditRecord, error) {
				c.Failures++
				return nil, rec("activation_code.failed"), wrong
			})
			if code(err) != signing.EACTIVATIONINVALID {
				t.Fatalf("fn's error must come back: %v", err)
			}
		}
		var failures int
		dev := &signing.Device{ID: "dev_1", UserID: "usr_1", Status: signing.DeviceActive, CreatedAt: now}
		err := s.RedeemActivationCode(ctx, "ABCDEF", func(c *signing.ActivationCode) (*signing.Device, signing.AuditRecord, error) {
			failures = c.Failures
			c.Used = true
			return dev, rec("device.activated"), nil
		})
		if err != nil || failures != 2 {
			t.Fatalf("redeem: err %v, failures seen %d (want 2: refused attempts must be saved)", err, failures)
		}
		devs, _ := s.DevicesByUser(ctx, "usr_1")
		if len(devs) != 1 || devs[0].ID != "dev_1" {
			t.Fatalf("device not created: %+v", devs)
		}
		if err := s.RedeemActivationCode(ctx, "NOSUCH", nil); code(err) != signing.ENOTFOUND {
			t.Fatalf("unknown code: %v", err)
		}
	})

	t.Run("update device is all or nothing", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		mustUser(t, s, "usr_1", "001")
		mustDevice(t, s, "usr_1", "dev_1")
		_, err := s.UpdateDevice(ctx, "dev_1", func(d *signing.Device) error {
			d.Status = signing.DeviceRevoked
			return signing.Errorf(signing.EFORBIDDEN, "no")
		}, rec("device.revoked"))
		if code(err) != signing.EFORBIDDEN {
			t.Fatalf("fn error: %v", err)
		}
		if d, _ := s.Device(ctx, "dev_1"); d.Status != signing.DeviceActive {
			t.Fatal("a refused update was saved")
		}
		d, err := s.UpdateDevice(ctx, "dev_1", func(d *signing.Device) error { d.Status = signing.DeviceRevoked; return nil }, rec("device.revoked"))
		if err != nil || d.Status != signing.DeviceRevoked {
			t.Fatalf("update: %v", err)
		}
		if _, err := s.UpdateDevice(ctx, "dev_x", func(*signing.Device) error { return nil }, rec("x")); code(err) != signing.ENOTFOUND {
			t.Fatalf("unknown device: %v", err)
		}
	})

	t.Run("relying parties and operators by hash", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		h := sha256.Sum256([]byte("key"))
		if err := s.CreateRelyingParty(ctx, &signing.RelyingParty{ID: "rp_1", Name: "A", APIKeyHash: h[:]}, rec("rp")); err != nil {
			t.Fatal(err)
		}
		if rp, err := s.RelyingPartyByKeyHash(ctx, h[:]); err != nil || rp.ID != "rp_1" {
			t.Fatalf("by key: %v", err)
		}
		other := sha256.Sum256([]byte("other"))
		if _, err := s.RelyingPartyByKeyHash(ctx, other[:]); code(err) != signing.ENOTFOUND {
			t.Fatalf("unknown key: %v", err)
		}
		created, err := s.CreateOperator(ctx, &signing.Operator{ID: "op_1", Role: "admin", TokenHash: h[:]}, true, rec("op"))
		if err != nil || !created {
			t.Fatalf("first operator: %v %v", created, err)
		}
		created, err = s.CreateOperator(ctx, &signing.Operator{ID: "op_2", Role: "admin", TokenHash: other[:]}, true, rec("op"))
		if err != nil || created {
			t.Fatalf("firstOnly must not create a second operator: %v %v", created, err)
		}
		if op, err := s.OperatorByTokenHash(ctx, h[:]); err != nil || op.ID != "op_1" {
			t.Fatalf("operator by token: %v", err)
		}
	})

	t.Run("sessions: idempotency, compare-and-set, indexes", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		mustUser(t, s, "usr_1", "001")
		sess := newSession("ses_1", now)
		idem := signing.Idempotency{Key: "k1", BodyHash: []byte("body-1")}
		got, created, err := s.CreateSession(ctx, sess, signing.CreateSessionOptions{Idempotency: idem}, rec("session.created"))
		if err != nil || !created || got.ID != "ses_1" {
			t.Fatalf("create: %v %v", created, err)
		}
		again, created, err := s.CreateSession(ctx, newSession("ses_2", now), signing.CreateSessionOptions{Idempotency: idem}, rec("session.created"))
		if err != nil || created || again.ID != "ses_1" {
			t.Fatalf("same key and body must return the first session: %v %v %v", again, created, err)
		}
		if _, _, err := s.CreateSession(ctx, newSession("ses_3", now), signing.CreateSessionOptions{Idempotency: signing.Idempotency{Key: "k1", BodyHash: []byte("body-2")}}, rec("x")); code(err) != signing.EIDEMPOTENCYCONFLICT {
			t.Fatalf("same key, other body: %v", err)
		}
		for _, id := range []string{"ses_2", "ses_3"} {
			if _, err := s.Session(ctx, id); code(err) != signing.ENOTFOUND {
				t.Fatalf("%s must not be stored", id)
			}
		}
		// Another relying party may reuse the key.
		other := newSession("ses_4", now)
		other.RelyingPartyID = "rp_2"
		if _, created, err := s.CreateSession(ctx, other, signing.CreateSessionOptions{Idempotency: idem}, rec("x")); err != nil || !created {
			t.Fatalf("keys are per relying party: %v %v", created, err)
		}
		open, _ := s.OpenSessionsByUser(ctx, "usr_1")
		if len(open) != 2 {
			t.Fatalf("open sessions: %d", len(open))
		}
		if due, _ := s.SessionsDue(ctx, now, 10); len(due) != 0 {
			t.Fatalf("nothing is due before expiry: %d", len(due))
		}
		if due, _ := s.SessionsDue(ctx, now.Add(10*time.Minute), 10); len(due) != 2 {
			t.Fatalf("both are due after expiry: %d", len(due))
		}
		// A failed compare-and-set changes nothing.
		_, err = s.UpdateSession(ctx, "ses_1", func(cur *signing.Session) (signing.AuditRecord, error) {
			cur.State = signing.StateSigned
			return signing.AuditRecord{}, signing.Errorf(signing.ESESSIONNOTPENDING, "no")
		})
		if code(err) != signing.ESESSIONNOTPENDING {
			t.Fatalf("fn error: %v", err)
		}
		if cur, _ := s.Session(ctx, "ses_1"); cur.State != signing.StatePending {
			t.Fatal("a refused transition was saved")
		}
		// pending -> approved: leaves the user's open list, stays due (for the sweeper).
		if _, err := s.UpdateSession(ctx, "ses_1", transition(signing.StateApproved, rec("session.approved"))); err != nil {
			t.Fatal(err)
		}
		if open, _ := s.OpenSessionsByUser(ctx, "usr_1"); len(open) != 1 || open[0].ID != "ses_4" {
			t.Fatalf("approved session still open: %v", open)
		}
		if due, _ := s.SessionsDue(ctx, now, 10); len(due) != 1 || due[0].ID != "ses_1" {
			t.Fatalf("approved session must be due at once: %v", due)
		}
		if _, err := s.UpdateSession(ctx, "ses_1", transition(signing.StateSigned, rec("session.signed"))); err != nil {
			t.Fatal(err)
		}
		if due, _ := s.SessionsDue(ctx, now.Add(time.Hour), 10); len(due) != 1 || due[0].ID != "ses_4" {
			t.Fatalf("final sessions are never due: %v", due)
		}
	})

	t.Run("pending cap per user, counted atomically", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		mustUser(t, s, "usr_1", "001")
		opts := signing.CreateSessionOptions{MaxOpenPerUser: 3, Now: now}
		var mu sync.Mutex
		var created, refused int
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				_, _, err := s.CreateSession(ctx, newSession(fmt.Sprintf("ses_%d", i), now), opts, rec("session.created"))
				mu.Lock()
				defer mu.Unlock()
				switch code(err) {
				case "":
					created++
				case signing.ETOOMANYPENDING:
					refused++
				default:
					t.Errorf("create: %v", err)
				}
			})
		}
		wg.Wait()
		if created != 3 || refused != 5 {
			t.Fatalf("created %d, refused %d; want 3 and 5", created, refused)
		}
		// Expired sessions no longer count.
		opts.Now = now.Add(10 * time.Minute)
		if _, _, err := s.CreateSession(ctx, newSession("ses_late", now.Add(10*time.Minute)), opts, rec("session.created")); err != nil {
			t.Fatalf("after the others expired: %v", err)
		}
	})

	t.Run("concurrent compare-and-set: exactly one wins", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		mustUser(t, s, "usr_1", "001")
		if _, _, err := s.CreateSession(ctx, newSession("ses_1", now), signing.CreateSessionOptions{}, rec("session.created")); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		wins := 0
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				_, err := s.UpdateSession(ctx, "ses_1", func(cur *signing.Session) (signing.AuditRecord, error) {
					if cur.State != signing.StatePending {
						return signing.AuditRecord{}, signing.Errorf(signing.ESESSIONNOTPENDING, "taken")
					}
					cur.State = signing.StateApproved
					return rec("session.approved"), nil
				})
				if err == nil {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("%d concurrent transitions won; exactly one may", wins)
		}
	})

	t.Run("audit log is a hash chain", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		mustUser(t, s, "usr_1", "001")
		mustUser(t, s, "usr_2", "002")
		recs, err := s.AuditRecords(ctx, 0, 100)
		if err != nil || len(recs) != 2 {
			t.Fatalf("audit: %d %v", len(recs), err)
		}
		var prev []byte
		for i, r := range recs {
			if r.Seq != uint64(i+1) || !bytes.Equal(r.PrevHash, prev) || !bytes.Equal(r.Hash, r.ChainHash()) {
				t.Fatalf("record %d breaks the chain: %+v", i, r)
			}
			prev = r.Hash
		}
		if later, _ := s.AuditRecords(ctx, 1, 100); len(later) != 1 || later[0].Seq != 2 {
			t.Fatalf("after=1: %+v", later)
		}
	})
}

func transition(to signing.State, a signing.AuditRecord) func(*signing.Session) (signing.AuditRecord, error) {
	return func(cur *signing.Session) (signing.AuditRecord, error) {
		cur.State = to
		return a, nil
	}
}

func newSession(id string, now time.Time) *signing.Session {
	return &signing.Session{ID: id, RelyingPartyID: "rp_1", UserID: "usr_1", CredentialID: "cred_1",
		HashAlgorithm: signing.SHA256, Documents: []signing.Document{{Label: "a.pdf", Hash: make([]byte, 32)}},
		State: signing.StatePending, CreatedAt: now, ExpiresAt: now.Add(5 * time.Minute)}
}

func mustUser(t *testing.T, s signing.Store, id, nid string) {
	t.Helper()
	u := &signing.User{ID: id, NationalID: nid, DisplayName: "User " + nid, CreatedAt: time.Now().UTC()}
	if err := s.CreateUser(context.Background(), u, signing.AuditRecord{Action: "user.created", Subject: id}); err != nil {
		t.Fatal(err)
	}
}

func mustDevice(t *testing.T, s signing.Store, userID, id string) {
	t.Helper()
	ac := &signing.ActivationCode{ID: "C" + id, UserID: userID, ExpiresAt: time.Now().Add(time.Hour)}
	if err := s.CreateActivationCode(context.Background(), ac, signing.AuditRecord{}); err != nil {
		t.Fatal(err)
	}
	err := s.RedeemActivationCode(context.Background(), ac.ID, func(*signing.ActivationCode) (*signing.Device, signing.AuditRecord, error) {
		return &signing.Device{ID: id, UserID: userID, Status: signing.DeviceActive, CreatedAt: time.Now()}, signing.AuditRecord{}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func ids(list []*signing.Credential) string {
	var b bytes.Buffer
	for _, c := range list {
		fmt.Fprint(&b, c.ID, " ")
	}
	return b.String()
}
