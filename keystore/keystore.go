package keystore

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/kyso-dev/kyso/signing"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// formatV1 is the first byte of every blob this package writes.
const formatV1 = 1

var _ signing.Keys = (*Keystore)(nil)

// Keystore wraps and unwraps keys with one Tink AEAD.
type Keystore struct {
	kek  tink.AEAD
	rand io.Reader
}

// New returns a Keystore over the KEK primitive.
func New(kek tink.AEAD) *Keystore { return &Keystore{kek: kek, rand: rand.Reader} }

// OpenLocalKEK opens the AES-256-GCM Tink keyset at path, creating it (mode 0600) if it does
// not exist. created tells whether it was made now.
func OpenLocalKEK(path string) (kek tink.AEAD, created bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return createLocalKEK(path)
	}
	if err != nil {
		return nil, false, fmt.Errorf("open KEK keyset: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, false, fmt.Errorf("KEK keyset %s is readable by others (mode %o); chmod 600 it", path, fi.Mode().Perm())
	}
	h, err := insecurecleartextkeyset.Read(keyset.NewJSONReader(f))
	if err != nil {
		return nil, false, fmt.Errorf("read KEK keyset: %w", err)
	}
	kek, err = aead.New(h)
	if err != nil {
		return nil, false, fmt.Errorf("KEK primitive: %w", err)
	}
	return kek, false, nil
}

func createLocalKEK(path string) (tink.AEAD, bool, error) {
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		return nil, false, fmt.Errorf("generate KEK keyset: %w", err)
	}
	var buf bytes.Buffer
	if err := insecurecleartextkeyset.Write(h, keyset.NewJSONWriter(&buf)); err != nil {
		return nil, false, fmt.Errorf("encode KEK keyset: %w", err)
	}
	defer clear(buf.Bytes())
	// O_EXCL: never overwrite a KEK that appeared meanwhile; that would orphan every key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("create KEK keyset: %w", err)
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Close()
		return nil, false, fmt.Errorf("write KEK keyset: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, false, fmt.Errorf("sync KEK keyset: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, false, fmt.Errorf("close KEK keyset: %w", err)
	}
	kek, err := aead.New(h)
	if err != nil {
		return nil, false, fmt.Errorf("KEK primitive: %w", err)
	}
	return kek, true, nil
}

// KeyAssociatedData is the associated data that binds a wrapped key to its credential and user.
func KeyAssociatedData(credentialID, userID string) []byte {
	return []byte("kyso/credential-key/v1\x00" + credentialID + "\x00" + userID)
}

// GenerateKey creates a key pair of the given algorithm and returns it wrapped.
func (k *Keystore) GenerateKey(_ context.Context, alg signing.KeyAlgorithm, credentialID, userID string) ([]byte, crypto.PublicKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case signing.KeyECP256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), k.rand)
	case signing.KeyECP384:
		priv, err = ecdsa.GenerateKey(elliptic.P384(), k.rand)
	case signing.KeyRSA2048:
		priv, err = rsa.GenerateKey(k.rand, 2048)
	case signing.KeyRSA3072:
		priv, err = rsa.GenerateKey(k.rand, 3072)
	default:
		return nil, nil, signing.Errorf(signing.EUNSUPPORTEDALGORITHM, "unsupported key algorithm %q", alg)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("generate %s key: %w", alg, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, fmt.Errorf("encode %s key: %w", alg, err)
	}
	defer clear(der)
	wrapped, err := k.wrap(der, KeyAssociatedData(credentialID, userID))
	if err != nil {
		return nil, nil, err
	}
	return wrapped, priv.Public(), nil
}

func (k *Keystore) wrap(plaintext, ad []byte) ([]byte, error) {
	ct, err := k.kek.Encrypt(plaintext, ad)
	if err != nil {
		return nil, fmt.Errorf("wrap: %w", err)
	}
	return append([]byte{formatV1}, ct...), nil
}

func (k *Keystore) unwrap(blob, ad []byte) ([]byte, error) {
	if len(blob) < 2 || blob[0] != formatV1 {
		return nil, errors.New("unwrap: unknown blob format")
	}
	pt, err := k.kek.Decrypt(blob[1:], ad)
	if err != nil {
		// Tink's error says nothing secret, but keep ours uniform.
		return nil, errors.New("unwrap: the blob does not open with this KEK for this credential")
	}
	return pt, nil
}

// Seal encrypts a small secret bound to label.
func (k *Keystore) Seal(plaintext []byte, label string) ([]byte, error) {
	return k.wrap(plaintext, []byte("kyso/secret/v1\x00"+label))
}

// Open decrypts what Seal sealed under the same label.
func (k *Keystore) Open(sealed []byte, label string) ([]byte, error) {
	return k.unwrap(sealed, []byte("kyso/secret/v1\x00"+label))
}

// Signer returns a signer over the wrapped key. Nothing is unwrapped until it signs.
func (k *Keystore) Signer(_ context.Context, wrapped []byte, credentialID, userID string, pub crypto.PublicKey) (crypto.Signer, error) {
	if _, ok := pub.(interface{ Equal(crypto.PublicKey) bool }); !ok {
		return nil, fmt.Errorf("unsupported public key type %T", pub)
	}
	return &keySigner{ks: k, wrapped: wrapped, ad: KeyAssociatedData(credentialID, userID), pub: pub}, nil
}

// keySigner unwraps its key for every operation and wipes it afterwards.
type keySigner struct {
	ks      *Keystore
	wrapped []byte
	ad      []byte
	pub     crypto.PublicKey
}

var _ signing.MultiSigner = (*keySigner)(nil)

func (s *keySigner) Public() crypto.PublicKey { return s.pub }

func (s *keySigner) Sign(rnd io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sigs, err := s.signAll(rnd, [][]byte{digest}, opts)
	if err != nil {
		return nil, err
	}
	return sigs[0], nil
}

// SignDigests signs several digests with one unwrap.
func (s *keySigner) SignDigests(digests [][]byte, opts crypto.SignerOpts) ([][]byte, error) {
	return s.signAll(rand.Reader, digests, opts)
}

func (s *keySigner) signAll(rnd io.Reader, digests [][]byte, opts crypto.SignerOpts) ([][]byte, error) {
	der, err := s.ks.unwrap(s.wrapped, s.ad)
	if err != nil {
		return nil, err
	}
	defer clear(der)
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, errors.New("unwrapped key does not parse as PKCS#8")
	}
	priv, ok := parsed.(crypto.Signer)
	if !ok || !priv.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(s.pub) {
		return nil, errors.New("unwrapped key does not match the credential's public key")
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	out := make([][]byte, len(digests))
	for i, d := range digests {
		if out[i], err = priv.Sign(rnd, d, opts); err != nil {
			return nil, fmt.Errorf("sign digest %d: %w", i, err)
		}
	}
	return out, nil
}
