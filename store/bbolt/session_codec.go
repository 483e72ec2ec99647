package boltstore

import (
	"bytes"
	"errors"
	"time"

	"github.com/kyso-dev/kyso/signing"
	"google.golang.org/protobuf/encoding/protowire"
)

// Sessions, read and rewritten several times per transaction, are stored in a compact binary
// form rather than JSON: one format byte, then the protobuf wire format with the field
// numbers below (unknown fields are skipped, so fields can be added). Credentials have a
// binary form of their own (credential_codec.go); records of other kinds, and those written
// before, are JSON, which always starts with '{'.
const sessionFormat = 0x01

// Field numbers of a session record and its parts. Never reuse a number.
const (
	sID protowire.Number = iota + 1
	sRelyingPartyID
	sRelyingPartyName
	sUserID
	sCredentialID
	sHashAlgorithm
	sSignatureAlgorithm
	sDocument // repeated
	sDisplayText
	sCallbackURL
	sVerificationCode
	sState
	sCreatedAt // Unix nanoseconds; absent when zero
	sExpiresAt
	sCompletedAt
	sError
	sApproval
	sCallbackDelivered
	sCallbackAbandoned
	sInteraction
	sCodeChoice // repeated
	sDelivery   // repeated
)

const (
	docLabel protowire.Number = iota + 1
	docHash
	docSignature
)

const (
	errCode protowire.Number = iota + 1
	errDetail
)

const (
	apDeviceID protowire.Number = iota + 1
	apDecision
	apPickedCode
	apChallenge
	apSignature
	apAt
)

const (
	dlDeviceID protowire.Number = iota + 1
	dlOutcome
	dlAttempts
	dlDetail
	dlAt
)

func encodeSession(s *signing.Session) []byte {
	b := make([]byte, 1, 512)
	b[0] = sessionFormat
	b = appendString(b, sID, s.ID)
	b = appendString(b, sRelyingPartyID, s.RelyingPartyID)
	b = appendString(b, sRelyingPartyName, s.RelyingPartyName)
	b = appendString(b, sUserID, s.UserID)
	b = appendString(b, sCredentialID, s.CredentialID)
	b = appendString(b, sHashAlgorithm, string(s.HashAlgorithm))
	b = appendString(b, sSignatureAlgorithm, string(s.SignatureAlgorithm))
	for _, d := range s.Documents {
		var m []byte
		m = appendString(m, docLabel, d.Label)
		m = appendBytes(m, docHash, d.Hash)
		m = appendBytes(m, docSignature, d.Signature)
		b = appendMessage(b, sDocument, m)
	}
	b = appendString(b, sDisplayText, s.DisplayText)
	b = appendString(b, sCallbackURL, s.CallbackURL)
	b = appendString(b, sVerificationCode, s.VerificationCode)
	b = appendString(b, sState, string(s.State))
	b = appendTime(b, sCreatedAt, s.CreatedAt)
	b = appendTime(b, sExpiresAt, s.ExpiresAt)
	b = appendTime(b, sCompletedAt, s.CompletedAt)
	if e := s.Error; e != nil {
		var m []byte
		m = appendString(m, errCode, e.Code)
		m = appendString(m, errDetail, e.Detail)
		b = appendMessage(b, sError, m)
	}
	if a := s.Approval; a != nil {
		var m []byte
		m = appendString(m, apDeviceID, a.DeviceID)
		m = appendString(m, apDecision, string(a.Decision))
		m = appendString(m, apPickedCode, a.PickedCode)
		m = appendBytes(m, apChallenge, a.Challenge)
		m = appendBytes(m, apSignature, a.Signature)
		m = appendTime(m, apAt, a.At)
		b = appendMessage(b, sApproval, m)
	}
	b = appendBool(b, sCallbackDelivered, s.CallbackDelivered)
	b = appendBool(b, sCallbackAbandoned, s.CallbackAbandoned)
	b = appendString(b, sInteraction, s.Interaction)
	for _, c := range s.CodeChoices {
		b = protowire.AppendTag(b, sCodeChoice, protowire.BytesType)
		b = protowire.AppendString(b, c)
	}
	for _, d := range s.Deliveries {
		var m []byte
		m = appendString(m, dlDeviceID, d.DeviceID)
		m = appendString(m, dlOutcome, d.Outcome)
		if d.Attempts != 0 {
			m = protowire.AppendTag(m, dlAttempts, protowire.VarintType)
			m = protowire.AppendVarint(m, protowire.EncodeZigZag(int64(d.Attempts)))
		}
		m = appendString(m, dlDetail, d.Detail)
		m = appendTime(m, dlAt, d.At)
		b = appendMessage(b, sDelivery, m)
	}
	return b
}

