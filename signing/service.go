package signing

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Config holds the optional settings of a Service. The zero value of each field means the
// documented default.
type Config struct {
	// Now returns the current time. Default: time.Now.
	Now func() time.Time
	// Rand is the source of randomness for ids, secrets and signatures. Default: crypto/rand.
	Rand io.Reader
	// Logger receives operational log lines; it never receives secrets. Default: discard.
	Logger *slog.Logger
	// DefaultTTL is a session's lifetime when the request names none. Default: 300 s.
	DefaultTTL time.Duration
	// ActivationTTL is an activation code's lifetime when the operator names none. Default: 600 s.
	ActivationTTL time.Duration
	// MaxActivationFailures is how many wrong guesses kill an activation code. Default: 5.
	MaxActivationFailures int
	// CallbackSender posts final sessions to relying parties' callback URLs. Default: none
	// (callbacks are not sent).
	CallbackSender CallbackSender
	// CallbackRetryFor bounds how long a failing callback is retried. Default: 10 minutes.
	CallbackRetryFor time.Duration
	// CallbackBackoff is the first retry delay, doubled after each failure up to 30 s.
	// Default: 1 s.
	CallbackBackoff time.Duration
	// MaxPendingPerUser bounds a user's unanswered sessions (against push fatigue).
	// Default: 5.
	MaxPendingPerUser int
	// Rotation manages the KEK (rotate, rewrap, disable). Default: none; the KEK endpoints
	// answer that rotation is not supported.
	Rotation KeyRotation
	// KeyHolders hold wrapped keys outside the store (the development CA). Default: none.
	KeyHolders []KeyHolder
	// ExternalCA makes CSRs and verifies imported chains, for credentials certified by a
	// licensed CA. Default: none; such credentials are refused.
	ExternalCA ExternalCA
}

// CallbackSender makes one attempt to deliver a final session to url, authenticated with
// the relying party's secret.
type CallbackSender interface {
	SendCallback(ctx context.Context, url string, s *Session, c *Credential, secret []byte) error
}

// Session TTL limits.
const (
	MinTTL = 30 * time.Second
	MaxTTL = 900 * time.Second
)

// Service is the signing domain: every use case of operators, relying parties and devices.
type Service struct {
	store     Store
	keys      Keys
	issuer    Issuer
	notifier  Notifier
	approvals ApprovalVerifier
	cfg       Config
	log       *slog.Logger
	started   time.Time
	hub       hub
	events    *events

	draining  chan struct{}
	drainOnce sync.Once

	// Caches of records every request needs (see ttlCache).
	rpByKey   *ttlCache[*RelyingParty] // by API-key hash
	devices   *ttlCache[*Device]       // active devices by id
	certs     *ttlCache[certChain]     // certificates by credential id (immutable once set)
	parsed    *ttlCache[*x509.Certificate]
	users     *ttlCache[*User]         // by "i:"+id and "n:"+national id; users never change
	userCreds *ttlCache[[]*Credential] // a user's credentials without keys, to choose one
	userDevs  *ttlCache[[]*Device]     // a user's active devices, to wake them
	rewrapJob rewrapJob

	callbacksMu sync.Mutex
	callbacks   map[string]bool // sessions whose callback this process is delivering

	bg       sync.WaitGroup
	bgCtx    context.Context
	bgCancel context.CancelFunc

	pushOnce    sync.Once
	pushWorkers chan func(ctx context.Context) // idle push workers take work here
}

