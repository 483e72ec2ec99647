package bridge

import (
	"strings"
	"time"
)

// ActivateRequest is the body of POST /device/v1/activate.
type ActivateRequest struct {
	Code      string `json:"code"`
	PublicKey []byte `json:"publicKey"`
	Platform  string `json:"platform"`
	Name      string `json:"name"`
	PushToken string `json:"pushToken,omitempty"`
	Language  string `json:"language,omitempty"` // BCP 47, for the text of push alerts
}

// ActivateResponse answers an activation.
type ActivateResponse struct {
	DeviceID    string `json:"deviceId"`
	UserID      string `json:"userId"`
	DisplayName string `json:"displayName"`
}

// RelyingPartyInfo names who is asking.
type RelyingPartyInfo struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// DocumentInfo is one document as a device shows it.
type DocumentInfo struct {
	Label         string `json:"label"`
	Hash          []byte `json:"hash"`
	HashAlgorithm string `json:"hashAlgorithm"`
}

// SessionInfo is a session as a device sees it: GET /device/v1/sessions/{id}, and the items
// of GET /device/v1/sessions.
type SessionInfo struct {
	ID                 string           `json:"id"`
	State              string           `json:"state"`
	RelyingParty       RelyingPartyInfo `json:"relyingParty"`
	DisplayText        string           `json:"displayText"`
	Documents          []DocumentInfo   `json:"documents"`
	SignatureAlgorithm string           `json:"signatureAlgorithm"`
	// VerificationCode is the code to compare with the relying party's. In the
	// verificationCodeChoice interaction it is empty and the user picks from
	// VerificationCodeChoices instead.
	VerificationCode        string    `json:"verificationCode"`
	Interaction             string    `json:"interaction,omitempty"`
	VerificationCodeChoices []string  `json:"verificationCodeChoices,omitempty"`
	CreatedAt               time.Time `json:"createdAt"`
	ExpiresAt               time.Time `json:"expiresAt"`
	Challenge               []byte    `json:"challenge"`
}

// ChallengeFields rebuilds the challenge fields from what the device was shown.
func (s *SessionInfo) ChallengeFields() ChallengeFields {
	f := ChallengeFields{
		SessionID: s.ID, RelyingPartyID: s.RelyingParty.ID, RelyingPartyName: s.RelyingParty.Name,
		SignatureAlgorithm: s.SignatureAlgorithm, DisplayText: s.DisplayText,
		VerificationCode: s.VerificationCode, ExpiresAt: s.ExpiresAt,
	}
	if len(s.VerificationCodeChoices) > 0 {
		f.VerificationCode = strings.Join(s.VerificationCodeChoices, ",")
	}
	for _, d := range s.Documents {
		f.HashAlgorithm = d.HashAlgorithm
		f.Labels = append(f.Labels, d.Label)
		f.Hashes = append(f.Hashes, d.Hash)
	}
	return f
}

// SessionList is the body of GET /device/v1/sessions.
type SessionList struct {
	Sessions []SessionInfo `json:"sessions"`
}

// DecisionRequest is the body of POST /device/v1/sessions/{id}/decision.
type DecisionRequest struct {
	Decision  string `json:"decision"`
	Signature []byte `json:"signature"`
	// VerificationCode is the code the user picked (verificationCodeChoice interaction only).
	VerificationCode string `json:"verificationCode,omitempty"`
}

// SessionEvent is the data of a session.updated event on GET /device/v1/events; a
// session.created event carries a SessionInfo.
type SessionEvent struct {
	ID    string `json:"id"`
	State string `json:"state"`
}

// DecisionResponse answers a decision.
type DecisionResponse struct {
	State string `json:"state"`
}

// PushTokenRequest is the body of PUT /device/v1/push-token.
type PushTokenRequest struct {
	PushToken string `json:"pushToken"`
}
