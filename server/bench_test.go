package server

import (
	"io"
	"testing"
	"time"

	"github.com/kyso-dev/kyso/signing"
)

// BenchmarkSessionJSON is the answer to a relying party's long-poll: encode a signed
// session with three documents and a certificate chain.
func BenchmarkSessionJSON(b *testing.B) {
	s := &signing.Session{ID: "ses_X", State: signing.StateSigned, VerificationCode: "4821", CreatedAt: time.Now(), ExpiresAt: time.Now(),
		CompletedAt: time.Now(), CredentialID: "cred_X", HashAlgorithm: signing.SHA256, SignatureAlgorithm: signing.SigECDSA, DisplayText: "Ký quyết định"}
	for range 3 {
		s.Documents = append(s.Documents, signing.Document{Label: "Quyết định.pdf", Hash: make([]byte, 32), Signature: make([]byte, 72)})
	}
	cert, chain := make([]byte, 700), [][]byte{make([]byte, 600), make([]byte, 550)}
	b.ReportAllocs()
	for b.Loop() {
		if err := jsonEncode(io.Discard, sessionView(s, cert, chain)); err != nil {
			b.Fatal(err)
		}
	}
}