// NewService returns a Service over its required dependencies.
func NewService(store Store, keys Keys, issuer Issuer, notifier Notifier, approvals ApprovalVerifier, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.DefaultTTL == 0 {
		cfg.DefaultTTL = 300 * time.Second
	}
	if cfg.ActivationTTL == 0 {
		cfg.ActivationTTL = 600 * time.Second
	}
	if cfg.MaxActivationFailures == 0 {
		cfg.MaxActivationFailures = 5
	}
	if cfg.CallbackRetryFor == 0 {
		cfg.CallbackRetryFor = 10 * time.Minute
	}
	if cfg.CallbackBackoff == 0 {
		cfg.CallbackBackoff = time.Second
	}
	if cfg.MaxPendingPerUser == 0 {
		cfg.MaxPendingPerUser = 5
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Service{
		store: store, keys: keys, issuer: issuer, notifier: notifier, approvals: approvals,
		cfg: cfg, log: cfg.Logger, started: cfg.Now(), hub: newHub(), events: newEvents(), draining: make(chan struct{}), callbacks: map[string]bool{},
		rpByKey: newTTLCache[*RelyingParty](30*time.Second, 10_000), devices: newTTLCache[*Device](2*time.Second, 100_000),
		certs: newTTLCache[certChain](10*time.Minute, 100_000), parsed: newTTLCache[*x509.Certificate](10*time.Minute, 100_000),
		users: newTTLCache[*User](time.Minute, 100_000), userCreds: newTTLCache[[]*Credential](2*time.Second, 100_000),
		userDevs: newTTLCache[[]*Device](2*time.Second, 100_000), bgCtx: ctx, bgCancel: cancel,
	}
}

// Drain answers every waiting long-poll at once with the session's current state, and makes
// new ones answer without waiting. A server calls it when it begins to stop.
func (s *Service) Drain() { s.drainOnce.Do(func() { close(s.draining) }) }

// Draining is closed when the server begins to stop; long-lived requests end on it.
func (s *Service) Draining() <-chan struct{} { return s.draining }

// Close stops background work (notifications, callbacks) and waits for it to end.
func (s *Service) Close() {
	s.bgCancel()
	s.bg.Wait()
}

// background runs fn in a goroutine that Close waits for.
func (s *Service) background(fn func(ctx context.Context)) {
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		fn(s.bgCtx)
	}()
}

// pushWorkerCount is how many long-lived goroutines wait to send wake-ups.
const pushWorkerCount = 16

// push runs fn, a wake-up, on an idle push worker, or on a goroutine of its own when all
// are busy: a slow push service never holds up a session, and a burst is never queued.
// The workers live as long as the service, so their stacks, grown by the push client and
// the logger, are not grown again for every wake-up as a new goroutine's would be.
func (s *Service) push(fn func(ctx context.Context)) {
	s.pushOnce.Do(func() {
		s.pushWorkers = make(chan func(ctx context.Context))
		for range pushWorkerCount {
			s.background(func(ctx context.Context) {
				for {
					select {
					case <-ctx.Done():
						return
					case job := <-s.pushWorkers:
						job(ctx)
					}
				}
			})
		}
	})
	select {
	case s.pushWorkers <- fn:
	default:
		s.background(fn)
	}
}

var (
	idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)
	// sortableIDEncoding keeps the byte order: its alphabet is in ASCII order.
	sortableIDEncoding = base32.HexEncoding.WithPadding(base32.NoPadding)
)

// newID returns prefix + 16 random base32 characters (80 bits).
func (s *Service) newID(prefix string) (string, error) {
	b := make([]byte, 10)
	if _, err := io.ReadFull(s.cfg.Rand, b); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	return prefix + idEncoding.EncodeToString(b), nil
}

// NewSessionID returns "ses_" + 26 base32hex characters: the creation time in milliseconds
// (48 bits) and 80 bits from random, so that ids sort by creation. A session is written
// three times within seconds of its creation; with ids in time order those writes land on
// the store's few newest pages instead of a random page each, which cut the bytes written
// per transaction by two thirds and the store's CPU by more than half
// (boltstore.BenchmarkSessionLifecycle).
func NewSessionID(now time.Time, random io.Reader) (string, error) {
	var b [16]byte
	ms := uint64(now.UnixMilli())
	binary.BigEndian.PutUint16(b[0:], uint16(ms>>32))
	binary.BigEndian.PutUint32(b[2:], uint32(ms))
	if _, err := io.ReadFull(random, b[6:]); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	return "ses_" + sortableIDEncoding.EncodeToString(b[:]), nil
}

// newSecret returns prefix + a random 256-bit secret, base32.
func (s *Service) newSecret(prefix string) (Secret, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(s.cfg.Rand, b); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	return Secret(prefix + idEncoding.EncodeToString(b)), nil
}

func (s *Service) audit(actor, action, subject, detail string) AuditRecord {
	return AuditRecord{Time: s.cfg.Now().UTC(), Actor: actor, Action: action, Subject: subject, Detail: detail}
}

