// Package pki issues and handles certificates: the development CA that certifies users' keys
// on the embedded default.
package pki

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"sync"
	"time"

	"github.com/kyso-dev/kyso/internal/atomicfile"
	"github.com/kyso-dev/kyso/signing"
)

var (
	_ signing.Issuer    = (*DevCA)(nil)
	_ signing.KeyHolder = (*DevCA)(nil)
)

// DevCA is a two-level development CA (root and issuing CA) whose keys are wrapped by the
// same key custody as users' keys. It is for the embedded default and tests; production
// deployments use certificates from a licensed CA.
type DevCA struct {
	mu            sync.RWMutex
	path          string
	file          caFile
	keys          signing.Keys
	root, issuing *x509.Certificate
	signer        crypto.Signer
	now           func() time.Time
	// Validity is the lifetime of issued user certificates.
	Validity time.Duration
}

// caFile is the on-disk form of the CA: certificates and wrapped keys, nothing in the clear.
type caFile struct {
	Root          []byte `json:"root"`
	RootKey       []byte `json:"rootKeyWrapped"`
	Issuing       []byte `json:"issuing"`
	IssuingKey    []byte `json:"issuingKeyWrapped"`
	FormatVersion int    `json:"formatVersion"`
}

const (
	caOwner      = "kyso-dev-ca"
	rootKeyID    = "dev-ca-root"
	issuingKeyID = "dev-ca-issuing"
)

// OpenDevCA loads the development CA kept in path, creating it on first use.
func OpenDevCA(ctx context.Context, path string, keys signing.Keys, now func() time.Time) (ca *DevCA, created bool, err error) {
	if now == nil {
		now = time.Now
	}
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return createDevCA(ctx, path, keys, now)
	}
	if err != nil {
		return nil, false, fmt.Errorf("read development CA: %w", err)
	}
	var f caFile
	if err := json.Unmarshal(raw, &f); err != nil || f.FormatVersion != 1 {
		return nil, false, fmt.Errorf("development CA file %s is damaged or of an unknown version", path)
	}
	ca, err = loadDevCA(ctx, path, &f, keys, now)
	return ca, false, err
}

func loadDevCA(ctx context.Context, path string, f *caFile, keys signing.Keys, now func() time.Time) (*DevCA, error) {
	root, err := x509.ParseCertificate(f.Root)
	if err != nil {
		return nil, fmt.Errorf("parse development root CA: %w", err)
	}
	issuing, err := x509.ParseCertificate(f.Issuing)
	if err != nil {
		return nil, fmt.Errorf("parse development issuing CA: %w", err)
	}
	if err := issuing.CheckSignatureFrom(root); err != nil {
		return nil, fmt.Errorf("development issuing CA is not signed by its root: %w", err)
	}
	signer, err := keys.Signer(ctx, f.IssuingKey, issuingKeyID, caOwner, issuing.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("open development CA key: %w", err)
	}
	return &DevCA{path: path, file: *f, keys: keys, root: root, issuing: issuing, signer: signer, now: now, Validity: 2 * 365 * 24 * time.Hour}, nil
}

