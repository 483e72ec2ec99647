package signing

import (
	"context"
	"crypto"
	"crypto/x509"
	"time"
)

// Keys is key custody: it creates key pairs and hands them out only as signers over wrapped
// bytes, and seals small secrets. Implemented by keystore.
type Keys interface {
	// GenerateKey creates a key pair for the credential and returns it wrapped, bound to
	// credentialID and userID, with its public key.
	GenerateKey(ctx context.Context, alg KeyAlgorithm, credentialID, userID string) (wrapped []byte, pub crypto.PublicKey, err error)
	// Signer returns a crypto.Signer that unwraps the key for each operation and wipes it after.
	// The signer refuses to sign if the unwrapped key does not match pub.
	Signer(ctx context.Context, wrapped []byte, credentialID, userID string, pub crypto.PublicKey) (crypto.Signer, error)
	// Seal encrypts a small secret bound to label; Open reverses it.
	Seal(plaintext []byte, label string) ([]byte, error)
	Open(sealed []byte, label string) ([]byte, error)
}

// KEKKey is one key of the key-encryption keyset.
type KEKKey struct {
	ID      uint32
	Status  string // ENABLED or DISABLED
	Primary bool
}

// Rewrapper moves wrapped blobs to the primary KEK key. Implemented by keystore.
type Rewrapper interface {
	BlobKeyID(blob []byte) (uint32, error)
	// Rewrap and Reseal return the blob under the primary KEK key; changed is false when it
	// already was.
	Rewrap(wrapped []byte, credentialID, userID string) (out []byte, changed bool, err error)
	Reseal(sealed []byte, label string) (out []byte, changed bool, err error)
}

// KEKAdmin manages the key-encryption keyset's keys. Implemented by keystore.
type KEKAdmin interface {
	KEKKeys() []KEKKey
	RotateKEK() (uint32, error)
	DisableKEKKey(id uint32) error
}

// KeyRotation is key custody's rotation: both of the above.
type KeyRotation interface {
	Rewrapper
	KEKAdmin
}

// Issuer issues a certificate for a user's public key. Implemented by pki's development CA.
type Issuer interface {
	// Issue returns the DER certificate for pub with subject CN = displayName and
	// serialNumber = nationalId, and the issuing chain (issuer first, root last).
	Issue(ctx context.Context, u *User, pub crypto.PublicKey) (cert *x509.Certificate, chain [][]byte, err error)
}

// WakeUp is everything a push may say: that a session waits, and until when. It carries no
// document content and no personal data, because push services are third parties.
type WakeUp struct {
	SessionID string
	ExpiresAt time.Time
}

// Delivery outcomes.
const (
	DeliveryDelivered    = "delivered"    // the push service accepted the message
	DeliveryUnregistered = "unregistered" // the token is dead; it is retired, the device falls back to pull
	DeliveryFailed       = "failed"       // retries were spent or the error was permanent
	DeliverySkipped      = "skipped"      // nothing to send to (no token, or no push for this platform)
	DeliveryLogged       = "logged"       // the development log sender wrote it down
)

// Delivery is the outcome of waking one device for one session.
type Delivery struct {
	DeviceID string    `json:"deviceId"`
	Outcome  string    `json:"outcome"`
	Attempts int       `json:"attempts"`
	Detail   string    `json:"detail,omitempty"`
	At       time.Time `json:"at"`
}

// ExternalCA is what the domain needs to work with a licensed CA. Implemented by pki.
type ExternalCA interface {
	// CSR returns a DER PKCS#10 request for the user's key, signed by it, with the
	// deployment's subject fields.
	CSR(ctx context.Context, u *User, key crypto.Signer) ([]byte, error)
	// VerifyChain checks that cert chains through chain (issuer first) to a trust anchor and
	// is valid at now.
	VerifyChain(cert *x509.Certificate, chain [][]byte, now time.Time) error
}

// Notifier wakes a device, retrying as its channel allows, and says how it went. A failed
// delivery never fails a session: devices also pull. Implemented by push.Dispatcher.
type Notifier interface {
	Notify(ctx context.Context, d *Device, w WakeUp) Delivery
}

// ApprovalVerifier is the device protocol as the domain needs it: the canonical challenge of
// a session, and the check of a device's signature over it. Implemented by mobile-bridge.
type ApprovalVerifier interface {
	Challenge(s *Session) []byte
	// VerifyDecision checks sig over challenge || word (see DecisionWord) with the device's
	// public key (DER SubjectPublicKeyInfo). Returns EINVALIDSIGNATURE if it does not verify.
	VerifyDecision(publicKey, challenge []byte, word string, sig []byte) error
}

// FinalHook is told about every session that reaches a final state, after it is durable.
type FinalHook interface {
	SessionFinal(s *Session)
}
