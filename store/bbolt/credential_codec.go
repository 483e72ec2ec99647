package boltstore

import (
	"bytes"

	"github.com/kyso-dev/kyso/signing"
	"google.golang.org/protobuf/encoding/protowire"
)

// Credentials, read at every signature for the wrapped key and the certificate, are stored
// in the same binary form as sessions, behind their own format byte: as JSON, their
// base64 certificate chain took about 20 µs to decode. Credentials written before are JSON.
const credentialFormat = 0x02

// Field numbers of a credential record. Never reuse a number.
const (
	cID protowire.Number = iota + 1
	cUserID
	cKeyAlgorithm
	cStatus
	cIssuer
	cWrappedKey
	cCSR
	cCertificate
	cChain // repeated
	cCreatedAt
	cRevokedAt
)

func encodeCredential(c *signing.Credential) []byte {
	size := 256 + len(c.WrappedKey) + len(c.CSR) + len(c.Certificate)
	for _, der := range c.Chain {
		size += 8 + len(der)
	}
	b := make([]byte, 1, size)
	b[0] = credentialFormat
	b = appendString(b, cID, c.ID)
	b = appendString(b, cUserID, c.UserID)
	b = appendString(b, cKeyAlgorithm, string(c.KeyAlgorithm))
	b = appendString(b, cStatus, string(c.Status))
	b = appendString(b, cIssuer, c.Issuer)
	b = appendBytes(b, cWrappedKey, c.WrappedKey)
	b = appendBytes(b, cCSR, c.CSR)
	b = appendBytes(b, cCertificate, c.Certificate)
	for _, der := range c.Chain {
		b = protowire.AppendTag(b, cChain, protowire.BytesType)
		b = protowire.AppendBytes(b, der)
	}
	b = appendTime(b, cCreatedAt, c.CreatedAt)
	return appendTime(b, cRevokedAt, c.RevokedAt)
}

func decodeCredential(raw []byte, c *signing.Credential) error {
	if len(raw) == 0 || raw[0] != credentialFormat {
		return errBadRecord
	}
	return fields(raw[1:], func(n protowire.Number, v uint64, b []byte) error {
		switch n {
		case cID:
			c.ID = string(b)
		case cUserID:
			c.UserID = string(b)
		case cKeyAlgorithm:
			c.KeyAlgorithm = signing.KeyAlgorithm(b)
		case cStatus:
			c.Status = signing.CredentialStatus(b)
		case cIssuer:
			c.Issuer = string(b)
		case cWrappedKey:
			c.WrappedKey = bytes.Clone(b)
		case cCSR:
			c.CSR = bytes.Clone(b)
		case cCertificate:
			c.Certificate = bytes.Clone(b)
		case cChain:
			c.Chain = append(c.Chain, bytes.Clone(b))
		case cCreatedAt:
			c.CreatedAt = timeOf(v)
		case cRevokedAt:
			c.RevokedAt = timeOf(v)
		}
		return nil
	})
}
