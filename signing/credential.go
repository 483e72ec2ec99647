package signing

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"time"
)

// CreateCredential generates a key pair for the user and wraps it. With the development
// issuer (default) the built-in CA certifies it at once; with IssuerExternal the credential
// waits in pending_certificate with a CSR for the licensed CA. Returns EUSERNOTFOUND,
// EUNSUPPORTEDALGORITHM, EINVALID, EFORBIDDEN.
func (s *Service) CreateCredential(ctx context.Context, op *Operator, userID string, alg KeyAlgorithm, issuer string) (*Credential, error) {
	if err := requireWrite(op); err != nil {
		return nil, err
	}
	if alg == "" {
		alg = KeyECP256
	}
	if !alg.Valid() {
		return nil, Errorf(EUNSUPPORTEDALGORITHM, "keyAlgorithm must be EC-P256, EC-P384, RSA-2048 or RSA-3072")
	}
	switch issuer {
	case "", IssuerDevelopment:
		issuer = IssuerDevelopment
	case IssuerExternal:
		if s.cfg.ExternalCA == nil {
			return nil, Errorf(EINVALID, "no external CA is configured (start the server with --ca-trust)")
		}
	default:
		return nil, Errorf(EINVALID, `issuer must be "development" or "external"`)
	}
	u, err := s.User(ctx, userID)
	if err != nil {
		return nil, err
	}
	id, err := s.newID("cred_")
	if err != nil {
		return nil, err
	}
	wrapped, pub, err := s.keys.GenerateKey(ctx, alg, id, u.ID)
	if err != nil {
		return nil, fmt.Errorf("generate key for credential %s: %w", id, err)
	}
	c := &Credential{ID: id, UserID: u.ID, KeyAlgorithm: alg, Issuer: issuer, WrappedKey: wrapped, Chain: [][]byte{}, CreatedAt: s.cfg.Now().UTC()}
	if issuer == IssuerExternal {
		signer, err := s.keys.Signer(ctx, wrapped, id, u.ID, pub)
		if err != nil {
			return nil, err
		}
		if c.CSR, err = s.cfg.ExternalCA.CSR(ctx, u, signer); err != nil {
			return nil, fmt.Errorf("CSR for credential %s: %w", id, err)
		}
		c.Status = CredentialPendingCertificate
	} else {
		cert, chain, err := s.issuer.Issue(ctx, u, pub)
		if err != nil {
			return nil, fmt.Errorf("issue certificate for credential %s: %w", id, err)
		}
		// Fail closed: the certificate must certify exactly the key we hold.
		if err := s.checkKeyMatchesCertificate(ctx, wrapped, id, u.ID, cert); err != nil {
			return nil, err
		}
		c.Status, c.Certificate, c.Chain = CredentialActive, cert.Raw, chain
	}
	defer s.userCreds.drop(u.ID)
	if err := s.store.CreateCredential(ctx, c, s.audit("operator:"+op.ID, "credential.created", id, "user="+u.ID+" alg="+string(alg)+" issuer="+issuer)); err != nil {
		return nil, err
	}
	return c, nil
}

// Credential returns a credential by id. Returns ENOTFOUND.
func (s *Service) Credential(ctx context.Context, id string) (*Credential, error) {
	return s.store.Credential(ctx, id)
}

// ImportCertificate installs the chain a licensed CA issued for a pending credential. It is
// refused (ECERTREJECTED) unless the leaf certifies this credential's key, chains to a
// configured trust anchor and is valid now. Returns ENOTFOUND, EINVALID, EFORBIDDEN.
func (s *Service) ImportCertificate(ctx context.Context, op *Operator, id string, certDER []byte, chain [][]byte) (*Credential, error) {
	if err := requireWrite(op); err != nil {
		return nil, err
	}
	if s.cfg.ExternalCA == nil {
		return nil, Errorf(EINVALID, "no external CA is configured (start the server with --ca-trust)")
	}
	c, err := s.store.Credential(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.Status != CredentialPendingCertificate {
		return nil, Errorf(EINVALID, "the credential is %s, not waiting for a certificate", c.Status)
	}
	cert, err := x509.ParseCertificate(certDER)
	if err != nil {
		return nil, Errorf(ECERTREJECTED, "certificate is not a DER X.509 certificate")
	}
	csr, err := x509.ParseCertificateRequest(c.CSR)
	if err != nil {
		return nil, fmt.Errorf("parse stored CSR of %s: %w", id, err)
	}
	if k, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !k.Equal(csr.PublicKey) {
		return nil, Errorf(ECERTREJECTED, "the certificate is for another key than this credential's")
	}
	now := s.cfg.Now()
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return nil, Errorf(ECERTREJECTED, "the certificate is not valid now (valid %s to %s)", cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339))
	}
	if err := s.cfg.ExternalCA.VerifyChain(cert, chain, now); err != nil {
		return nil, Errorf(ECERTREJECTED, "the certificate does not chain to a trusted CA: %v", err)
	}
	if err := s.checkKeyMatchesCertificate(ctx, c.WrappedKey, c.ID, c.UserID, cert); err != nil {
		return nil, Errorf(ECERTREJECTED, "the certificate does not match the key held")
	}
	return s.updateCredential(ctx, id, func(cur *Credential) error {
		if cur.Status != CredentialPendingCertificate {
			return Errorf(EINVALID, "the credential is %s, not waiting for a certificate", cur.Status)
		}
		cur.Status, cur.Certificate, cur.Chain, cur.CSR = CredentialActive, cert.Raw, chain, nil
		return nil
	}, s.audit("operator:"+op.ID, "credential.certificate_imported", id, "serial="+cert.SerialNumber.Text(16)+" issuer="+cert.Issuer.String()))
}

