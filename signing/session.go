package signing

import (
	"context"
	"crypto"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
)

// SessionRequest is a relying party's request for signatures.
type SessionRequest struct {
	NationalID         string
	UserID             string
	CredentialID       string
	HashAlgorithm      HashAlgorithm
	SignatureAlgorithm SignatureAlgorithm
	Documents          []Document
	DisplayText        string
	CallbackURL        string
	TTL                time.Duration // 0: the default
	Interaction        string        // "" or InteractionCodeChoice
}

// MultiSigner is implemented by signers that can sign several digests with one unwrap of
// the key. The domain prefers it for batches.
type MultiSigner interface {
	SignDigests(digests [][]byte, opts crypto.SignerOpts) ([][]byte, error)
}

func (s *Service) validateSessionRequest(req *SessionRequest) error {
	if (req.NationalID == "") == (req.UserID == "") {
		return Errorf(EINVALID, "give exactly one of nationalId and userId")
	}
	if req.HashAlgorithm.Hash() == 0 {
		return Errorf(EUNSUPPORTEDALGORITHM, "hashAlgorithm must be SHA-256, SHA-384 or SHA-512")
	}
	switch req.SignatureAlgorithm {
	case "", SigECDSA, SigRSAPSS, SigRSAPKCS1:
	default:
		return Errorf(EUNSUPPORTEDALGORITHM, "signatureAlgorithm must be ECDSA, RSASSA-PSS or RSASSA-PKCS1-v1_5")
	}
	if len(req.Documents) == 0 {
		return Errorf(EINVALID, "documents must hold at least one document")
	}
	if len(req.Documents) > MaxDocuments {
		return Errorf(ETOOMANYDOCUMENTS, "at most %d documents per session", MaxDocuments)
	}
	size := req.HashAlgorithm.Hash().Size()
	for i, d := range req.Documents {
		if err := checkText(fmt.Sprintf("documents[%d].label", i), d.Label, 1, 255); err != nil {
			return err
		}
		if len(d.Hash) != size {
			return Errorf(EINVALIDHASH, "documents[%d].hash is %d bytes; %s needs %d", i, len(d.Hash), req.HashAlgorithm, size)
		}
	}
	if err := checkText("displayText", req.DisplayText, 1, 200); err != nil {
		return err
	}
	if err := validateCallbackURL(req.CallbackURL); err != nil {
		return err
	}
	if req.Interaction != "" && req.Interaction != InteractionCodeChoice {
		return Errorf(EINVALID, "interaction must be %q or absent", InteractionCodeChoice)
	}
	if req.TTL == 0 {
		req.TTL = s.cfg.DefaultTTL
	}
	if req.TTL < MinTTL || req.TTL > MaxTTL {
		return Errorf(EINVALID, "ttlSeconds must be between 30 and 900")
	}
	return nil
}

// sessionUser returns the user a relying party names by id or national id. Returns
// EUSERNOTFOUND. Users never change once created, so a found user is kept a minute.
func (s *Service) sessionUser(ctx context.Context, id, nationalID string) (*User, error) {
	key, now := "n:"+nationalID, s.cfg.Now()
	if id != "" {
		key = "i:" + id
	}
	if u, ok := s.users.get(key, now); ok {
		return u, nil
	}
	var u *User
	var err error
	if id != "" {
		u, err = s.store.User(ctx, id)
	} else {
		u, err = s.store.UserByNationalID(ctx, nationalID)
	}
	if ErrorCode(err) == ENOTFOUND {
		return nil, Errorf(EUSERNOTFOUND, "no such user")
	}
	if err != nil {
		return nil, err
	}
	s.users.put(key, u, now)
	return u, nil
}

