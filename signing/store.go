package signing

import (
	"context"
	"time"
)

// UserStore keeps users.
type UserStore interface {
	// CreateUser stores u. Returns EUSEREXISTS if its national id is taken.
	CreateUser(ctx context.Context, u *User, a AuditRecord) error
	// User returns the user with id. Returns ENOTFOUND if there is none.
	User(ctx context.Context, id string) (*User, error)
	// UserByNationalID returns the user with that national id. Returns ENOTFOUND if none.
	UserByNationalID(ctx context.Context, nationalID string) (*User, error)
}

// CredentialStore keeps credentials.
type CredentialStore interface {
	CreateCredential(ctx context.Context, c *Credential, a AuditRecord) error
	// Credential returns the credential with id. Returns ENOTFOUND if there is none.
	Credential(ctx context.Context, id string) (*Credential, error)
	// CredentialsByUser returns a user's credentials, oldest first.
	CredentialsByUser(ctx context.Context, userID string) ([]*Credential, error)
	// ListCredentials returns up to limit credentials with ids greater than after, by id.
	ListCredentials(ctx context.Context, after string, limit int) ([]*Credential, error)
	// UpdateCredential applies fn to the stored credential and saves it in one transaction;
	// if fn returns an error nothing is saved. Returns ENOTFOUND.
	UpdateCredential(ctx context.Context, id string, fn func(*Credential) error, a AuditRecord) (*Credential, error)
}

// DeviceStore keeps enrolled devices and the activation codes that enrol them.
type DeviceStore interface {
	// Device returns the device with id. Returns ENOTFOUND if there is none.
	Device(ctx context.Context, id string) (*Device, error)
	// DevicesByUser returns a user's devices, oldest first.
	DevicesByUser(ctx context.Context, userID string) ([]*Device, error)
	// UpdateDevice applies fn to the stored device and saves it in one transaction; if fn
	// returns an error nothing is saved. A nil audit record (a.Action == "") is not written.
	// Returns ENOTFOUND if there is no such device.
	UpdateDevice(ctx context.Context, id string, fn func(*Device) error, a AuditRecord) (*Device, error)
	CreateActivationCode(ctx context.Context, c *ActivationCode, a AuditRecord) error
	// RedeemActivationCode runs fn on the code with id inside one transaction. The code, as fn
	// leaves it, is always saved (so failed attempts are counted even when fn returns an
	// error); the device fn returns, if any, is created. Returns EACTIVATIONINVALID if there
	// is no such code.
	RedeemActivationCode(ctx context.Context, id string, fn func(*ActivationCode) (*Device, AuditRecord, error)) error
}

// RelyingPartyStore keeps relying parties.
type RelyingPartyStore interface {
	CreateRelyingParty(ctx context.Context, rp *RelyingParty, a AuditRecord) error
	// RelyingParty returns the relying party with id. Returns ENOTFOUND if there is none.
	RelyingParty(ctx context.Context, id string) (*RelyingParty, error)
	// RelyingPartyByKeyHash returns the relying party whose API key hashes to h.
	// Returns ENOTFOUND if there is none.
	RelyingPartyByKeyHash(ctx context.Context, h []byte) (*RelyingParty, error)
	// ListRelyingParties returns up to limit relying parties with ids greater than after.
	ListRelyingParties(ctx context.Context, after string, limit int) ([]*RelyingParty, error)
	// UpdateRelyingParty applies fn and saves, as UpdateCredential does. Returns ENOTFOUND.
	UpdateRelyingParty(ctx context.Context, id string, fn func(*RelyingParty) error, a AuditRecord) (*RelyingParty, error)
}

// OperatorStore keeps operators.
type OperatorStore interface {
	// CreateOperator stores op, unless firstOnly is set and an operator already exists, in
	// which case it returns created=false and stores nothing.
	CreateOperator(ctx context.Context, op *Operator, firstOnly bool, a AuditRecord) (created bool, err error)
	// OperatorByTokenHash returns the operator whose token hashes to h. Returns ENOTFOUND.
	OperatorByTokenHash(ctx context.Context, h []byte) (*Operator, error)
}

// Idempotency identifies a create request by its relying party, key and body hash.
type Idempotency struct {
	Key      string
	BodyHash []byte
}

// CreateSessionOptions are the conditions of storing a new session.
type CreateSessionOptions struct {
	// Idempotency, with a non-empty Key, makes a repeated request return the first session.
	Idempotency Idempotency
	// MaxOpenPerUser, if positive, refuses the session when its user already has that many
	// pending sessions that have not expired at Now.
	MaxOpenPerUser int
	Now            time.Time
}

// SessionStore keeps signing sessions.
type SessionStore interface {
	// CreateSession stores s. With a non-empty idempotency key it first looks up the key for
	// s's relying party: if found with the same body hash it returns that session and
	// created=false; with another body hash it returns EIDEMPOTENCYCONFLICT. It returns
	// ETOOMANYPENDING when the user's pending sessions reach opts.MaxOpenPerUser.
	CreateSession(ctx context.Context, s *Session, opts CreateSessionOptions, a AuditRecord) (stored *Session, created bool, err error)
	// Session returns the session with id. Returns ENOTFOUND if there is none.
	Session(ctx context.Context, id string) (*Session, error)
	// UpdateSession is the compare-and-set of the state machine: fn sees the stored session,
	// checks its state and mutates it, and returns the audit record of the transition. If fn
	// returns an error nothing is saved. fn may run more than once and must depend only on
	// its argument. Returns ENOTFOUND if there is no such session.
	UpdateSession(ctx context.Context, id string, fn func(*Session) (AuditRecord, error)) (*Session, error)
	// OpenSessionsByUser returns the user's sessions that are pending, oldest first.
	OpenSessionsByUser(ctx context.Context, userID string) ([]*Session, error)
	// SessionsDue returns up to limit sessions that need the sweeper: pending ones that
	// expired at or before now, approved ones (an interrupted signing), and final ones whose
	// callback is still owed (see Session.CallbackOwed).
	SessionsDue(ctx context.Context, now time.Time, limit int) ([]*Session, error)
}

// AuditLog reads the audit log.
type AuditLog interface {
	// AuditRecords returns up to limit records with Seq > after, in order.
	AuditRecords(ctx context.Context, after uint64, limit int) ([]AuditRecord, error)
	// AppendAudit records an event that changes nothing else in the store.
	AppendAudit(ctx context.Context, a AuditRecord) error
}

// Scrubber removes deleted data from the store's storage, so that a destroyed key leaves
// no copy behind (bbolt keeps freed pages; PostgreSQL keeps dead tuples until vacuum).
type Scrubber interface {
	Scrub(ctx context.Context) error
}

// Store is everything the domain keeps. Implementations must make every method durable
// before it returns.
type Store interface {
	UserStore
	CredentialStore
	DeviceStore
	RelyingPartyStore
	OperatorStore
	SessionStore
	AuditLog
	Scrubber
}
