package signing_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kyso-dev/kyso/keystore"
	bridge "github.com/kyso-dev/kyso/mobile-bridge"
	"github.com/kyso-dev/kyso/pki"
	"github.com/kyso-dev/kyso/signing"
	boltstore "github.com/kyso-dev/kyso/store/bbolt"
)

func TestVerificationCodeKnownAnswer(t *testing.T) {
	// SHA-256(32 x 0x00 || 32 x 0x01) ends in ...87f3; 0x87f3 = 34803; mod 10000 = 4803.
	if got := signing.VerificationCode([][]byte{make([]byte, 32), bytes.Repeat([]byte{1}, 32)}); got != "4803" {
		t.Fatalf("got %s, want 4803", got)
	}
	abc := sha256.Sum256([]byte("abc"))
	if got := signing.VerificationCode([][]byte{abc[:]}); got != "5432" {
		t.Fatalf("got %s, want 5432", got)
	}
}

// countingKeys wraps real key custody and counts how often a key is opened for signing.
type countingKeys struct {
	signing.Keys
	signers atomic.Int32
}

func (k *countingKeys) Signer(ctx context.Context, w []byte, c, u string, pub crypto.PublicKey) (crypto.Signer, error) {
	k.signers.Add(1)
	return k.Keys.Signer(ctx, w, c, u, pub)
}

// recordingNotifier records wake-ups.
type recordingNotifier struct {
	mu     sync.Mutex
	calls  []string
	tokens []signing.PushToken
}

func (n *recordingNotifier) Notify(_ context.Context, d *signing.Device, w signing.WakeUp) signing.Delivery {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.calls = append(n.calls, d.ID+" "+w.SessionID)
	n.tokens = append(n.tokens, d.PushToken)
	return signing.Delivery{Outcome: signing.DeliveryDelivered, Attempts: 1}
}

type fixture struct {
	store    *boltstore.Store
	keys     *countingKeys
	ca       *pki.DevCA
	notifier *recordingNotifier
	now      time.Time
	mu       sync.Mutex
	svc      *signing.Service
	op       *signing.Operator
	rp       *signing.RelyingParty
	dev      *signing.Device
	devKey   *ecdsa.PrivateKey
}

func (f *fixture) Now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

func (f *fixture) newService() *signing.Service {
	svc := signing.NewService(f.store, f.keys, f.ca, f.notifier, bridge.Protocol{}, signing.Config{Now: f.Now})
	return svc
}

// newFixture builds a service on real parts with one user, credential, device and RP.
func newFixture(t testing.TB) *fixture { return newFixtureWithKey(t, signing.KeyECP256) }

