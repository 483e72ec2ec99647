package bridge_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"testing"
	"time"

	bridge "github.com/kyso-dev/kyso/mobile-bridge"
	"github.com/kyso-dev/kyso/signing"
)

func sampleFields() bridge.ChallengeFields {
	return bridge.ChallengeFields{
		SessionID: "ses_1", RelyingPartyID: "rp_1", RelyingPartyName: "Cổng DVC",
		HashAlgorithm: "SHA-256", SignatureAlgorithm: "ECDSA",
		Labels: []string{"a.pdf"}, Hashes: [][]byte{{0xAA, 0xBB}},
		DisplayText: "Ký", VerificationCode: "0042",
		ExpiresAt: time.Unix(1_800_000_000, 0),
	}
}

// TestChallengeKnownAnswer fixes the byte layout documented in doc.go: any change to it
// breaks every deployed device, so it must be deliberate.
func TestChallengeKnownAnswer(t *testing.T) {
	want := "" +
		hex.EncodeToString([]byte("KYSO-CHALLENGE\x00\x01")) +
		"00000005" + hex.EncodeToString([]byte("ses_1")) +
		"00000004" + hex.EncodeToString([]byte("rp_1")) +
		"0000000a" + hex.EncodeToString([]byte("Cổng DVC")) +
		"00000007" + hex.EncodeToString([]byte("SHA-256")) +
		"00000005" + hex.EncodeToString([]byte("ECDSA")) +
		"00000001" +
		"00000005" + hex.EncodeToString([]byte("a.pdf")) + "00000002" + "aabb" +
		"00000003" + hex.EncodeToString([]byte("Ký")) +
		"00000004" + hex.EncodeToString([]byte("0042")) +
		"000000006b49d200"
	got := hex.EncodeToString(bridge.Challenge(sampleFields()))
	if got != want {
		t.Fatalf("challenge layout changed:\n got %s\nwant %s", got, want)
	}
}

func TestChallengeBindsEveryField(t *testing.T) {
	base := bridge.Challenge(sampleFields())
	mutations := map[string]func(*bridge.ChallengeFields){
		"session":   func(f *bridge.ChallengeFields) { f.SessionID = "ses_2" },
		"rp":        func(f *bridge.ChallengeFields) { f.RelyingPartyID = "rp_2" },
		"rp name":   func(f *bridge.ChallengeFields) { f.RelyingPartyName = "X" },
		"hash alg":  func(f *bridge.ChallengeFields) { f.HashAlgorithm = "SHA-512" },
		"sig alg":   func(f *bridge.ChallengeFields) { f.SignatureAlgorithm = "RSASSA-PSS" },
		"label":     func(f *bridge.ChallengeFields) { f.Labels = []string{"b.pdf"} },
		"hash":      func(f *bridge.ChallengeFields) { f.Hashes = [][]byte{{0xAA, 0xBC}} },
		"extra doc": func(f *bridge.ChallengeFields) { f.Labels = append(f.Labels, ""); f.Hashes = append(f.Hashes, nil) },
		"text":      func(f *bridge.ChallengeFields) { f.DisplayText = "Ky" },
		"code":      func(f *bridge.ChallengeFields) { f.VerificationCode = "0043" },
		"expiry":    func(f *bridge.ChallengeFields) { f.ExpiresAt = f.ExpiresAt.Add(time.Second) },
		// Length prefixes keep field boundaries: moving a byte across them changes the bytes.
		"boundary": func(f *bridge.ChallengeFields) { f.SessionID = "ses_1r"; f.RelyingPartyID = "p_1" },
	}
	for name, mutate := range mutations {
		f := sampleFields()
		mutate(&f)
		if string(bridge.Challenge(f)) == string(base) {
			t.Errorf("changing the %s does not change the challenge", name)
		}
	}
}

func TestVerifyDecision(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	ch := bridge.Challenge(sampleFields())
	digest := sha256.Sum256(bridge.DecisionMessage(ch, "approve"))
	sig, _ := ecdsa.SignASN1(rand.Reader, key, digest[:])
	p := bridge.Protocol{}
	if err := p.VerifyDecision(pub, ch, "approve", sig); err != nil {
		t.Fatalf("valid approval refused: %v", err)
	}
	if err := p.VerifyDecision(pub, ch, "decline", sig); signing.ErrorCode(err) != signing.EINVALIDSIGNATURE {
		t.Fatalf("an approval signature must not count as a decline: %v", err)
	}
	altered := append([]byte{}, ch...)
	altered[len(altered)-1] ^= 1
	if err := p.VerifyDecision(pub, altered, "approve", sig); signing.ErrorCode(err) != signing.EINVALIDSIGNATURE {
		t.Fatalf("altered challenge accepted: %v", err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherPub, _ := x509.MarshalPKIXPublicKey(&other.PublicKey)
	if err := p.VerifyDecision(otherPub, ch, "approve", sig); signing.ErrorCode(err) != signing.EINVALIDSIGNATURE {
		t.Fatalf("another device's key accepted the signature: %v", err)
	}
	if err := p.VerifyDecision(pub, ch, "approve:0042", sig); signing.ErrorCode(err) != signing.EINVALIDSIGNATURE {
		t.Fatalf("a plain approval must not count as a code pick: %v", err)
	}
	if err := p.VerifyDecision([]byte("junk"), ch, "approve", sig); signing.ErrorCode(err) != signing.EINVALID {
		t.Fatalf("junk key: %v", err)
	}
}

func BenchmarkChallenge(b *testing.B) {
	f := sampleFields()
	for range 9 {
		f.Labels = append(f.Labels, "Quyết định.pdf")
		f.Hashes = append(f.Hashes, make([]byte, 32))
	}
	b.ReportAllocs()
	for b.Loop() {
		bridge.Challenge(f)
	}
}
