package signing

import (
	"crypto"
	"time"
)

// User is a person who owns signing credentials and enrolled devices.
type User struct {
	ID           string    `json:"id"`
	NationalID   string    `json:"nationalId"`
	DisplayName  string    `json:"displayName"`
	Phone        string    `json:"phone,omitempty"`
	Email        string    `json:"email,omitempty"`
	Organization string    `json:"organization,omitempty"`
	CreatedAt    time.Time `json:"createdAt"`
}

// KeyAlgorithm names the type of a credential's key pair.
type KeyAlgorithm string

// Supported key algorithms.
const (
	KeyECP256  KeyAlgorithm = "EC-P256"
	KeyECP384  KeyAlgorithm = "EC-P384"
	KeyRSA2048 KeyAlgorithm = "RSA-2048"
	KeyRSA3072 KeyAlgorithm = "RSA-3072"
)

// Valid reports whether a is a supported key algorithm.
func (a KeyAlgorithm) Valid() bool {
	switch a {
	case KeyECP256, KeyECP384, KeyRSA2048, KeyRSA3072:
		return true
	}
	return false
}

// IsRSA reports whether a is an RSA key type.
func (a KeyAlgorithm) IsRSA() bool { return a == KeyRSA2048 || a == KeyRSA3072 }

// HashAlgorithm names the digest algorithm of the hashes a relying party sends.
type HashAlgorithm string

// Supported hash algorithms.
const (
	SHA256 HashAlgorithm = "SHA-256"
	SHA384 HashAlgorithm = "SHA-384"
	SHA512 HashAlgorithm = "SHA-512"
)

// Hash returns the crypto.Hash of h, or 0 if h is not supported.
func (h HashAlgorithm) Hash() crypto.Hash {
	switch h {
	case SHA256:
		return crypto.SHA256
	case SHA384:
		return crypto.SHA384
	case SHA512:
		return crypto.SHA512
	}
	return 0
}

// SignatureAlgorithm names the signature scheme applied to each digest.
type SignatureAlgorithm string

// Supported signature algorithms.
const (
	SigECDSA    SignatureAlgorithm = "ECDSA"
	SigRSAPSS   SignatureAlgorithm = "RSASSA-PSS"
	SigRSAPKCS1 SignatureAlgorithm = "RSASSA-PKCS1-v1_5"
)

// MaxDocuments is the most documents one session may ask to sign (API: 1..50).
const MaxDocuments = 50

// CredentialStatus is the lifecycle state of a credential.
type CredentialStatus string

// Credential statuses. Expiry is not a stored status: it follows from the certificate and
// the clock (see Usable).
const (
	CredentialActive             CredentialStatus = "active"
	CredentialPendingCertificate CredentialStatus = "pending_certificate"
	CredentialSuspended          CredentialStatus = "suspended"
	CredentialRevoked            CredentialStatus = "revoked" // the key is destroyed
)

// Issuers of credentials' certificates.
const (
	IssuerDevelopment = "development" // the built-in development CA
	IssuerExternal    = "external"    // a licensed CA, through a CSR and an imported chain
)

// Credential is a user's signing key pair and its certificate. The private key exists only
// as WrappedKey, sealed by Keys; this package never sees it in the clear. A revoked
// credential has no WrappedKey at all (crypto-shredded).
type Credential struct {
	ID           string           `json:"id"`
	UserID       string           `json:"userId"`
	KeyAlgorithm KeyAlgorithm     `json:"keyAlgorithm"`
	Status       CredentialStatus `json:"status"`
	Issuer       string           `json:"issuer,omitempty"`
	WrappedKey   []byte           `json:"wrappedKey,omitempty"`
	CSR          []byte           `json:"csr,omitempty"` // DER PKCS#10, for an external CA
	Certificate  []byte           `json:"certificate,omitempty"`
	Chain        [][]byte         `json:"chain"`
	CreatedAt    time.Time        `json:"createdAt"`
	RevokedAt    time.Time        `json:"revokedAt,omitzero"`
}

// DeviceStatus is the lifecycle state of an enrolled device.
type DeviceStatus string

// Device statuses.
const (
	DeviceActive  DeviceStatus = "active"
	DeviceRevoked DeviceStatus = "revoked"
)

// Platforms a device may declare at activation.
var platforms = map[string]bool{"android": true, "ios": true, "ipados": true, "sim": true, "other": true}

// Device is an enrolled companion app or SIM applet. PublicKey is the DER
// SubjectPublicKeyInfo of its P-256 device key, which proves the user's decisions.
type Device struct {
	ID           string       `json:"id"`
	UserID       string       `json:"userId"`
	Name         string       `json:"name"`
	Platform     string       `json:"platform"`
	Status       DeviceStatus `json:"status"`
	PublicKey    []byte       `json:"publicKey"`
	PushToken    PushToken    `json:"pushToken"`
	Language     string       `json:"language,omitempty"` // BCP 47 tag from the app, for push texts
	CreatedAt    time.Time    `json:"createdAt"`
	LastSeenAt   time.Time    `json:"lastSeenAt"`
	RevokedAt    time.Time    `json:"revokedAt"`
	RevokeReason string       `json:"revokeReason,omitempty"`
}

