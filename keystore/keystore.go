package keystore

import (
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

	"github.com/kyso-dev/kyso/signing"
)

// formatV1 is the first byte of every blob this package writes.
const formatV1 = 1

var (
	_ signing.Keys        = (*Keystore)(nil)
	_ signing.KeyRotation = (*Keystore)(nil)
)

// Keystore wraps and unwraps keys with the KEK.
type Keystore struct {
	kek  *KEK
	rand io.Reader
}

// New returns a Keystore over the KEK.
func New(kek *KEK) *Keystore { return &Keystore{kek: kek, rand: rand.Reader} }

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

// Rewrap re-wraps a credential's key under the primary KEK key; changed is false (and the
// blob returned as it is) when it already is.
func (k *Keystore) Rewrap(blob []byte, credentialID, userID string) ([]byte, bool, error) {
	return k.rewrap(blob, KeyAssociatedData(credentialID, userID))
}

// Reseal is Rewrap for a secret sealed under label.
func (k *Keystore) Reseal(sealed []byte, label string) ([]byte, bool, error) {
	return k.rewrap(sealed, sealAD(label))
}

func (k *Keystore) rewrap(blob, ad []byte) ([]byte, bool, error) {
	id, err := BlobKeyID(blob)
	if err != nil {
		return nil, false, err
	}
	if id == k.kek.Primary() {
		return blob, false, nil
	}
	pt, err := k.unwrap(blob, ad)
	if err != nil {
		return nil, false, err
	}
	defer clear(pt)
	out, err := k.wrap(pt, ad)
	return out, err == nil, err
}

// BlobKeyID returns the id of the KEK key that wrapped blob.
func (k *Keystore) BlobKeyID(blob []byte) (uint32, error) { return BlobKeyID(blob) }

// KEKKeys lists the KEK's keys.
func (k *Keystore) KEKKeys() []signing.KEKKey { return k.kek.Keys() }

// RotateKEK adds a new primary KEK key.
func (k *Keystore) RotateKEK() (uint32, error) { return k.kek.Rotate() }

// DisableKEKKey disables a KEK key (the caller checks no blob uses it).
func (k *Keystore) DisableKEKKey(id uint32) error { return k.kek.Disable(id) }

func sealAD(label string) []byte { return []byte("kyso/secret/v1\x00" + label) }

// Seal encrypts a small secret bound to label.
func (k *Keystore) Seal(plaintext []byte, label string) ([]byte, error) {
	return k.wrap(plaintext, sealAD(label))
}

// Open decrypts what Seal sealed under the same label.
func (k *Keystore) Open(sealed []byte, label string) ([]byte, error) {
	return k.unwrap(sealed, sealAD(label))
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
