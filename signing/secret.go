package signing

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
)

const redacted = "[REDACTED]"

// Secret is a bearer secret shown to its owner once: an operator token, an API key, an
// activation code or a callback secret. Every formatting path redacts it; use Reveal to get
// the value where it must be handed over.
type Secret string

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// Hash returns the SHA-256 of the secret, the form in which it is stored.
func (s Secret) Hash() []byte { h := sha256.Sum256([]byte(s)); return h[:] }

// MatchesHash compares the secret's hash with want in constant time.
func (s Secret) MatchesHash(want []byte) bool {
	return subtle.ConstantTimeCompare(s.Hash(), want) == 1
}

func (s Secret) String() string                { return redacted }
func (s Secret) GoString() string              { return redacted }
func (s Secret) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(redacted)) }
func (s Secret) LogValue() slog.Value          { return slog.StringValue(redacted) }

// PushToken is a device's push registration token. It is personal data of a sort (it
// addresses one phone), so it is stored but never logged.
type PushToken string

// Reveal returns the token's value.
func (t PushToken) Reveal() string { return string(t) }

func (t PushToken) String() string                { return redacted }
func (t PushToken) GoString() string              { return redacted }
func (t PushToken) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(redacted)) }
func (t PushToken) LogValue() slog.Value          { return slog.StringValue(redacted) }
