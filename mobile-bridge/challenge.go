package bridge

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"strings"
	"time"

	"github.com/kyso-dev/kyso/signing"
)

var _ signing.ApprovalVerifier = Protocol{}

// Protocol implements signing.ApprovalVerifier with challenge layout version 1.
type Protocol struct{}

// ChallengeFields are the parts of a session that a challenge binds.
type ChallengeFields struct {
	SessionID          string
	RelyingPartyID     string
	RelyingPartyName   string
	HashAlgorithm      string
	SignatureAlgorithm string
	Labels             []string
	Hashes             [][]byte
	DisplayText        string
	VerificationCode   string
	ExpiresAt          time.Time
}

// Challenge returns the canonical challenge bytes of f.
func Challenge(f ChallengeFields) []byte {
	b := []byte("KYSO-CHALLENGE\x00\x01")
	str := func(s []byte) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	str([]byte(f.SessionID))
	str([]byte(f.RelyingPartyID))
	str([]byte(f.RelyingPartyName))
	str([]byte(f.HashAlgorithm))
	str([]byte(f.SignatureAlgorithm))
	b = binary.BigEndian.AppendUint32(b, uint32(len(f.Hashes)))
	for i := range f.Hashes {
		label := ""
		if i < len(f.Labels) {
			label = f.Labels[i]
		}
		str([]byte(label))
		str(f.Hashes[i])
	}
	str([]byte(f.DisplayText))
	str([]byte(f.VerificationCode))
	return binary.BigEndian.AppendUint64(b, uint64(f.ExpiresAt.Unix()))
}

// SessionChallengeFields returns the challenge fields of a session.
func SessionChallengeFields(s *signing.Session) ChallengeFields {
	f := ChallengeFields{
		SessionID: s.ID, RelyingPartyID: s.RelyingPartyID, RelyingPartyName: s.RelyingPartyName,
		HashAlgorithm: string(s.HashAlgorithm), SignatureAlgorithm: string(s.SignatureAlgorithm),
		DisplayText: s.DisplayText, VerificationCode: s.VerificationCode, ExpiresAt: s.ExpiresAt,
	}
	if len(s.CodeChoices) > 0 {
		// The device must not learn which code is right: it is shown, and signs, all three.
		f.VerificationCode = strings.Join(s.CodeChoices, ",")
	}
	for _, d := range s.Documents {
		f.Labels = append(f.Labels, d.Label)
		f.Hashes = append(f.Hashes, d.Hash)
	}
	return f
}

// Challenge returns the challenge of a session.
func (Protocol) Challenge(s *signing.Session) []byte { return Challenge(SessionChallengeFields(s)) }

// DecisionMessage is what a device signs: the challenge followed by the decision word
// ("approve", "decline", or "approve:NNNN" with the picked code; see signing.DecisionWord).
func DecisionMessage(challenge []byte, word string) []byte {
	m := make([]byte, 0, len(challenge)+len(word))
	return append(append(m, challenge...), word...)
}

// VerifyDecision checks a device's DER ECDSA P-256 signature over challenge || word.
func (Protocol) VerifyDecision(publicKey, challenge []byte, word string, sig []byte) error {
	pub, err := ParseDeviceKey(publicKey)
	if err != nil {
		return err
	}
	digest := sha256.Sum256(DecisionMessage(challenge, word))
	if !ecdsa.VerifyASN1(pub, digest[:], sig) {
		return signing.Errorf(signing.EINVALIDSIGNATURE, "the decision signature does not verify with this device's key")
	}
	return nil
}

// ParseDeviceKey parses a DER SubjectPublicKeyInfo that must hold an EC P-256 key.
func ParseDeviceKey(der []byte) (*ecdsa.PublicKey, error) {
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, signing.Errorf(signing.EINVALID, "device key is not a DER SubjectPublicKeyInfo")
	}
	pub, ok := k.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, signing.Errorf(signing.EINVALID, "device key is not an EC P-256 key")
	}
	return pub, nil
}