// ---- Callers ---------------------------------------------------------------------------

// BootstrapOperator creates the first operator (role admin) if none exists and returns its
// token; created is false, and the token empty, when an operator already exists.
func (s *Service) BootstrapOperator(ctx context.Context) (token Secret, created bool, err error) {
	id, err := s.newID("op_")
	if err != nil {
		return "", false, err
	}
	token, err = s.newSecret("kyso_op_")
	if err != nil {
		return "", false, err
	}
	op := &Operator{ID: id, Role: RoleAdmin, TokenHash: token.Hash(), CreatedAt: s.cfg.Now().UTC()}
	created, err = s.store.CreateOperator(ctx, op, true, s.audit("system", "operator.created", id, "role=admin"))
	if err != nil || !created {
		return "", false, err
	}
	return token, true, nil
}

// AuthenticateOperator returns the operator holding token. Returns EUNAUTHENTICATED otherwise.
func (s *Service) AuthenticateOperator(ctx context.Context, token Secret) (*Operator, error) {
	op, err := s.store.OperatorByTokenHash(ctx, token.Hash())
	if ErrorCode(err) == ENOTFOUND || (err == nil && !token.MatchesHash(op.TokenHash)) {
		return nil, Errorf(EUNAUTHENTICATED, "unknown operator token")
	}
	return op, err
}

// AuthenticateRelyingParty returns the relying party holding apiKey. Returns EUNAUTHENTICATED.
func (s *Service) AuthenticateRelyingParty(ctx context.Context, apiKey Secret) (*RelyingParty, error) {
	h := apiKey.Hash()
	now := s.cfg.Now()
	if rp, ok := s.rpByKey.get(string(h), now); ok {
		return rp, nil
	}
	rp, err := s.store.RelyingPartyByKeyHash(ctx, h)
	if ErrorCode(err) == ENOTFOUND || (err == nil && !apiKey.MatchesHash(rp.APIKeyHash)) {
		return nil, Errorf(EUNAUTHENTICATED, "unknown API key")
	}
	if err != nil {
		return nil, err
	}
	s.rpByKey.put(string(h), rp, now)
	return rp, nil
}

// AuthenticateDevice returns the active device with id. Returns EUNAUTHENTICATED if the
// device is unknown or revoked. A revocation made by this process applies at once; one made
// by another process within 2 seconds.
func (s *Service) AuthenticateDevice(ctx context.Context, id string) (*Device, error) {
	now := s.cfg.Now()
	if d, ok := s.devices.get(id, now); ok {
		return d, nil
	}
	d, err := s.store.Device(ctx, id)
	if ErrorCode(err) == ENOTFOUND || (err == nil && d.Status != DeviceActive) {
		return nil, Errorf(EUNAUTHENTICATED, "unknown or revoked device")
	}
	if err != nil {
		return nil, err
	}
	s.devices.put(id, d, now)
	return d, nil
}

// TouchDevice records that an authenticated device was seen, at most once a minute.
func (s *Service) TouchDevice(ctx context.Context, d *Device) (*Device, error) {
	now := s.cfg.Now().UTC()
	if now.Sub(d.LastSeenAt) < time.Minute {
		return d, nil
	}
	defer s.devices.drop(d.ID)
	return s.store.UpdateDevice(ctx, d.ID, func(d *Device) error {
		d.LastSeenAt = now
		return nil
	}, AuditRecord{})
}

// ---- Operator use cases ---------------------------------------------------------------------

// CanWrite reports whether op may change users, devices and relying parties.
func (op *Operator) CanWrite() bool { return op.Role == RoleAdmin || op.Role == RoleOperator }

func requireWrite(op *Operator) error {
	if !op.CanWrite() {
		return Errorf(EFORBIDDEN, "role %s may not make changes", op.Role)
	}
	return nil
}

// UserInput is what an operator gives to enrol a user.
type UserInput struct {
	NationalID, DisplayName, Phone, Email, Organization string
}