// RelyingParty is a portal or document system that asks for signatures. Its API key is kept
// only as a SHA-256 hash; its callback secret only sealed by Keys.
type RelyingParty struct {
	ID                   string    `json:"id"`
	Name                 string    `json:"name"`
	APIKeyHash           []byte    `json:"apiKeyHash"`
	SealedCallbackSecret []byte    `json:"sealedCallbackSecret"`
	CreatedAt            time.Time `json:"createdAt"`
}

// Operator roles.
const (
	RoleAdmin    = "admin"
	RoleOperator = "operator"
	RoleAuditor  = "auditor"
)

// Operator is a registration officer, auditor or administrator, known by a hashed token.
type Operator struct {
	ID        string    `json:"id"`
	Role      string    `json:"role"`
	TokenHash []byte    `json:"tokenHash"`
	CreatedAt time.Time `json:"createdAt"`
}

// ActivationCode lets one device enrol for a user. Only its hash is stored.
type ActivationCode struct {
	ID        string    `json:"id"`
	UserID    string    `json:"userId"`
	CodeHash  []byte    `json:"codeHash"`
	ExpiresAt time.Time `json:"expiresAt"`
	Failures  int       `json:"failures"`
	Used      bool      `json:"used"`
	CreatedAt time.Time `json:"createdAt"`
}

// State is a signing session's state.
type State string

// Session states.
const (
	StatePending  State = "pending"
	StateApproved State = "approved"
	StateSigned   State = "signed"
	StateDeclined State = "declined"
	StateExpired  State = "expired"
	StateFailed   State = "failed"
)

// Final reports whether no further transition can leave s.
func (s State) Final() bool {
	return s == StateSigned || s == StateDeclined || s == StateExpired || s == StateFailed
}

// Document is one digest to sign, with the label shown to the user.
type Document struct {
	Label     string `json:"label"`
	Hash      []byte `json:"hash"`
	Signature []byte `json:"signature,omitempty"`
}

// Decision is a user's answer to a session.
type Decision string

// Decisions.
const (
	Approve Decision = "approve"
	Decline Decision = "decline"
)

// Approval is the evidence that a user decided on exactly this session: the challenge bytes
// the device signed, the decision word, the device's signature and which device made it.
type Approval struct {
	DeviceID string   `json:"deviceId"`
	Decision Decision `json:"decision"`
	// PickedCode is the code the user picked, in the verificationCodeChoice interaction.
	PickedCode string    `json:"pickedCode,omitempty"`
	Challenge  []byte    `json:"challenge"`
	Signature  []byte    `json:"signature"`
	At         time.Time `json:"at"`
}

// SessionError explains why a session ended declined, expired or failed.
type SessionError struct {
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

// Session is one signing request from a relying party for one user.
type Session struct {
	ID                 string             `json:"id"`
	RelyingPartyID     string             `json:"relyingPartyId"`
	RelyingPartyName   string             `json:"relyingPartyName"`
	UserID             string             `json:"userId"`
	CredentialID       string             `json:"credentialId"`
	HashAlgorithm      HashAlgorithm      `json:"hashAlgorithm"`
	SignatureAlgorithm SignatureAlgorithm `json:"signatureAlgorithm"`
	Documents          []Document         `json:"documents"`
	DisplayText        string             `json:"displayText"`
	CallbackURL        string             `json:"callbackUrl,omitempty"`
	VerificationCode   string             `json:"verificationCode"`
	State              State              `json:"state"`
	CreatedAt          time.Time          `json:"createdAt"`
	ExpiresAt          time.Time          `json:"expiresAt"`
	CompletedAt        time.Time          `json:"completedAt"`
	Error              *SessionError      `json:"error,omitempty"`
	Approval           *Approval          `json:"approval,omitempty"`
	CallbackDelivered  bool               `json:"callbackDelivered,omitempty"`
	CallbackAbandoned  bool               `json:"callbackAbandoned,omitempty"` // retries spent
	// Interaction is "" (the device shows the code) or InteractionCodeChoice.
	Interaction string `json:"interaction,omitempty"`
	// CodeChoices are the three codes shown, in order, in the code-choice interaction.
	CodeChoices []string `json:"codeChoices,omitempty"`
	// Deliveries record how each wake-up went, per device.
	Deliveries []Delivery `json:"deliveries,omitempty"`
}

// CallbackOwed reports whether the session is final and its callback still has to be sent.
func (s *Session) CallbackOwed() bool {
	return s.State.Final() && s.CallbackURL != "" && !s.CallbackDelivered && !s.CallbackAbandoned
}

// InteractionCodeChoice makes the device show three codes; the user must pick the one the
// relying party shows. A wrong pick declines the session (push-fatigue protection).
const InteractionCodeChoice = "verificationCodeChoice"

// DecisionWord is what the device signs after the challenge: "approve", "decline", or in the
// code-choice interaction "approve:NNNN" with the picked code.
func DecisionWord(d Decision, pickedCode string) string {
	if d == Approve && pickedCode != "" {
		return string(d) + ":" + pickedCode
	}
	return string(d)
}

// AuditRecord is one entry of the append-only, hash-chained audit log. The store assigns Seq,
// PrevHash and Hash in the same transaction as the change it records.
type AuditRecord struct {
	Seq      uint64    `json:"seq"`
	Time     time.Time `json:"time"`
	Actor    string    `json:"actor"`
	Action   string    `json:"action"`
	Subject  string    `json:"subject"`
	Detail   string    `json:"detail,omitempty"`
	PrevHash []byte    `json:"prevHash"`
	Hash     []byte    `json:"hash"`
}