// usable returns nil if c may sign at now, else the code that says why not:
// ECREDENTIALREVOKED, ECREDENTIALSUSPENDED, ECREDENTIALEXPIRED, ENOACTIVECREDENTIAL.
// cert is c's certificate parsed (nil if it does not parse).
func (c *Credential) usable(now time.Time, cert *x509.Certificate) error {
	switch c.Status {
	case CredentialRevoked:
		return Errorf(ECREDENTIALREVOKED, "the credential was revoked and its key destroyed")
	case CredentialSuspended:
		return Errorf(ECREDENTIALSUSPENDED, "the credential is suspended")
	case CredentialPendingCertificate:
		return Errorf(ENOACTIVECREDENTIAL, "the credential's certificate has not been imported yet")
	case CredentialActive:
	default:
		return Errorf(ENOACTIVECREDENTIAL, "the credential is %s", c.Status)
	}
	if cert == nil {
		return Errorf(ENOACTIVECREDENTIAL, "the credential's certificate is unreadable")
	}
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return Errorf(ECREDENTIALEXPIRED, "the credential's certificate is not valid now (valid to %s)", cert.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}

// SetCredentialStatus suspends a credential (it refuses to sign until resumed) or resumes
// it. Returns ENOTFOUND, EINVALID, EFORBIDDEN.
func (s *Service) SetCredentialStatus(ctx context.Context, op *Operator, id string, suspend bool, reason string) (*Credential, error) {
	if err := requireWrite(op); err != nil {
		return nil, err
	}
	from, to, action := CredentialActive, CredentialSuspended, "credential.suspended"
	if !suspend {
		from, to, action = CredentialSuspended, CredentialActive, "credential.resumed"
	}
	return s.updateCredential(ctx, id, func(cur *Credential) error {
		if cur.Status != from {
			return Errorf(EINVALID, "the credential is %s", cur.Status)
		}
		cur.Status = to
		return nil
	}, s.audit("operator:"+op.ID, action, id, reason))
}

// RevokeCredential revokes a credential for good and destroys its key (crypto-shredding):
// the wrapped key is deleted from the store and the store's free space scrubbed of it; the
// audit log keeps the fact. Returns ENOTFOUND, EFORBIDDEN.
func (s *Service) RevokeCredential(ctx context.Context, op *Operator, id, reason string) (*Credential, error) {
	if err := requireWrite(op); err != nil {
		return nil, err
	}
	now := s.cfg.Now().UTC()
	c, err := s.updateCredential(ctx, id, func(cur *Credential) error {
		if cur.Status == CredentialRevoked {
			return errUnchanged
		}
		clear(cur.WrappedKey)
		cur.Status, cur.WrappedKey, cur.RevokedAt = CredentialRevoked, nil, now
		return nil
	}, s.audit("operator:"+op.ID, "credential.revoked_key_destroyed", id, reason))
	if isUnchanged(err) {
		return s.store.Credential(ctx, id)
	}
	if err != nil {
		return nil, err
	}
	if err := s.store.Scrub(ctx); err != nil {
		return nil, fmt.Errorf("the key of %s is deleted but the store could not be scrubbed (run it again): %w", id, err)
	}
	s.log.Info("credential revoked; its key is destroyed", "credential", id)
	return c, nil
}

// updateCredential is the store's UpdateCredential that also forgets the user's cached
// credential list, so that this process never chooses from a stale one.
func (s *Service) updateCredential(ctx context.Context, id string, fn func(*Credential) error, a AuditRecord) (*Credential, error) {
	var userID string
	c, err := s.store.UpdateCredential(ctx, id, func(cur *Credential) error {
		userID = cur.UserID
		return fn(cur)
	}, a)
	s.userCreds.drop(userID)
	return c, err
}

// parsedCertificate returns c's certificate parsed, from a cache keyed by credential id: a
// certificate never changes once set, so it is parsed once, not at every transaction.
func (s *Service) parsedCertificate(c *Credential) (*x509.Certificate, error) {
	now := s.cfg.Now()
	if cert, ok := s.parsed.get(c.ID, now); ok && bytes.Equal(cert.Raw, c.Certificate) {
		return cert, nil
	}
	cert, err := x509.ParseCertificate(c.Certificate)
	if err != nil {
		return nil, err
	}
	s.parsed.put(c.ID, cert, now)
	return cert, nil
}

// usableNow tells whether c may sign now, with its certificate parsed once (cached).
func (s *Service) usableNow(c *Credential) error {
	cert, err := s.parsedCertificate(c)
	if err != nil {
		cert = nil
	}
	return c.usable(s.cfg.Now(), cert)
}