// CreateUser enrols a user. Returns EINVALID for bad input, EUSEREXISTS if the national id is
// taken, EFORBIDDEN for an auditor.
func (s *Service) CreateUser(ctx context.Context, op *Operator, in UserInput) (*User, error) {
	if err := requireWrite(op); err != nil {
		return nil, err
	}
	if err := validateUser(in); err != nil {
		return nil, err
	}
	id, err := s.newID("usr_")
	if err != nil {
		return nil, err
	}
	u := &User{ID: id, NationalID: in.NationalID, DisplayName: in.DisplayName, Phone: in.Phone,
		Email: in.Email, Organization: in.Organization, CreatedAt: s.cfg.Now().UTC()}
	if err := s.store.CreateUser(ctx, u, s.audit("operator:"+op.ID, "user.created", id, "")); err != nil {
		return nil, err
	}
	return u, nil
}

// User returns a user by id. Returns EUSERNOTFOUND.
func (s *Service) User(ctx context.Context, id string) (*User, error) {
	u, err := s.store.User(ctx, id)
	if ErrorCode(err) == ENOTFOUND {
		return nil, Errorf(EUSERNOTFOUND, "no user %q", id)
	}
	return u, err
}

// FindUsers returns the users with the national id (zero or one).
func (s *Service) FindUsers(ctx context.Context, nationalID string) ([]*User, error) {
	u, err := s.store.UserByNationalID(ctx, nationalID)
	if ErrorCode(err) == ENOTFOUND {
		return []*User{}, nil
	}
	if err != nil {
		return nil, err
	}
	return []*User{u}, nil
}

func (s *Service) checkKeyMatchesCertificate(ctx context.Context, wrapped []byte, credID, userID string, cert *x509.Certificate) error {
	signer, err := s.keys.Signer(ctx, wrapped, credID, userID, cert.PublicKey)
	if err != nil {
		return fmt.Errorf("open key of credential %s: %w", credID, err)
	}
	if err := probeSigner(signer, cert); err != nil {
		return fmt.Errorf("credential %s: key does not match its certificate: %w", credID, err)
	}
	return nil
}

// Credentials returns the credentials of the user with the national id.
// Returns EUSERNOTFOUND.
func (s *Service) Credentials(ctx context.Context, nationalID string) ([]*Credential, error) {
	u, err := s.store.UserByNationalID(ctx, nationalID)
	if ErrorCode(err) == ENOTFOUND {
		return nil, Errorf(EUSERNOTFOUND, "no user with that nationalId")
	}
	if err != nil {
		return nil, err
	}
	return s.store.CredentialsByUser(ctx, u.ID)
}

// ActivationCodeLength is the number of significant characters in an activation code.
const activationCodeLength = 16

// CreateActivationCode issues a single-use code that enrols one device for the user.
// ttl 0 means the default. Returns EUSERNOTFOUND, EINVALID, EFORBIDDEN.
func (s *Service) CreateActivationCode(ctx context.Context, op *Operator, userID string, ttl time.Duration) (Secret, *ActivationCode, error) {
	if err := requireWrite(op); err != nil {
		return "", nil, err
	}
	if ttl == 0 {
		ttl = s.cfg.ActivationTTL
	}
	if ttl < 60*time.Second || ttl > 7*24*time.Hour {
		return "", nil, Errorf(EINVALID, "ttlSeconds must be between 60 and 604800")
	}
	u, err := s.User(ctx, userID)
	if err != nil {
		return "", nil, err
	}
	b := make([]byte, 10)
	if _, err := io.ReadFull(s.cfg.Rand, b); err != nil {
		return "", nil, fmt.Errorf("read random: %w", err)
	}
	raw := idEncoding.EncodeToString(b) // 16 characters, 80 bits
	code := Secret(raw[0:4] + "-" + raw[4:8] + "-" + raw[8:12] + "-" + raw[12:16])
	now := s.cfg.Now().UTC()
	ac := &ActivationCode{ID: raw[:activationIDLength], UserID: u.ID, CodeHash: Secret(raw).Hash(),
		ExpiresAt: now.Add(ttl), CreatedAt: now}
	if err := s.store.CreateActivationCode(ctx, ac, s.audit("operator:"+op.ID, "activation_code.created", u.ID, "code_id="+ac.ID)); err != nil {
		return "", nil, err
	}
	return code, ac, nil
}