func newFixtureWithKey(t testing.TB, keyAlg signing.KeyAlgorithm) *fixture {
	t.Helper()
	dir := t.TempDir()
	st, err := boltstore.Open(filepath.Join(dir, "kyso.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	master, _, err := keystore.OpenLocalMaster(filepath.Join(dir, "master.json"))
	if err != nil {
		t.Fatal(err)
	}
	kek, _, _, err := keystore.OpenKEK(filepath.Join(dir, "kek.json"), master)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: st, keys: &countingKeys{Keys: keystore.New(kek)}, notifier: &recordingNotifier{}, now: time.Now().UTC()}
	if f.ca, _, err = pki.OpenDevCA(context.Background(), filepath.Join(dir, "ca.json"), f.keys, f.Now); err != nil {
		t.Fatal(err)
	}
	f.svc = f.newService()
	t.Cleanup(f.svc.Close)
	ctx := context.Background()
	token, _, err := f.svc.BootstrapOperator(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.op, _ = f.svc.AuthenticateOperator(ctx, token)
	u, err := f.svc.CreateUser(ctx, f.op, signing.UserInput{NationalID: "001", DisplayName: "A"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateCredential(ctx, f.op, u.ID, keyAlg, ""); err != nil {
		t.Fatal(err)
	}
	code, _, err := f.svc.CreateActivationCode(ctx, f.op, u.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.devKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := x509.MarshalPKIXPublicKey(&f.devKey.PublicKey)
	if f.dev, _, err = f.svc.Activate(ctx, signing.ActivationRequest{Code: code, PublicKey: pub, Platform: "ios"}); err != nil {
		t.Fatal(err)
	}
	if f.rp, _, _, err = f.svc.CreateRelyingParty(ctx, f.op, "Portal"); err != nil {
		t.Fatal(err)
	}
	f.keys.signers.Store(0)
	return f
}

func (f *fixture) createSession(t testing.TB) *signing.Session {
	t.Helper()
	h := sha256.Sum256([]byte(t.Name()))
	s, err := f.svc.CreateSession(context.Background(), f.rp, signing.SessionRequest{NationalID: "001", HashAlgorithm: signing.SHA256,
		Documents: []signing.Document{{Label: "a.pdf", Hash: h[:]}}, DisplayText: "Ký"}, signing.Idempotency{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (f *fixture) approval(s *signing.Session) []byte {
	digest := sha256.Sum256(bridge.DecisionMessage(bridge.Protocol{}.Challenge(s), "approve"))
	sig, _ := ecdsa.SignASN1(rand.Reader, f.devKey, digest[:])
	return sig
}

func TestSweeperExpiresPendingSessions(t *testing.T) {
	f := newFixture(t)
	s := f.createSession(t)
	if n, err := f.svc.Sweep(context.Background()); err != nil || n != 0 {
		t.Fatalf("nothing is due yet: %d %v", n, err)
	}
	f.advance(5*time.Minute + time.Second)
	if n, err := f.svc.Sweep(context.Background()); err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	got, _ := f.store.Session(context.Background(), s.ID)
	if got.State != signing.StateExpired || got.Error.Code != signing.ESESSIONEXPIRED {
		t.Fatalf("after sweep: %s", got.State)
	}
}

// TestSweeperResumesInterruptedSigning: the process stopped after the approval was stored
// but before the signature was; the next process signs it once.
func TestSweeperResumesInterruptedSigning(t *testing.T) {
	f := newFixture(t)
	s := f.createSession(t)
	sig := f.approval(s)
	challenge := bridge.Protocol{}.Challenge(s)
	_, err := f.store.UpdateSession(context.Background(), s.ID, func(cur *signing.Session) (signing.AuditRecord, error) {
		cur.State = signing.StateApproved
		cur.Approval = &signing.Approval{DeviceID: f.dev.ID, Decision: signing.Approve, Challenge: challenge, Signature: sig, At: f.Now()}
		return signing.AuditRecord{Action: "session.approved"}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The running service did not approve it; it must not race the (absent) signer.
	if n, _ := f.svc.Sweep(context.Background()); n != 0 {
		t.Fatalf("the live service resumed a session it may still be signing")
	}
	f.advance(time.Second)
	next := f.newService() // a new process
	defer next.Close()
	if n, err := next.Sweep(context.Background()); err != nil || n != 1 {
		t.Fatalf("resume: %d %v", n, err)
	}
	got, _ := f.store.Session(context.Background(), s.ID)
	if got.State != signing.StateSigned || len(got.Documents[0].Signature) == 0 {
		t.Fatalf("after resume: %s", got.State)
	}
}

// TestSignedAtMostOnce races many approvals of one session: one wins, the key is opened once.
func TestSignedAtMostOnce(t *testing.T) {
	f := newFixture(t)
	s := f.createSession(t)
	sig := f.approval(s)
	var wins, refused atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			_, err := f.svc.Decide(context.Background(), f.dev, s.ID, signing.Approve, "", sig)
			switch signing.ErrorCode(err) {
			case "":
				wins.Add(1)
			case signing.ESESSIONNOTPENDING:
				refused.Add(1)
			default:
				t.Errorf("unexpected: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || refused.Load() != 15 || f.keys.signers.Load() != 1 {
		t.Fatalf("wins %d refused %d key opened %d times; want 1, 15, 1", wins.Load(), refused.Load(), f.keys.signers.Load())
	}
}

func TestNotifiesEveryActiveDeviceWithIDsOnly(t *testing.T) {
	f := newFixture(t)
	s := f.createSession(t)
	f.svc.Close() // waits for background notifications
	f.notifier.mu.Lock()
	defer f.notifier.mu.Unlock()
	if len(f.notifier.calls) != 1 || f.notifier.calls[0] != f.dev.ID+" "+s.ID {
		t.Fatalf("notifications: %v", f.notifier.calls)
	}
}

// The user's devices are kept in memory between requests; an enrolment, a new push token
// and a revocation made by this process apply to the very next request.
func TestDeviceChangesApplyAtOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.createSession(t) // the device list is now cached
	code, _, err := f.svc.CreateActivationCode(ctx, f.op, f.dev.UserID, 0)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	phone, _, err := f.svc.Activate(ctx, signing.ActivationRequest{Code: code, PublicKey: pub, Platform: "android"})
	if err != nil {
		t.Fatal(err)
	}
	afterEnrolment := f.createSession(t)
	if _, err := f.svc.SetPushToken(ctx, f.dev, "token-2"); err != nil {
		t.Fatal(err)
	}
	afterNewToken := f.createSession(t)
	for _, id := range []string{f.dev.ID, phone.ID} {
		if _, err := f.svc.RevokeDevice(ctx, f.op, id, "lost"); err != nil {
			t.Fatal(err)
		}
	}
	h := sha256.Sum256([]byte("after revocation"))
	_, err = f.svc.CreateSession(ctx, f.rp, signing.SessionRequest{NationalID: "001", HashAlgorithm: signing.SHA256,
		Documents: []signing.Document{{Label: "a.pdf", Hash: h[:]}}, DisplayText: "Ký"}, signing.Idempotency{})
	if signing.ErrorCode(err) != signing.ENOACTIVEDEVICE {
		t.Fatalf("a session for a user whose devices are all revoked: %v", err)
	}
	f.svc.Close() // waits for background notifications
	f.notifier.mu.Lock()
	defer f.notifier.mu.Unlock()
	woken := map[string]signing.PushToken{}
	for i, c := range f.notifier.calls {
		woken[c] = f.notifier.tokens[i]
	}
	if _, ok := woken[phone.ID+" "+afterEnrolment.ID]; !ok {
		t.Errorf("the phone enrolled just before was not woken: %v", f.notifier.calls)
	}
	if tok := woken[f.dev.ID+" "+afterNewToken.ID]; tok != "token-2" {
		t.Errorf("the iPad was woken with push token %q, not its new one", tok)
	}
}

func TestAuditorCannotChangeAnything(t *testing.T) {
	f := newFixture(t)
	auditor := &signing.Operator{ID: "op_aud", Role: signing.RoleAuditor}
	ctx := context.Background()
	if _, err := f.svc.CreateUser(ctx, auditor, signing.UserInput{NationalID: "9", DisplayName: "x"}); signing.ErrorCode(err) != signing.EFORBIDDEN {
		t.Errorf("create user: %v", err)
	}
	if _, err := f.svc.RevokeDevice(ctx, auditor, f.dev.ID, ""); signing.ErrorCode(err) != signing.EFORBIDDEN {
		t.Errorf("revoke: %v", err)
	}
	if _, _, _, err := f.svc.CreateRelyingParty(ctx, auditor, "x"); signing.ErrorCode(err) != signing.EFORBIDDEN {
		t.Errorf("create RP: %v", err)
	}
	if _, err := f.svc.CreateCredential(ctx, auditor, f.dev.UserID, "", ""); signing.ErrorCode(err) != signing.EFORBIDDEN {
		t.Errorf("create credential: %v", err)
	}
	if _, _, err := f.svc.CreateActivationCode(ctx, auditor, f.dev.UserID, 0); signing.ErrorCode(err) != signing.EFORBIDDEN {
		t.Errorf("activation code: %v", err)
	}
}

func TestSecretsRedact(t *testing.T) {
	s := signing.Secret("kyso_op_SUPERSECRET")
	p := signing.PushToken("fcm-token-SECRET")
	for _, out := range []string{
		fmt.Sprintf("%v %s %+v %#v %q", s, s, s, s, s),
		fmt.Sprintf("%v %s %+v %#v %q", p, p, p, p, p),
		fmt.Sprintf("%v", struct{ S signing.Secret }{s}),
		func() string {
			var b bytes.Buffer
			slog.New(slog.NewJSONHandler(&b, nil)).Info("x", "token", s, "push", p)
			return b.String()
		}(),
	} {
		if bytes.Contains([]byte(out), []byte("SECRET")) {
			t.Fatalf("secret leaked through formatting: %s", out)
		}
	}
}

// BenchmarkTransaction measures one complete transaction in-process: create the session
// (durable), fetch it for the device with its challenge, verify the device's approval, move
// it to approved (durable), unwrap the key, sign, verify the signature, store the result
// (durable). Parallel workers share group commits, as concurrent requests do in the server.
func BenchmarkTransaction(b *testing.B) {
	for _, alg := range []signing.KeyAlgorithm{signing.KeyECP256, signing.KeyRSA2048} {
		b.Run(string(alg), func(b *testing.B) {
			f := newFixtureWithKey(b, alg)
			// One user signs from every worker at once: no cap on pending requests.
			svc := signing.NewService(f.store, f.keys, f.ca, f.notifier, bridge.Protocol{}, signing.Config{Now: f.Now, MaxPendingPerUser: 1 << 20})
			defer svc.Close()
			ctx := context.Background()
			b.ReportAllocs()
			b.SetParallelism(64) // 64 workers per CPU: concurrent requests, as a server under load sees them
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				doc := make([]byte, 32)
				for pb.Next() {
					rand.Read(doc)
					h := sha256.Sum256(doc)
					s, err := svc.CreateSession(ctx, f.rp, signing.SessionRequest{NationalID: "001", HashAlgorithm: signing.SHA256,
						Documents: []signing.Document{{Label: "a.pdf", Hash: h[:]}}, DisplayText: "Ký"}, signing.Idempotency{})
					if err != nil {
						b.Fatal(err)
					}
					s, challenge, err := svc.DeviceSession(ctx, f.dev, s.ID)
					if err != nil {
						b.Fatal(err)
					}
					digest := sha256.Sum256(bridge.DecisionMessage(challenge, "approve"))
					sig, _ := ecdsa.SignASN1(rand.Reader, f.devKey, digest[:])
					done, err := svc.Decide(ctx, f.dev, s.ID, signing.Approve, "", sig)
					if err != nil || done.State != signing.StateSigned {
						b.Fatalf("decide: %v", err)
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tx/s")
		})
	}
}

// TestRewrapInterruptedResumes stops a rewrap half-way (as a crash would), then runs it
// again: it converges, and every credential still signs throughout.
func TestRewrapInterruptedResumes(t *testing.T) {
	f := newFixture(t)
	ks := f.keys.Keys.(*keystore.Keystore)
	svc := signing.NewService(f.store, f.keys, f.ca, f.notifier, bridge.Protocol{}, signing.Config{Now: f.Now, Rotation: ks})
	defer svc.Close()
	ctx := context.Background()
	for i := range 9 {
		u, err := svc.CreateUser(ctx, f.op, signing.UserInput{NationalID: fmt.Sprint("9", i), DisplayName: "U"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.CreateCredential(ctx, f.op, u.ID, signing.KeyECP256, ""); err != nil {
			t.Fatal(err)
		}
	}
	primary, err := svc.RotateKEK(ctx, f.op)
	if err != nil {
		t.Fatal(err)
	}
	stopCtx, stop := context.WithCancel(ctx)
	n, err := svc.Rewrap(stopCtx, 3, func(checked, rewrapped int) {
		if checked >= 3 {
			stop() // the process dies after the first batch
		}
	})
	if err == nil || n == 0 || n >= 10 {
		t.Fatalf("interrupted rewrap: %d rewrapped, err %v", n, err)
	}
	underPrimary := func() (yes, no int) {
		creds, _ := f.store.ListCredentials(ctx, "", 100)
		for _, c := range creds {
			if id, _ := ks.BlobKeyID(c.WrappedKey); id == primary {
				yes++
			} else {
				no++
			}
		}
		return
	}
	if yes, no := underPrimary(); yes == 0 || no == 0 {
		t.Fatalf("after the interruption: %d moved, %d left", yes, no)
	}
	if _, err := svc.Rewrap(ctx, 3, nil); err != nil {
		t.Fatal(err)
	}
	if yes, no := underPrimary(); no != 0 || yes != 10 {
		t.Fatalf("after resuming: %d moved, %d left", yes, no)
	}
	st, _ := svc.KEKStatus(ctx, f.op)
	for _, k := range st.Keys {
		if k.KeyID != primary && k.Blobs != 0 {
			t.Fatalf("old key still wraps %d blobs", k.Blobs)
		}
	}
	// Everything signs after the old key is gone.
	for _, k := range st.Keys {
		if k.KeyID != primary {
			if err := svc.DisableKEKKey(ctx, f.op, k.KeyID); err != nil {
				t.Fatal(err)
			}
		}
	}
	s := f.createSession(t)
	if done, err := svc.Decide(ctx, f.dev, s.ID, signing.Approve, "", f.approval(s)); err != nil || done.State != signing.StateSigned {
		t.Fatalf("sign after disabling the old key: %v", err)
	}
}

// TestDecisionSurvivesClientDisconnect: once the device's approval is verified, a cancelled
// request (the phone lost its network) still ends with the session signed, not half-done.
func TestDecisionSurvivesClientDisconnect(t *testing.T) {
	f := newFixture(t)
	s := f.createSession(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done, err := f.svc.Decide(ctx, f.dev, s.ID, signing.Approve, "", f.approval(s))
	if err != nil || done.State != signing.StateSigned {
		t.Fatalf("decision with a cancelled request: %v", err)
	}
}

// Session ids sort by creation time (the store keeps a session's writes on its newest
// pages) and still carry 80 random bits.
func TestSessionIDsSortByCreation(t *testing.T) {
	f := newFixture(t)
	var ids []string
	for i := range 5 {
		if i == 3 {
			f.advance(time.Millisecond)
		}
		ids = append(ids, f.createSession(t).ID)
	}
	const timePart = len("ses_") + 9 // 45 of the 48 time bits; the 80 random bits follow
	for i, id := range ids {
		if len(id) != len("ses_")+26 || id[:4] != "ses_" || slices.Contains(ids[:i], id) {
			t.Fatalf("session id %q among %q", id, ids)
		}
	}
	if ids[0][:timePart] != ids[1][:timePart] || ids[1][:timePart] != ids[2][:timePart] {
		t.Fatalf("ids of the same millisecond differ in their time part: %q", ids[:3])
	}
	for _, later := range ids[3:] {
		for _, earlier := range ids[:3] {
			if later <= earlier {
				t.Fatalf("%q, created a millisecond later, sorts before %q", later, earlier)
			}
		}
	}
}

// sessionReadCounter counts the store's session reads.
type sessionReadCounter struct {
	signing.Store
	reads atomic.Int64
}

func (c *sessionReadCounter) Session(ctx context.Context, id string) (*signing.Session, error) {
	c.reads.Add(1)
	return c.Store.Session(ctx, id)
}

// countSessionReads puts f's service over a store that counts session reads.
func (f *fixture) countSessionReads(t *testing.T) *sessionReadCounter {
	st := &sessionReadCounter{Store: f.store}
	f.svc = signing.NewService(st, f.keys, f.ca, f.notifier, bridge.Protocol{}, signing.Config{Now: f.Now})
	t.Cleanup(f.svc.Close)
	return st
}

// A live creation event hands the device the session as stored, without reading it back;
// past its expiry, or for another user's device, the store decides as for any read.
func TestCreationEventCarriesTheSession(t *testing.T) {
	f := newFixture(t)
	st := f.countSessionReads(t)
	svc, ctx := f.svc, context.Background()
	sub, _, _ := svc.SubscribeEvents(f.dev, "")
	defer sub.Close()
	created := f.createSession(t)
	ev := <-sub.C
	sess, challenge, err := svc.DeviceSessionOf(ctx, f.dev, ev)
	if err != nil || sess.ID != created.ID || sess.State != signing.StatePending || !bytes.Equal(challenge, svc.Challenge(created)) {
		t.Fatalf("live event: %+v, %v", sess, err)
	}
	if n := st.reads.Load(); n != 0 {
		t.Fatalf("the session was read back %d time(s)", n)
	}
	if _, _, err := svc.DeviceSessionOf(ctx, &signing.Device{ID: "dev_x", UserID: "usr_other"}, ev); signing.ErrorCode(err) != signing.ENOTFOUND {
		t.Fatalf("another user's device: %v", err)
	}
	f.advance(10 * time.Minute)
	if sess, _, err := svc.DeviceSessionOf(ctx, f.dev, ev); err != nil || sess.State != signing.StateExpired {
		t.Fatalf("after expiry: %+v, %v", sess, err)
	}
}

// blockingNotifier holds every wake-up until released, counting those under way.
type blockingNotifier struct {
	started atomic.Int64
	release chan struct{}
}

func (n *blockingNotifier) Notify(ctx context.Context, _ *signing.Device, _ signing.WakeUp) signing.Delivery {
	n.started.Add(1)
	select {
	case <-n.release:
	case <-ctx.Done():
	}
	return signing.Delivery{Outcome: signing.DeliveryLogged, Attempts: 1}
}

// Wake-ups run on a few long-lived workers, but a slow push service never makes one wait
// for another: with every worker busy, each new wake-up still starts at once.
func TestWakeUpsNeverQueue(t *testing.T) {
	f := newFixture(t)
	n := &blockingNotifier{release: make(chan struct{})}
	svc := signing.NewService(f.store, f.keys, f.ca, n, bridge.Protocol{}, signing.Config{Now: f.Now, MaxPendingPerUser: 100})
	defer svc.Close()
	defer close(n.release) // before Close, which waits for the held wake-ups
	f.svc = svc
	const sessions = 40 // more than the workers
	for range sessions {
		f.createSession(t)
	}
	deadline := time.Now().Add(10 * time.Second)
	for n.started.Load() < sessions && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := n.started.Load(); got != sessions {
		t.Fatalf("%d of %d wake-ups started while the others were held", got, sessions)
	}
}

// A long-poll is handed the session that the final transition stored, without reading it
// back: one read when it starts, none when it wakes.
func TestLongPollWakesWithTheFinalSession(t *testing.T) {
	f := newFixture(t)
	st := f.countSessionReads(t)
	svc, ctx := f.svc, context.Background()
	s := f.createSession(t)
	type answer struct {
		sess *signing.Session
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		sess, err := svc.WaitSession(ctx, f.rp, s.ID, 30*time.Second)
		done <- answer{sess, err}
	}()
	for deadline := time.Now().Add(10 * time.Second); st.reads.Load() < 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) { // the long-poll subscribes, then reads the pending session
			t.Fatal("the long-poll never read its session")
		}
	}
	if _, err := svc.Decide(ctx, f.dev, s.ID, signing.Approve, "", f.approval(s)); err != nil {
		t.Fatal(err)
	}
	got := <-done
	if got.err != nil || got.sess.State != signing.StateSigned || len(got.sess.Documents[0].Signature) == 0 {
		t.Fatalf("long-poll answered %+v, %v", got.sess, got.err)
	}
	if n := st.reads.Load(); n != 2 { // the long-poll's first read and the decision's
		t.Fatalf("%d session reads, want 2", n)
	}
}