// Empty values are left out; decoding leaves them zero.
func appendString(b []byte, n protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, n, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendBytes(b []byte, n protowire.Number, v []byte) []byte {
	if v == nil {
		return b
	}
	b = protowire.AppendTag(b, n, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func appendMessage(b []byte, n protowire.Number, m []byte) []byte {
	b = protowire.AppendTag(b, n, protowire.BytesType)
	return protowire.AppendBytes(b, m)
}

func appendBool(b []byte, n protowire.Number, v bool) []byte {
	if !v {
		return b
	}
	b = protowire.AppendTag(b, n, protowire.VarintType)
	return protowire.AppendVarint(b, 1)
}

func appendTime(b []byte, n protowire.Number, t time.Time) []byte {
	if t.IsZero() {
		return b
	}
	b = protowire.AppendTag(b, n, protowire.VarintType)
	return protowire.AppendVarint(b, protowire.EncodeZigZag(t.UnixNano()))
}

var errBadRecord = errors.New("malformed binary record")

// fields calls fn for each field of the message b with its varint value or its bytes.
func fields(b []byte, fn fieldFunc) error {
	for len(b) > 0 {
		n, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return errBadRecord
		}
		b = b[l:]
		var v uint64
		var raw []byte
		switch typ {
		case protowire.VarintType:
			v, l = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			raw, l = protowire.ConsumeBytes(b)
		default: // a field of a later version: skip it
			l = protowire.ConsumeFieldValue(n, typ, b)
		}
		if l < 0 {
			return errBadRecord
		}
		b = b[l:]
		if typ == protowire.VarintType || typ == protowire.BytesType {
			if err := fn(n, v, raw); err != nil {
				return err
			}
		}
	}
	return nil
}

func timeOf(v uint64) time.Time { return time.Unix(0, protowire.DecodeZigZag(v)).UTC() }

func decodeSession(raw []byte, s *signing.Session) error {
	if len(raw) == 0 || raw[0] != sessionFormat {
		return errBadRecord
	}
	return fields(raw[1:], func(n protowire.Number, v uint64, b []byte) error {
		switch n {
		case sID:
			s.ID = string(b)
		case sRelyingPartyID:
			s.RelyingPartyID = string(b)
		case sRelyingPartyName:
			s.RelyingPartyName = string(b)
		case sUserID:
			s.UserID = string(b)
		case sCredentialID:
			s.CredentialID = string(b)
		case sHashAlgorithm:
			s.HashAlgorithm = signing.HashAlgorithm(b)
		case sSignatureAlgorithm:
			s.SignatureAlgorithm = signing.SignatureAlgorithm(b)
		case sDocument:
			s.Documents = append(s.Documents, signing.Document{})
			return fields(b, decodeDocument(&s.Documents[len(s.Documents)-1]))
		case sDisplayText:
			s.DisplayText = string(b)
		case sCallbackURL:
			s.CallbackURL = string(b)
		case sVerificationCode:
			s.VerificationCode = string(b)
		case sState:
			s.State = signing.State(b)
		case sCreatedAt:
			s.CreatedAt = timeOf(v)
		case sExpiresAt:
			s.ExpiresAt = timeOf(v)
		case sCompletedAt:
			s.CompletedAt = timeOf(v)
		case sError:
			s.Error = &signing.SessionError{}
			return fields(b, decodeError(s.Error))
		case sApproval:
			s.Approval = &signing.Approval{}
			return fields(b, decodeApproval(s.Approval))
		case sCallbackDelivered:
			s.CallbackDelivered = v != 0
		case sCallbackAbandoned:
			s.CallbackAbandoned = v != 0
		case sInteraction:
			s.Interaction = string(b)
		case sCodeChoice:
			s.CodeChoices = append(s.CodeChoices, string(b))
		case sDelivery:
			s.Deliveries = append(s.Deliveries, signing.Delivery{})
			return fields(b, decodeDelivery(&s.Deliveries[len(s.Deliveries)-1]))
		}
		return nil
	})
}

// fieldFunc receives one field of a message. Bytes must be copied out (bytes.Clone): the
// record lives in the store's memory map; strings copy by conversion.
type fieldFunc = func(n protowire.Number, v uint64, b []byte) error

func decodeDocument(d *signing.Document) fieldFunc {
	return func(n protowire.Number, _ uint64, b []byte) error {
		switch n {
		case docLabel:
			d.Label = string(b)
		case docHash:
			d.Hash = bytes.Clone(b)
		case docSignature:
			d.Signature = bytes.Clone(b)
		}
		return nil
	}
}

func decodeError(e *signing.SessionError) fieldFunc {
	return func(n protowire.Number, _ uint64, b []byte) error {
		switch n {
		case errCode:
			e.Code = string(b)
		case errDetail:
			e.Detail = string(b)
		}
		return nil
	}
}

func decodeApproval(a *signing.Approval) fieldFunc {
	return func(n protowire.Number, v uint64, b []byte) error {
		switch n {
		case apDeviceID:
			a.DeviceID = string(b)
		case apDecision:
			a.Decision = signing.Decision(b)
		case apPickedCode:
			a.PickedCode = string(b)
		case apChallenge:
			a.Challenge = bytes.Clone(b)
		case apSignature:
			a.Signature = bytes.Clone(b)
		case apAt:
			a.At = timeOf(v)
		}
		return nil
	}
}

func decodeDelivery(d *signing.Delivery) fieldFunc {
	return func(n protowire.Number, v uint64, b []byte) error {
		switch n {
		case dlDeviceID:
			d.DeviceID = string(b)
		case dlOutcome:
			d.Outcome = string(b)
		case dlAttempts:
			d.Attempts = int(protowire.DecodeZigZag(v))
		case dlDetail:
			d.Detail = string(b)
		case dlAt:
			d.At = timeOf(v)
		}
		return nil
	}
}