func createDevCA(ctx context.Context, path string, keys signing.Keys, now func() time.Time) (*DevCA, bool, error) {
	rootWrapped, rootPub, err := keys.GenerateKey(ctx, signing.KeyECP384, rootKeyID, caOwner)
	if err != nil {
		return nil, false, fmt.Errorf("generate development root key: %w", err)
	}
	rootSigner, err := keys.Signer(ctx, rootWrapped, rootKeyID, caOwner, rootPub)
	if err != nil {
		return nil, false, err
	}
	start := now().Add(-time.Hour).UTC()
	rootTmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: "Kyso Development Root CA", Organization: []string{"Kyso (development only)"}},
		NotBefore:    start, NotAfter: start.Add(20 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true, IsCA: true, MaxPathLen: 1,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rootPub, rootSigner)
	if err != nil {
		return nil, false, fmt.Errorf("create development root: %w", err)
	}
	root, _ := x509.ParseCertificate(rootDER)
	issWrapped, issPub, err := keys.GenerateKey(ctx, signing.KeyECP384, issuingKeyID, caOwner)
	if err != nil {
		return nil, false, fmt.Errorf("generate development issuing key: %w", err)
	}
	issTmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: "Kyso Development Issuing CA", Organization: []string{"Kyso (development only)"}},
		NotBefore:    start, NotAfter: start.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true,
	}
	issDER, err := x509.CreateCertificate(rand.Reader, issTmpl, root, issPub, rootSigner)
	if err != nil {
		return nil, false, fmt.Errorf("create development issuing CA: %w", err)
	}
	f := &caFile{Root: rootDER, RootKey: rootWrapped, Issuing: issDER, IssuingKey: issWrapped, FormatVersion: 1}
	raw, err := json.Marshal(f)
	if err != nil {
		return nil, false, err
	}
	if err := atomicfile.Write(path, raw, 0o600); err != nil {
		return nil, false, fmt.Errorf("save development CA: %w", err)
	}
	ca, err := loadDevCA(ctx, path, f, keys, now)
	return ca, err == nil, err
}

// WrappedKeys returns the CA's two wrapped keys (for KEK status).
func (ca *DevCA) WrappedKeys() [][]byte {
	ca.mu.RLock()
	defer ca.mu.RUnlock()
	return [][]byte{ca.file.RootKey, ca.file.IssuingKey}
}

// RewrapHeld re-wraps the CA's keys under the primary KEK key, saves the file and signs with
// the new blob from now on.
func (ca *DevCA) RewrapHeld(ctx context.Context, rw signing.Rewrapper) (int, error) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	f := ca.file
	root, c1, err := rw.Rewrap(f.RootKey, rootKeyID, caOwner)
	if err != nil {
		return 0, fmt.Errorf("rewrap development root key: %w", err)
	}
	iss, c2, err := rw.Rewrap(f.IssuingKey, issuingKeyID, caOwner)
	if err != nil {
		return 0, fmt.Errorf("rewrap development issuing key: %w", err)
	}
	if !c1 && !c2 {
		return 0, nil
	}
	f.RootKey, f.IssuingKey = root, iss
	signer, err := ca.keys.Signer(ctx, iss, issuingKeyID, caOwner, ca.issuing.PublicKey)
	if err != nil {
		return 0, err
	}
	raw, err := json.Marshal(f)
	if err != nil {
		return 0, err
	}
	if err := atomicfile.Write(ca.path, raw, 0o600); err != nil {
		return 0, fmt.Errorf("save development CA: %w", err)
	}
	ca.file, ca.signer = f, signer
	n := 0
	for _, c := range []bool{c1, c2} {
		if c {
			n++
		}
	}
	return n, nil
}

// Root returns the root certificate, the trust anchor for verifiers.
func (ca *DevCA) Root() *x509.Certificate { return ca.root }

// Issue certifies pub for the user: subject CN = display name, serialNumber = national id,
// key usage digitalSignature and nonRepudiation.
func (ca *DevCA) Issue(_ context.Context, u *signing.User, pub crypto.PublicKey) (*x509.Certificate, [][]byte, error) {
	start := ca.now().Add(-5 * time.Minute).UTC()
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: u.DisplayName, SerialNumber: u.NationalID, Country: []string{"VN"}},
		NotBefore:    start,
		NotAfter:     start.Add(ca.Validity),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
	}
	if u.Organization != "" {
		tmpl.Subject.Organization = []string{u.Organization}
	}
	if u.Email != "" {
		tmpl.EmailAddresses = []string{u.Email}
	}
	ca.mu.RLock()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.issuing, pub, ca.signer)
	ca.mu.RUnlock()
	if err != nil {
		return nil, nil, fmt.Errorf("issue certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("parse issued certificate: %w", err)
	}
	return cert, [][]byte{ca.issuing.Raw, ca.root.Raw}, nil
}

func randomSerial() *big.Int {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[0] &= 0x7f
	return new(big.Int).SetBytes(b)
}
