package server

import (
	"crypto/x509"
	"time"

	"github.com/kyso-dev/kyso/signing"
)

// Wire types are the JSON of the API. They are kept apart from the domain types so that no
// stored secret (wrapped keys, hashes) can reach a response by accident.

type userJSON struct {
	ID           string    `json:"id"`
	NationalID   string    `json:"nationalId"`
	DisplayName  string    `json:"displayName"`
	Phone        string    `json:"phone,omitempty"`
	Email        string    `json:"email,omitempty"`
	Organization string    `json:"organization,omitempty"`
	CreatedAt    time.Time `json:"createdAt"`
}

func userView(u *signing.User) userJSON {
	return userJSON{ID: u.ID, NationalID: u.NationalID, DisplayName: u.DisplayName, Phone: u.Phone,
		Email: u.Email, Organization: u.Organization, CreatedAt: u.CreatedAt}
}

type credentialJSON struct {
	ID               string    `json:"id"`
	UserID           string    `json:"userId,omitempty"`
	KeyAlgorithm     string    `json:"keyAlgorithm"`
	Status           string    `json:"status"`
	Issuer           string    `json:"issuer,omitempty"`
	CSR              []byte    `json:"csr,omitempty"`
	Certificate      []byte    `json:"certificate"`
	CertificateChain [][]byte  `json:"certificateChain"`
	SerialNumber     string    `json:"serialNumber,omitempty"`
	Subject          string    `json:"subject,omitempty"`
	ValidFrom        time.Time `json:"validFrom,omitzero"`
	ValidTo          time.Time `json:"validTo,omitzero"`
	CreatedAt        time.Time `json:"createdAt"`
}

func credentialView(c *signing.Credential) credentialJSON {
	v := credentialJSON{ID: c.ID, UserID: c.UserID, KeyAlgorithm: string(c.KeyAlgorithm), Status: string(c.Status),
		Issuer: c.Issuer, CSR: c.CSR, Certificate: c.Certificate, CertificateChain: c.Chain, CreatedAt: c.CreatedAt}
	if v.CertificateChain == nil {
		v.CertificateChain = [][]byte{}
	}
	if cert, err := x509.ParseCertificate(c.Certificate); err == nil {
		v.SerialNumber = cert.SerialNumber.Text(16)
		v.Subject = cert.Subject.String()
		v.ValidFrom, v.ValidTo = cert.NotBefore.UTC(), cert.NotAfter.UTC()
	}
	return v
}

type deviceJSON struct {
	ID           string    `json:"id"`
	UserID       string    `json:"userId"`
	Name         string    `json:"name"`
	Platform     string    `json:"platform"`
	Status       string    `json:"status"`
	CreatedAt    time.Time `json:"createdAt"`
	LastSeenAt   time.Time `json:"lastSeenAt"`
	RevokedAt    time.Time `json:"revokedAt,omitzero"`
	RevokeReason string    `json:"revokeReason,omitempty"`
	HasPushToken bool      `json:"hasPushToken"`
}

func deviceView(d *signing.Device) deviceJSON {
	return deviceJSON{ID: d.ID, UserID: d.UserID, Name: d.Name, Platform: d.Platform, Status: string(d.Status),
		CreatedAt: d.CreatedAt, LastSeenAt: d.LastSeenAt, RevokedAt: d.RevokedAt, RevokeReason: d.RevokeReason,
		HasPushToken: d.PushToken != ""}
}

type documentJSON struct {
	Label     string `json:"label"`
	Hash      []byte `json:"hash"`
	Signature []byte `json:"signature,omitempty"`
}

type sessionErrorJSON struct {
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

// SessionJSON is a session as its relying party sees it: the answer of
// GET /v1/signatures/{id} and the body of callbacks.
type SessionJSON struct {
	ID                 string            `json:"id"`
	State              string            `json:"state"`
	VerificationCode   string            `json:"verificationCode"`
	CreatedAt          time.Time         `json:"createdAt"`
	ExpiresAt          time.Time         `json:"expiresAt"`
	CompletedAt        time.Time         `json:"completedAt,omitzero"`
	CredentialID       string            `json:"credentialId"`
	HashAlgorithm      string            `json:"hashAlgorithm"`
	SignatureAlgorithm string            `json:"signatureAlgorithm"`
	DisplayText        string            `json:"displayText"`
	Documents          []documentJSON    `json:"documents"`
	Interaction        string            `json:"interaction,omitempty"`
	Certificate        []byte            `json:"certificate,omitempty"`
	CertificateChain   [][]byte          `json:"certificateChain,omitempty"`
	Error              *sessionErrorJSON `json:"error,omitempty"`
}

func sessionView(s *signing.Session, cert []byte, chain [][]byte) SessionJSON {
	v := SessionJSON{ID: s.ID, State: string(s.State), VerificationCode: s.VerificationCode, CreatedAt: s.CreatedAt,
		ExpiresAt: s.ExpiresAt, CompletedAt: s.CompletedAt, CredentialID: s.CredentialID,
		HashAlgorithm: string(s.HashAlgorithm), SignatureAlgorithm: string(s.SignatureAlgorithm),
		DisplayText: s.DisplayText, Documents: make([]documentJSON, len(s.Documents)), Interaction: s.Interaction}
	for i, d := range s.Documents {
		v.Documents[i] = documentJSON{Label: d.Label, Hash: d.Hash, Signature: d.Signature}
	}
	v.Certificate, v.CertificateChain = cert, chain
	if s.Error != nil {
		v.Error = &sessionErrorJSON{Code: s.Error.Code, Detail: s.Error.Detail}
	}
	return v
}

type createdSessionJSON struct {
	ID               string    `json:"id"`
	State            string    `json:"state"`
	VerificationCode string    `json:"verificationCode"`
	ExpiresAt        time.Time `json:"expiresAt"`
	CreatedAt        time.Time `json:"createdAt"`
}

type approvalJSON struct {
	DeviceID   string    `json:"deviceId"`
	Decision   string    `json:"decision"`
	PickedCode string    `json:"pickedCode,omitempty"`
	Challenge  []byte    `json:"challenge"`
	Signature  []byte    `json:"signature"`
	At         time.Time `json:"at"`
}

// operatorSessionJSON is a session as an operator sees it: who asked whom, the push
// deliveries per device, and the device's signed decision (the evidence).
type operatorSessionJSON struct {
	SessionJSON
	RelyingPartyID string             `json:"relyingPartyId"`
	UserID         string             `json:"userId"`
	Deliveries     []signing.Delivery `json:"deliveries"`
	Approval       *approvalJSON      `json:"approval,omitempty"`
}

func operatorSessionView(s *signing.Session, cert []byte, chain [][]byte) operatorSessionJSON {
	v := operatorSessionJSON{SessionJSON: sessionView(s, cert, chain), RelyingPartyID: s.RelyingPartyID, UserID: s.UserID, Deliveries: s.Deliveries}
	if v.Deliveries == nil {
		v.Deliveries = []signing.Delivery{}
	}
	if a := s.Approval; a != nil {
		v.Approval = &approvalJSON{DeviceID: a.DeviceID, Decision: string(a.Decision), PickedCode: a.PickedCode,
			Challenge: a.Challenge, Signature: a.Signature, At: a.At}
	}
	return v
}