// DevicesOfUser lists a user's devices. Returns EUSERNOTFOUND.
func (s *Service) DevicesOfUser(ctx context.Context, userID string) ([]*Device, error) {
	if _, err := s.User(ctx, userID); err != nil {
		return nil, err
	}
	return s.store.DevicesByUser(ctx, userID)
}

// RevokeDevice revokes a device at once: it can no longer authenticate or approve, and its
// push token is forgotten. Revoking a revoked device is a no-op. Returns ENOTFOUND, EFORBIDDEN.
func (s *Service) RevokeDevice(ctx context.Context, op *Operator, deviceID, reason string) (*Device, error) {
	if err := requireWrite(op); err != nil {
		return nil, err
	}
	if len([]rune(reason)) > 200 {
		return nil, Errorf(EINVALID, "reason is longer than 200 characters")
	}
	now := s.cfg.Now().UTC()
	s.devices.drop(deviceID)
	defer s.devices.drop(deviceID) // and again, in case a request cached it meanwhile
	d, err := s.store.UpdateDevice(ctx, deviceID, func(d *Device) error {
		if d.Status == DeviceRevoked {
			return nil
		}
		d.Status, d.RevokedAt, d.RevokeReason, d.PushToken = DeviceRevoked, now, reason, ""
		return nil
	}, s.audit("operator:"+op.ID, "device.revoked", deviceID, reason))
	if err != nil {
		return nil, err
	}
	s.userDevs.drop(d.UserID)
	return d, nil
}

// CreateRelyingParty registers a relying party and returns its API key and callback secret,
// which are shown only now. Returns EINVALID, EFORBIDDEN.
func (s *Service) CreateRelyingParty(ctx context.Context, op *Operator, name string) (rp *RelyingParty, apiKey, callbackSecret Secret, err error) {
	if err := requireWrite(op); err != nil {
		return nil, "", "", err
	}
	if err := checkText("name", name, 1, 100); err != nil {
		return nil, "", "", err
	}
	id, err := s.newID("rp_")
	if err != nil {
		return nil, "", "", err
	}
	if apiKey, err = s.newSecret("kyso_rp_"); err != nil {
		return nil, "", "", err
	}
	if callbackSecret, err = s.newSecret("kyso_cb_"); err != nil {
		return nil, "", "", err
	}
	sealed, err := s.keys.Seal([]byte(callbackSecret.Reveal()), "callback-secret:"+id)
	if err != nil {
		return nil, "", "", fmt.Errorf("seal callback secret: %w", err)
	}
	rp = &RelyingParty{ID: id, Name: name, APIKeyHash: apiKey.Hash(), SealedCallbackSecret: sealed, CreatedAt: s.cfg.Now().UTC()}
	if err := s.store.CreateRelyingParty(ctx, rp, s.audit("operator:"+op.ID, "relying_party.created", id, "")); err != nil {
		return nil, "", "", err
	}
	return rp, apiKey, callbackSecret, nil
}

// AuditRecords returns up to limit audit records after sequence number after. Every
// operator role may read the log. Returns EINVALID for a limit outside 1..1000.
func (s *Service) AuditRecords(ctx context.Context, op *Operator, after uint64, limit int) ([]AuditRecord, error) {
	if limit < 1 || limit > 1000 {
		return nil, Errorf(EINVALID, "limit must be between 1 and 1000")
	}
	return s.store.AuditRecords(ctx, after, limit)
}

// SessionForOperator returns any session, with its deliveries and evidence, for an operator
// of any role. Returns ENOTFOUND.
func (s *Service) SessionForOperator(ctx context.Context, op *Operator, id string) (*Session, error) {
	return s.loadSession(ctx, id)
}

// ---- Device enrolment ----------------------------------------------------------------------

// ActivationRequest is what a device sends to enrol.
type ActivationRequest struct {
	Code      Secret
	PublicKey []byte // DER SubjectPublicKeyInfo, EC P-256
	Platform  string
	Name      string
	PushToken PushToken
	Language  string // optional BCP 47 tag, e.g. "vi" or "en-US"
}

const activationIDLength = 6

