package signing

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// checkText checks that v is valid UTF-8 without control characters and has between min and
// max characters.
func checkText(field, v string, min, max int) error {
	if !utf8.ValidString(v) {
		return Errorf(EINVALID, "%s is not valid UTF-8", field)
	}
	n := utf8.RuneCountInString(v)
	if n < min {
		return Errorf(EINVALID, "%s is required", field)
	}
	if n > max {
		return Errorf(EINVALID, "%s is longer than %d characters", field, max)
	}
	for _, r := range v {
		if unicode.IsControl(r) && r != '\n' {
			return Errorf(EINVALID, "%s contains a control character", field)
		}
	}
	return nil
}

func validateUser(in UserInput) error {
	if err := checkText("nationalId", in.NationalID, 1, 32); err != nil {
		return err
	}
	for _, r := range in.NationalID {
		if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') {
			return Errorf(EINVALID, "nationalId may contain only letters and digits")
		}
	}
	for _, f := range []struct {
		name, v  string
		min, max int
	}{{"displayName", in.DisplayName, 1, 200}, {"phone", in.Phone, 0, 32}, {"email", in.Email, 0, 254}, {"organization", in.Organization, 0, 200}} {
		if err := checkText(f.name, f.v, f.min, f.max); err != nil {
			return err
		}
	}
	return nil
}

func validateDevicePublicKey(der []byte) error {
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return Errorf(EINVALID, "publicKey is not a DER SubjectPublicKeyInfo")
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok || ec.Curve != elliptic.P256() {
		return Errorf(EINVALID, "publicKey must be an EC P-256 key")
	}
	return nil
}

// normalizeCode strips separators and spaces and upper-cases an activation code as typed.
func normalizeCode(code string) string {
	var b strings.Builder
	for _, r := range code {
		switch {
		case r == '-' || r == ' ':
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		default:
			b.WriteRune(r)
		}
		if b.Len() > 64 {
			break
		}
	}
	return b.String()
}

func validateCallbackURL(raw string) error {
	if raw == "" {
		return nil
	}
	if len(raw) > 2048 {
		return Errorf(EINVALID, "callbackUrl is longer than 2048 characters")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return Errorf(EINVALID, "callbackUrl must be an absolute http or https URL without credentials")
	}
	return nil
}

// VerificationCode is the 4-digit code a relying party can show before asking: the last two
// bytes of SHA-256 over the concatenated digests, big-endian, mod 10000, zero-padded.
func VerificationCode(hashes [][]byte) string {
	h := sha256.New()
	for _, d := range hashes {
		h.Write(d)
	}
	sum := h.Sum(nil)
	return fmt.Sprintf("%04d", binary.BigEndian.Uint16(sum[len(sum)-2:])%10000)
}

// signerOpts returns the crypto.SignerOpts for a signature algorithm over hash h.
func signerOpts(alg SignatureAlgorithm, h crypto.Hash) crypto.SignerOpts {
	if alg == SigRSAPSS {
		return &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}
	}
	return h
}

// verifySessionSignature checks one produced signature before it is released (fail closed
// against faults in the signer).
func verifySessionSignature(pub crypto.PublicKey, alg SignatureAlgorithm, h crypto.Hash, digest, sig []byte) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, digest, sig) {
			return errMismatch
		}
		return nil
	case *rsa.PublicKey:
		if alg == SigRSAPSS {
			return rsa.VerifyPSS(k, h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h})
		}
		return rsa.VerifyPKCS1v15(k, h, digest, sig)
	}
	return fmt.Errorf("unsupported public key %T", pub)
}

// checkLanguage accepts an empty tag or a short BCP 47-looking tag (letters, digits, '-').
func checkLanguage(tag string) error {
	if len(tag) > 35 {
		return Errorf(EINVALID, "language is not a language tag")
	}
	for _, r := range tag {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return Errorf(EINVALID, "language is not a language tag")
		}
	}
	return nil
}