// pickCredential returns the credential the session will use: the named one, which must be
// the user's and usable now, or the user's newest usable credential. It chooses from a list
// kept 2 seconds (dropped at once when this process changes one of the user's credentials);
// signing reads the credential afresh and checks it again.
func (s *Service) pickCredential(ctx context.Context, u *User, id string) (*Credential, error) {
	now := s.cfg.Now()
	creds, ok := s.userCreds.get(u.ID, now)
	if !ok {
		var err error
		if creds, err = s.store.CredentialsByUser(ctx, u.ID); err != nil {
			return nil, err
		}
		for _, c := range creds {
			c.WrappedKey, c.CSR = nil, nil // what is kept in memory holds no key material
		}
		s.userCreds.put(u.ID, creds, now)
	}
	for i := len(creds) - 1; i >= 0; i-- {
		c := creds[i]
		switch {
		case id != "" && c.ID == id:
			return c, s.usableNow(c) // says why a named credential cannot sign
		case id == "" && s.usableNow(c) == nil:
			return c, nil
		}
	}
	if id != "" {
		return nil, Errorf(ENOACTIVECREDENTIAL, "credential %q is not a credential of this user", id)
	}
	return nil, Errorf(ENOACTIVECREDENTIAL, "the user has no usable credential (active, with a currently valid certificate)")
}

func defaultSignatureAlgorithm(k KeyAlgorithm, a SignatureAlgorithm) (SignatureAlgorithm, error) {
	switch {
	case a == "" && k.IsRSA():
		return SigRSAPSS, nil
	case a == "":
		return SigECDSA, nil
	case k.IsRSA() && (a == SigRSAPSS || a == SigRSAPKCS1), !k.IsRSA() && a == SigECDSA:
		return a, nil
	}
	return "", Errorf(EUNSUPPORTEDALGORITHM, "signatureAlgorithm %s does not fit a %s key", a, k)
}