// Activate redeems an activation code and enrols the device. Wrong codes are counted against
// the code they name; after MaxActivationFailures it dies. Returns EACTIVATIONINVALID, EINVALID.
func (s *Service) Activate(ctx context.Context, in ActivationRequest) (*Device, *User, error) {
	norm := normalizeCode(in.Code.Reveal())
	if len(norm) != activationCodeLength {
		return nil, nil, Errorf(EACTIVATIONINVALID, "activation code is invalid, used or expired")
	}
	if err := validateDevicePublicKey(in.PublicKey); err != nil {
		return nil, nil, err
	}
	if !platforms[in.Platform] {
		return nil, nil, Errorf(EINVALID, "platform must be one of android, ios, ipados, sim, other")
	}
	if in.Name == "" {
		in.Name = in.Platform
	}
	if err := checkText("name", in.Name, 1, 64); err != nil {
		return nil, nil, err
	}
	if len(in.PushToken) > 4096 {
		return nil, nil, Errorf(EINVALID, "pushToken is too long")
	}
	if err := checkLanguage(in.Language); err != nil {
		return nil, nil, err
	}
	id, err := s.newID("dev_")
	if err != nil {
		return nil, nil, err
	}
	now := s.cfg.Now().UTC()
	var dev *Device
	err = s.store.RedeemActivationCode(ctx, norm[:activationIDLength], func(ac *ActivationCode) (*Device, AuditRecord, error) {
		dev = nil
		invalid := Errorf(EACTIVATIONINVALID, "activation code is invalid, used or expired")
		if ac.Used || ac.Failures >= s.cfg.MaxActivationFailures || !now.Before(ac.ExpiresAt) {
			return nil, AuditRecord{}, invalid
		}
		if !Secret(norm).MatchesHash(ac.CodeHash) {
			ac.Failures++
			return nil, s.audit("device", "activation_code.failed", ac.UserID, fmt.Sprintf("code_id=%s failures=%d", ac.ID, ac.Failures)), invalid
		}
		ac.Used = true
		dev = &Device{ID: id, UserID: ac.UserID, Name: in.Name, Platform: in.Platform, Status: DeviceActive,
			PublicKey: in.PublicKey, PushToken: in.PushToken, Language: in.Language, CreatedAt: now, LastSeenAt: now}
		return dev, s.audit("device:"+id, "device.activated", ac.UserID, "code_id="+ac.ID+" platform="+in.Platform), nil
	})
	if ErrorCode(err) == ENOTFOUND {
		err = Errorf(EACTIVATIONINVALID, "activation code is invalid, used or expired")
	}
	if err != nil {
		return nil, nil, err
	}
	s.userDevs.drop(dev.UserID)
	u, err := s.store.User(ctx, dev.UserID)
	if err != nil {
		return nil, nil, fmt.Errorf("load user of device %s: %w", dev.ID, err)
	}
	s.log.Info("device activated", "device", dev.ID, "user", dev.UserID, "platform", dev.Platform)
	return dev, u, nil
}

// SetPushToken replaces the device's push token. Returns EINVALID.
func (s *Service) SetPushToken(ctx context.Context, dev *Device, token PushToken) (*Device, error) {
	if len(token) > 4096 {
		return nil, Errorf(EINVALID, "pushToken is too long")
	}
	defer s.devices.drop(dev.ID)
	defer s.userDevs.drop(dev.UserID)
	return s.store.UpdateDevice(ctx, dev.ID, func(d *Device) error {
		if d.Status != DeviceActive {
			return Errorf(EUNAUTHENTICATED, "device is revoked")
		}
		d.PushToken = token
		return nil
	}, s.audit("device:"+dev.ID, "device.push_token_updated", dev.ID, ""))
}

// ---- helpers ------------------------------------------------------------------------------

// probeSigner signs a fixed digest and verifies it against the certificate's key.
func probeSigner(signer crypto.Signer, cert *x509.Certificate) error {
	digest := sha256.Sum256([]byte("kyso key-certificate match probe"))
	alg := SigECDSA
	if cert.PublicKeyAlgorithm == x509.RSA {
		alg = SigRSAPKCS1
	}
	sig, err := signer.Sign(rand.Reader, digest[:], signerOpts(alg, crypto.SHA256))
	if err != nil {
		return err
	}
	return verifySessionSignature(cert.PublicKey, alg, crypto.SHA256, digest[:], sig)
}

var errMismatch = errors.New("signature does not verify")
