package pki

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/kyso-dev/kyso/signing"
)

var _ signing.ExternalCA = (*ExternalCA)(nil)

// Subject holds the deployment's fixed subject fields of CSRs for a licensed CA. CN is the
// user's display name and serialNumber the national id, always.
type Subject struct {
	// Organization is O; empty means the user's organization.
	Organization string
	// Country is C. Default: VN.
	Country string
}

// ExternalCA works with a licensed CA: it makes CSRs for server-held keys and checks the
// chains the CA issues against the deployment's trust anchors.
type ExternalCA struct {
	roots   *x509.CertPool
	subject Subject
}

// LoadExternalCA reads the trust anchors (a PEM bundle of CA certificates).
func LoadExternalCA(trustFile string, subject Subject) (*ExternalCA, error) {
	raw, err := os.ReadFile(trustFile)
	if err != nil {
		return nil, fmt.Errorf("read CA trust anchors: %w", err)
	}
	roots := x509.NewCertPool()
	n := 0
	for block, rest := pem.Decode(raw); block != nil; block, rest = pem.Decode(rest) {
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("CA trust anchors %s: certificate %d: %w", trustFile, n+1, err)
		}
		roots.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("CA trust anchors %s: no PEM certificate found", trustFile)
	}
	if subject.Country == "" {
		subject.Country = "VN"
	}
	return &ExternalCA{roots: roots, subject: subject}, nil
}

// CSR returns a DER PKCS#10 request signed by key, for the user.
func (e *ExternalCA) CSR(_ context.Context, u *signing.User, key crypto.Signer) ([]byte, error) {
	name := pkix.Name{CommonName: u.DisplayName, SerialNumber: u.NationalID, Country: []string{e.subject.Country}}
	if org := e.subject.Organization; org != "" {
		name.Organization = []string{org}
	} else if u.Organization != "" {
		name.Organization = []string{u.Organization}
	}
	tmpl := &x509.CertificateRequest{Subject: name}
	if u.Email != "" {
		tmpl.EmailAddresses = []string{u.Email}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return nil, fmt.Errorf("create CSR: %w", err)
	}
	return der, nil
}

// VerifyChain checks that cert chains through chain (issuer first) to a trust anchor at now
// and may sign documents.
func (e *ExternalCA) VerifyChain(cert *x509.Certificate, chain [][]byte, now time.Time) error {
	inter := x509.NewCertPool()
	for i, der := range chain {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("chain certificate %d is not DER X.509", i)
		}
		inter.AddCert(c)
	}
	_, err := cert.Verify(x509.VerifyOptions{Roots: e.roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return err
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		return errors.New("the certificate's key usage allows no signatures")
	}
	return nil
}