// CreateSession stores a pending session and wakes the user's devices. With an idempotency
// key, a repeat of the same request returns the first session. Returns EINVALID,
// EINVALIDHASH, ETOOMANYDOCUMENTS, EUNSUPPORTEDALGORITHM, EUSERNOTFOUND,
// ENOACTIVECREDENTIAL, ENOACTIVEDEVICE, EIDEMPOTENCYCONFLICT, ETOOMANYPENDING.
func (s *Service) CreateSession(ctx context.Context, rp *RelyingParty, req SessionRequest, idem Idempotency) (*Session, error) {
	if err := s.validateSessionRequest(&req); err != nil {
		return nil, err
	}
	u, err := s.sessionUser(ctx, req.UserID, req.NationalID)
	if err != nil {
		return nil, err
	}
	cred, err := s.pickCredential(ctx, u, req.CredentialID)
	if err != nil {
		return nil, err
	}
	sigAlg, err := defaultSignatureAlgorithm(cred.KeyAlgorithm, req.SignatureAlgorithm)
	if err != nil {
		return nil, err
	}
	devices, err := s.activeDevices(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if len(devices) == 0 {
		return nil, Errorf(ENOACTIVEDEVICE, "the user has no active device")
	}
	id, err := NewSessionID(s.cfg.Now(), s.cfg.Rand)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now().UTC()
	docs := make([]Document, len(req.Documents))
	hashes := make([][]byte, len(req.Documents))
	for i, d := range req.Documents {
		docs[i] = Document{Label: d.Label, Hash: d.Hash}
		hashes[i] = d.Hash
	}
	sess := &Session{
		ID: id, RelyingPartyID: rp.ID, RelyingPartyName: rp.Name, UserID: u.ID, CredentialID: cred.ID,
		HashAlgorithm: req.HashAlgorithm, SignatureAlgorithm: sigAlg, Documents: docs,
		DisplayText: req.DisplayText, CallbackURL: req.CallbackURL, VerificationCode: VerificationCode(hashes),
		State: StatePending, CreatedAt: now, ExpiresAt: now.Add(req.TTL).Truncate(time.Second),
		Interaction: req.Interaction,
	}
	if req.Interaction == InteractionCodeChoice {
		if sess.CodeChoices, err = s.codeChoices(sess.VerificationCode); err != nil {
			return nil, err
		}
	}
	opts := CreateSessionOptions{Idempotency: idem, MaxOpenPerUser: s.cfg.MaxPendingPerUser, Now: now}
	stored, created, err := s.store.CreateSession(ctx, sess, opts,
		s.audit("rp:"+rp.ID, "session.created", id, fmt.Sprintf("user=%s credential=%s documents=%d", u.ID, cred.ID, len(docs))))
	if err != nil {
		return nil, err
	}
	if created {
		s.events.publish(stored.UserID, EventSessionCreated, stored)
		s.notifyDevices(devices, stored)
	}
	return stored, nil
}

// codeChoices returns the real code and two different decoys in random order.
func (s *Service) codeChoices(real string) ([]string, error) {
	choices := []string{real}
	b := make([]byte, 2)
	for len(choices) < 3 {
		if _, err := io.ReadFull(s.cfg.Rand, b); err != nil {
			return nil, fmt.Errorf("read random: %w", err)
		}
		c := fmt.Sprintf("%04d", binary.BigEndian.Uint16(b)%10000)
		if !slices.Contains(choices, c) {
			choices = append(choices, c)
		}
	}
	if _, err := io.ReadFull(s.cfg.Rand, b); err != nil {
		return nil, fmt.Errorf("read random: %w", err)
	}
	i := int(b[0]) % 3
	choices[0], choices[i] = choices[i], choices[0]
	return choices, nil
}

// activeDevices lists the user's active devices. A change made by this process applies at
// once; one made by another process (an enrolment, a revocation, a new push token) within
// 2 seconds.
func (s *Service) activeDevices(ctx context.Context, userID string) ([]*Device, error) {
	now := s.cfg.Now()
	if active, ok := s.userDevs.get(userID, now); ok {
		return active, nil
	}
	all, err := s.store.DevicesByUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	active := all[:0]
	for _, d := range all {
		if d.Status == DeviceActive {
			active = append(active, d)
		}
	}
	s.userDevs.put(userID, active, now)
	return active, nil
}

// notifyDevices wakes every device in the background, never past the session's expiry: a
// push never holds up the relying party, and a push failure never fails a session (devices
// also pull). Each outcome is recorded on the session; a dead token is retired.
func (s *Service) notifyDevices(devices []*Device, sess *Session) {
	w := WakeUp{SessionID: sess.ID, ExpiresAt: sess.ExpiresAt}
	for _, d := range devices {
		s.push(func(ctx context.Context) {
			ctx, cancel := context.WithDeadline(ctx, sess.ExpiresAt)
			defer cancel()
			del := s.notifier.Notify(ctx, d, w)
			del.DeviceID, del.At = d.ID, s.cfg.Now().UTC()
			if del.Outcome == DeliveryFailed {
				s.log.Warn("push failed; the device can still pull", "session", sess.ID, "device", d.ID, "attempts", del.Attempts, "detail", del.Detail)
			}
			s.recordDelivery(context.WithoutCancel(ctx), sess.ID, d, del)
		})
	}
}

// recordDelivery keeps a push outcome on the session and retires a dead token. The token is
// retired before the outcome is recorded, so an operator who sees "unregistered" on a session
// never sees the dead token still on the device. The development log sender's outcome is not
// kept: its log line is the record, and a durable write per device and session would be pure
// cost.
func (s *Service) recordDelivery(ctx context.Context, sessionID string, d *Device, del Delivery) {
	if del.Outcome == DeliveryLogged {
		return
	}
	if del.Outcome == DeliveryUnregistered {
		s.retirePushToken(ctx, d)
	}
	_, err := s.store.UpdateSession(ctx, sessionID, func(cur *Session) (AuditRecord, error) {
		cur.Deliveries = append(cur.Deliveries, del)
		return AuditRecord{}, nil
	})
	if err != nil {
		s.log.Error("record push delivery", "session", sessionID, "device", d.ID, "error", err)
	}
}

// retirePushToken removes exactly the token that failed: a newer one the app registered
// meanwhile stays.
func (s *Service) retirePushToken(ctx context.Context, d *Device) {
	_, err := s.store.UpdateDevice(ctx, d.ID, func(cur *Device) error {
		if cur.PushToken != d.PushToken {
			return errUnchanged
		}
		cur.PushToken = ""
		return nil
	}, s.audit("system", "device.push_token_retired", d.ID, "the push service reported it unregistered"))
	switch {
	case err == nil:
		s.devices.drop(d.ID)
		s.userDevs.drop(d.UserID)
		s.log.Info("push token retired; the device falls back to pull", "device", d.ID)
	case !isUnchanged(err):
		s.log.Error("retire push token", "device", d.ID, "error", err)
	}
}

// SessionForRelyingParty returns the relying party's session, expiring it first if its time
// is up. Returns ENOTFOUND for a session of another relying party.
func (s *Service) SessionForRelyingParty(ctx context.Context, rp *RelyingParty, id string) (*Session, error) {
	sess, err := s.loadSession(ctx, id)
	if err != nil {
		return nil, err
	}
	if sess.RelyingPartyID != rp.ID {
		return nil, Errorf(ENOTFOUND, "no session %q", id)
	}
	return sess, nil
}

// WaitSession is SessionForRelyingParty that, while the session is not final, waits up to
// wait for it to become final.
func (s *Service) WaitSession(ctx context.Context, rp *RelyingParty, id string, wait time.Duration) (*Session, error) {
	sub := s.hub.subscribe(id)
	defer s.hub.unsubscribe(id, sub)
	sess, err := s.SessionForRelyingParty(ctx, rp, id)
	if err != nil || sess.State.Final() || wait <= 0 {
		return sess, err
	}
	// Never wait past the session's expiry: the sweeper may be slower than the deadline.
	if until := sess.ExpiresAt.Sub(s.cfg.Now()) + 10*time.Millisecond; until < wait && sess.State == StatePending {
		wait = max(until, 0)
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return sess, nil
	case final := <-sub:
		return final, nil // the relying party's own session: checked by the first read
	case <-s.draining:
	case <-timer.C:
	}
	return s.SessionForRelyingParty(ctx, rp, id)
}

// loadSession reads a session and, if it is pending past its expiry, expires it.
func (s *Service) loadSession(ctx context.Context, id string) (*Session, error) {
	sess, err := s.store.Session(ctx, id)
	if err != nil {
		return nil, err
	}
	if sess.State == StatePending && !s.cfg.Now().Before(sess.ExpiresAt) {
		return s.expire(ctx, id)
	}
	return sess, nil
}

// Challenge returns the canonical bytes a device signs to decide on sess.
func (s *Service) Challenge(sess *Session) []byte { return s.approvals.Challenge(sess) }

// PendingSessions lists the pending sessions of the device's user.
func (s *Service) PendingSessions(ctx context.Context, dev *Device) ([]*Session, error) {
	open, err := s.store.OpenSessionsByUser(ctx, dev.UserID)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	out := make([]*Session, 0, len(open))
	for _, sess := range open {
		if sess.State == StatePending && now.Before(sess.ExpiresAt) {
			out = append(out, sess)
		}
	}
	return out, nil
}

// DeviceSession returns a session of the device's user with its challenge.
// Returns ENOTFOUND for a session of another user.
func (s *Service) DeviceSession(ctx context.Context, dev *Device, id string) (*Session, []byte, error) {
	sess, err := s.loadSession(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if sess.UserID != dev.UserID {
		return nil, nil, Errorf(ENOTFOUND, "no session %q", id)
	}
	return sess, s.approvals.Challenge(sess), nil
}

// DeviceSessionOf is DeviceSession for the session an event is about: a live creation
// event already holds the session as stored, and it is used unless its time is up.
func (s *Service) DeviceSessionOf(ctx context.Context, dev *Device, ev Event) (*Session, []byte, error) {
	if sess := ev.created; sess != nil && sess.UserID == dev.UserID && s.cfg.Now().Before(sess.ExpiresAt) {
		return sess, s.approvals.Challenge(sess), nil
	}
	return s.DeviceSession(ctx, dev, ev.SessionID)
}

// Decide records the user's decision, proven by the device's signature over the session's
// challenge and the decision word, and on approval signs the session's hashes. In the
// code-choice interaction an approval carries the code the user picked; a wrong pick
// declines the session with WRONG_VERIFICATION_CODE. Returns ENOTFOUND,
// ESESSIONNOTPENDING, ESESSIONEXPIRED, EINVALIDSIGNATURE, EINVALID.
func (s *Service) Decide(ctx context.Context, dev *Device, id string, decision Decision, pickedCode string, sig []byte) (*Session, error) {
	if decision != Approve && decision != Decline {
		return nil, Errorf(EINVALID, `decision must be "approve" or "decline"`)
	}
	if decision == Decline {
		pickedCode = ""
	}
	sess, challenge, err := s.DeviceSession(ctx, dev, id)
	if err != nil {
		return nil, err
	}
	switch {
	case sess.State == StateExpired:
		return nil, Errorf(ESESSIONEXPIRED, "the session has expired")
	case sess.State != StatePending:
		return nil, Errorf(ESESSIONNOTPENDING, "the session is %s", sess.State)
	}
	choice := sess.Interaction == InteractionCodeChoice
	switch {
	case choice && decision == Approve && !slices.Contains(sess.CodeChoices, pickedCode):
		return nil, Errorf(EINVALID, "verificationCode must be one of the three codes shown")
	case !choice && pickedCode != "":
		return nil, Errorf(EINVALID, "verificationCode is only sent in the verificationCodeChoice interaction")
	}
	if err := s.approvals.VerifyDecision(dev.PublicKey, challenge, DecisionWord(decision, pickedCode), sig); err != nil {
		return nil, err
	}
	// From here the user's decision is proven: record it and finish the signing even if the
	// device disconnects meanwhile, so no session is left half-done.
	ctx = context.WithoutCancel(ctx)
	now := s.cfg.Now().UTC()
	sess, err = s.store.UpdateSession(ctx, id, func(cur *Session) (AuditRecord, error) {
		if cur.State != StatePending {
			return AuditRecord{}, Errorf(ESESSIONNOTPENDING, "the session is %s", cur.State)
		}
		if !now.Before(cur.ExpiresAt) {
			return AuditRecord{}, Errorf(ESESSIONEXPIRED, "the session has expired")
		}
		cur.Approval = &Approval{DeviceID: dev.ID, Decision: decision, PickedCode: pickedCode, Challenge: challenge, Signature: sig, At: now}
		if decision == Approve && choice && pickedCode != cur.VerificationCode {
			cur.State, cur.CompletedAt = StateDeclined, now
			cur.Error = &SessionError{Code: EWRONGCODE, Detail: "the user picked another verification code than the one shown by the relying party"}
			return s.audit("device:"+dev.ID, "session.declined", cur.ID, "wrong verification code picked"), nil
		}
		if decision == Decline {
			cur.State, cur.CompletedAt = StateDeclined, now
			cur.Error = &SessionError{Code: "DECLINED", Detail: "the user declined the request"}
			return s.audit("device:"+dev.ID, "session.declined", cur.ID, ""), nil
		}
		cur.State = StateApproved
		return s.audit("device:"+dev.ID, "session.approved", cur.ID, ""), nil
	})
	if err != nil {
		return nil, err
	}
	if sess.State == StateApproved {
		// No event for "approved": it lasts one signature and a durable write, and the final
		// state's event follows — one wake-up per session for the user's other devices.
		return s.sign(ctx, sess)
	}
	s.finished(sess)
	return sess, nil
}

// sign uses the credential's key on exactly the approved hashes and stores the result.
func (s *Service) sign(ctx context.Context, sess *Session) (*Session, error) {
	sigs, signErr := s.signDigests(ctx, sess)
	now := s.cfg.Now().UTC()
	out, err := s.store.UpdateSession(ctx, sess.ID, func(cur *Session) (AuditRecord, error) {
		if cur.State != StateApproved {
			return AuditRecord{}, Errorf(ESESSIONNOTPENDING, "the session is %s", cur.State)
		}
		cur.CompletedAt = now
		if signErr != nil {
			cur.State = StateFailed
			cur.Error = &SessionError{Code: ErrorCode(signErr), Detail: ErrorMessage(signErr)}
			return s.audit("system", "session.failed", cur.ID, cur.Error.Code), nil
		}
		cur.State = StateSigned
		for i := range cur.Documents {
			cur.Documents[i].Signature = sigs[i]
		}
		return s.audit("system", "session.signed", cur.ID, fmt.Sprintf("credential=%s documents=%d", cur.CredentialID, len(sigs))), nil
	})
	if err != nil {
		return nil, err
	}
	if signErr != nil {
		s.log.Error("signing failed", "session", sess.ID, "credential", sess.CredentialID, "error", signErr)
	}
	s.finished(out)
	return out, nil
}

func (s *Service) signDigests(ctx context.Context, sess *Session) ([][]byte, error) {
	cred, err := s.store.Credential(ctx, sess.CredentialID)
	if err != nil {
		return nil, fmt.Errorf("load credential %s: %w", sess.CredentialID, err)
	}
	if err := s.usableNow(cred); err != nil {
		return nil, err // checked again at the moment of signing: it may have changed since
	}
	cert, err := s.parsedCertificate(cred)
	if err != nil {
		return nil, fmt.Errorf("parse certificate of credential %s: %w", cred.ID, err)
	}
	signer, err := s.keys.Signer(ctx, cred.WrappedKey, cred.ID, cred.UserID, cert.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("open key of credential %s: %w", cred.ID, err)
	}
	h := sess.HashAlgorithm.Hash()
	opts := signerOpts(sess.SignatureAlgorithm, h)
	digests := make([][]byte, len(sess.Documents))
	for i, d := range sess.Documents {
		digests[i] = d.Hash
	}
	var sigs [][]byte
	if ms, ok := signer.(MultiSigner); ok {
		sigs, err = ms.SignDigests(digests, opts)
	} else {
		sigs = make([][]byte, len(digests))
		for i, d := range digests {
			if sigs[i], err = signer.Sign(s.cfg.Rand, d, opts); err != nil {
				break
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("sign with credential %s: %w", cred.ID, err)
	}
	for i := range sigs {
		if err := verifySessionSignature(cert.PublicKey, sess.SignatureAlgorithm, h, digests[i], sigs[i]); err != nil {
			return nil, fmt.Errorf("credential %s produced a signature that does not verify: %w", cred.ID, err)
		}
	}
	return sigs, nil
}

// expire moves a pending session past its expiry to expired.
func (s *Service) expire(ctx context.Context, id string) (*Session, error) {
	now := s.cfg.Now().UTC()
	changed := false
	sess, err := s.store.UpdateSession(ctx, id, func(cur *Session) (AuditRecord, error) {
		changed = false
		if cur.State != StatePending || now.Before(cur.ExpiresAt) {
			return AuditRecord{}, errUnchanged
		}
		changed = true
		cur.State, cur.CompletedAt = StateExpired, now
		cur.Error = &SessionError{Code: ESESSIONEXPIRED, Detail: "the user did not answer in time"}
		return s.audit("system", "session.expired", cur.ID, ""), nil
	})
	if isUnchanged(err) {
		return s.store.Session(ctx, id)
	}
	if err != nil {
		return nil, err
	}
	if changed {
		s.finished(sess)
	}
	return sess, nil
}

// errUnchanged is returned by update functions that find nothing to do; callers that pass
// such a function treat it as success. It never reaches a client.
var errUnchanged = errors.New("unchanged")

func isUnchanged(err error) bool { return errors.Is(err, errUnchanged) }

// finished wakes waiters and starts the callback of a session that reached a final state.
func (s *Service) finished(sess *Session) {
	s.hub.publish(sess)
	s.events.publish(sess.UserID, EventSessionUpdated, sess)
	_ = s.startCallback(sess)
}

// startCallback delivers an owed callback in the background, unless this process already
// is; it reports whether it started one.
func (s *Service) startCallback(sess *Session) bool {
	if !sess.CallbackOwed() || s.cfg.CallbackSender == nil {
		return false
	}
	s.callbacksMu.Lock()
	defer s.callbacksMu.Unlock()
	if s.callbacks[sess.ID] {
		return false
	}
	s.callbacks[sess.ID] = true
	s.background(func(ctx context.Context) {
		s.deliverCallback(ctx, sess)
		s.callbacksMu.Lock()
		delete(s.callbacks, sess.ID)
		s.callbacksMu.Unlock()
	})
	return true
}

// Sweep expires pending sessions whose time is up and completes approved sessions whose
// signing was interrupted by a previous process's stop. It returns how many it handled.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	due, err := s.store.SessionsDue(ctx, s.cfg.Now(), 500)
	if err != nil {
		return 0, fmt.Errorf("list due sessions: %w", err)
	}
	n := 0
	for _, sess := range due {
		switch {
		case sess.State == StatePending:
			_, err = s.expire(ctx, sess.ID)
		case sess.State == StateApproved && sess.Approval != nil && sess.Approval.At.Before(s.started):
			// Approved by the user before this process started: its signing never finished.
			_, err = s.sign(ctx, sess)
		case sess.CallbackOwed() && sess.CompletedAt.Before(s.started):
			// Finished before this process started, and its callback was never delivered.
			if !s.startCallback(sess) {
				continue
			}
		default:
			continue
		}
		if err != nil {
			return n, fmt.Errorf("sweep session %s: %w", sess.ID, err)
		}
		n++
	}
	return n, nil
}

// RunSweeper calls Sweep every interval until ctx ends.
func (s *Service) RunSweeper(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("sweeper", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// deliverCallback posts the final session to the relying party until it succeeds or the
// retry time is spent, then records the delivery.
func (s *Service) deliverCallback(ctx context.Context, sess *Session) {
	rp, err := s.store.RelyingParty(ctx, sess.RelyingPartyID)
	if err != nil {
		s.log.Error("callback: load relying party", "session", sess.ID, "error", err)
		return
	}
	cred, err := s.store.Credential(ctx, sess.CredentialID)
	if err != nil {
		s.log.Error("callback: load credential", "session", sess.ID, "error", err)
		return
	}
	secret, err := s.keys.Open(rp.SealedCallbackSecret, "callback-secret:"+rp.ID)
	if err != nil {
		s.log.Error("callback: open secret", "session", sess.ID, "error", err)
		return
	}
	defer clear(secret)
	deadline := time.Now().Add(s.cfg.CallbackRetryFor)
	backoff := s.cfg.CallbackBackoff
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = s.cfg.CallbackSender.SendCallback(actx, sess.CallbackURL, sess, cred, secret)
		cancel()
		if err == nil {
			break
		}
		if time.Now().Add(backoff).After(deadline) || !time.Now().Before(sess.CompletedAt.Add(s.cfg.CallbackRetryFor)) {
			s.log.Warn("callback abandoned; the relying party can still read the session", "session", sess.ID, "attempts", attempt, "error", err)
			_, err = s.store.UpdateSession(context.WithoutCancel(ctx), sess.ID, func(cur *Session) (AuditRecord, error) {
				cur.CallbackAbandoned = true
				return s.audit("system", "session.callback_abandoned", cur.ID, fmt.Sprintf("attempts=%d", attempt)), nil
			})
			if err != nil {
				s.log.Error("callback: record abandonment", "session", sess.ID, "error", err)
			}
			return
		}
		s.log.Info("callback failed; will retry", "session", sess.ID, "attempt", attempt, "retryIn", backoff, "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
	_, err = s.store.UpdateSession(ctx, sess.ID, func(cur *Session) (AuditRecord, error) {
		cur.CallbackDelivered = true
		return s.audit("system", "session.callback_delivered", cur.ID, ""), nil
	})
	if err != nil {
		s.log.Error("callback: record delivery", "session", sess.ID, "error", err)
	}
}

// certChain is a credential's certificate and chain, for views.
type certChain struct {
	cert  []byte
	chain [][]byte
}

// CertificateOf returns the certificate and chain of the credential a session signs with,
// for showing it (not for deciding whether it may sign: that reads the store).
func (s *Service) CertificateOf(ctx context.Context, sess *Session) (cert []byte, chain [][]byte, err error) {
	now := s.cfg.Now()
	if cc, ok := s.certs.get(sess.CredentialID, now); ok {
		return cc.cert, cc.chain, nil
	}
	c, err := s.store.Credential(ctx, sess.CredentialID)
	if err != nil {
		return nil, nil, err
	}
	if len(c.Certificate) > 0 { // once set, a certificate never changes
		s.certs.put(c.ID, certChain{c.Certificate, c.Chain}, now)
	}
	return c.Certificate, c.Chain, nil
}

// SubscribeEvents subscribes a device to its user's session events. If lastEventID is still
// in the backlog, replay holds what the device missed and resumed is true; otherwise the
// device needs a snapshot of PendingSessions, whose resume point is SnapshotEventID.
func (s *Service) SubscribeEvents(dev *Device, lastEventID string) (sub *Subscription, replay []Event, resumed bool) {
	return s.events.subscribe(dev.UserID, lastEventID, s.cfg.Now())
}

// SnapshotEventID is the id to give a snapshot taken now.
func (s *Service) SnapshotEventID() string { return s.events.head() }
