package boltstore

import (
	stdjson "encoding/json"
	"reflect"
	"testing"
	"time"

	json "github.com/go-json-experiment/json"
	"github.com/kyso-dev/kyso/signing"
)

// Records written by encoding/json — every data file before the faster codecs — read back
// unchanged. What the store writes now reads back unchanged, and records other than
// sessions and credentials (stored in binary) still decode with encoding/json.
func TestRecordsCompatibleWithEncodingJSON(t *testing.T) {
	at := time.Date(2026, 11, 23, 8, 30, 1, 123456789, time.UTC)
	records := []any{
		&signing.Session{ID: "ses_1", RelyingPartyID: "rp_1", RelyingPartyName: "Cổng dịch vụ công", UserID: "usr_1", CredentialID: "cred_1",
			HashAlgorithm: "SHA-256", SignatureAlgorithm: signing.SigECDSA,
			Documents:   []signing.Document{{Label: "Tờ khai", Hash: []byte{1, 2, 3}, Signature: []byte{4, 5}}, {Label: "b", Hash: []byte{6}}},
			DisplayText: "Ký \"tờ khai\" <b>", CallbackURL: "https://portal.example/cb", VerificationCode: "0042", State: signing.StateSigned,
			CreatedAt: at, ExpiresAt: at.Add(time.Minute), CompletedAt: at.Add(time.Second),
			Error:             &signing.SessionError{Code: "X", Detail: "y"},
			Approval:          &signing.Approval{DeviceID: "dev_1", Decision: signing.Approve, PickedCode: "0042", Challenge: []byte("c"), Signature: []byte("s"), At: at},
			CallbackDelivered: true, Interaction: signing.InteractionCodeChoice, CodeChoices: []string{"1", "0042", "3"},
			Deliveries: []signing.Delivery{{DeviceID: "dev_1", Outcome: "delivered", Attempts: 2, Detail: "d", At: at}}},
		&signing.Session{ID: "ses_2", State: signing.StatePending, CreatedAt: at}, // nils and zeros
		&signing.Credential{ID: "cred_1", UserID: "usr_1", KeyAlgorithm: "EC-P256", Status: signing.CredentialActive, Issuer: "external",
			WrappedKey: []byte{1}, CSR: []byte{2}, Certificate: []byte{3}, Chain: [][]byte{{4}, {5}}, CreatedAt: at},
		&signing.Credential{ID: "cred_2", Status: signing.CredentialRevoked, RevokedAt: at},
		&signing.Device{ID: "dev_1", UserID: "usr_1", Name: "iPad", Platform: "ipados", Status: signing.DeviceActive, PublicKey: []byte{9},
			PushToken: "tok", Language: "vi", CreatedAt: at, LastSeenAt: at},
		&signing.AuditRecord{Seq: 7, Time: at, Actor: "a", Action: "b", Subject: "c", PrevHash: []byte{1}, Hash: []byte{2}},
	}
	for _, want := range records {
		typ := reflect.TypeOf(want).Elem()
		old, err := stdjson.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		got := reflect.New(typ).Interface()
		if err := decodeRecord(old, got); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s written by encoding/json: read %+v (%v), want %+v", typ, got, err, want)
		}
		now, err := encodeRecord(want)
		if err != nil {
			t.Fatal(err)
		}
		got = reflect.New(typ).Interface()
		if err := decodeRecord(now, got); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s written now: read %+v (%v), want %+v", typ, got, err, want)
		}
		switch want.(type) {
		case *signing.Session, *signing.Credential:
			if now[0] != sessionFormat && now[0] != credentialFormat {
				t.Errorf("a %s was not written in a binary form: %q", typ, now)
			}
			continue
		}
		back := reflect.New(typ).Interface()
		if err := stdjson.Unmarshal(now, back); err != nil || !reflect.DeepEqual(back, want) {
			t.Errorf("%s written now: encoding/json reads %+v (%v), want %+v", typ, back, err, want)
		}
	}
}

// FuzzDecodeSession: any bytes after the format byte decode without a panic, and whatever
// decodes encodes to a record that decodes to the same session.
func FuzzDecodeSession(f *testing.F) {
	at := time.Date(2026, 11, 23, 8, 30, 1, 5, time.UTC)
	f.Add(encodeSession(&signing.Session{ID: "ses_1", State: signing.StateSigned, CreatedAt: at,
		Documents: []signing.Document{{Label: "a", Hash: []byte{1}, Signature: []byte{2}}},
		Approval:  &signing.Approval{DeviceID: "d", Challenge: []byte("c"), At: at},
		Error:     &signing.SessionError{Code: "X"}, CodeChoices: []string{"1", "2", "3"},
		Deliveries: []signing.Delivery{{DeviceID: "d", Attempts: -1, At: at}}})[1:])
	f.Add([]byte{0x0a, 0xff})
	f.Fuzz(func(t *testing.T, body []byte) {
		reencodes(t, append([]byte{sessionFormat}, body...), decodeSession, encodeSession, normalize)
	})
}

// reencodes: if raw decodes, what it decodes to encodes to a record that decodes the same
// (up to normalize).
func reencodes[T any](t *testing.T, raw []byte, decode func([]byte, *T) error, encode func(*T) []byte, normalize func(*T) *T) {
	var v T
	if decode(raw, &v) != nil {
		return
	}
	var again T
	if err := decode(encode(&v), &again); err != nil || !reflect.DeepEqual(normalize(&again), normalize(&v)) {
		t.Fatalf("re-encoded %T differs: %+v (%v), want %+v", v, again, err, v)
	}
}

// FuzzDecodeCredential: any bytes after the format byte decode without a panic, and whatever
// decodes encodes to a record that decodes to the same credential.
func FuzzDecodeCredential(f *testing.F) {
	at := time.Date(2026, 11, 23, 8, 30, 1, 5, time.UTC)
	f.Add(encodeCredential(&signing.Credential{ID: "cred_1", UserID: "usr_1", KeyAlgorithm: "RSA-2048", Status: signing.CredentialActive,
		WrappedKey: []byte{1}, Certificate: []byte{2}, Chain: [][]byte{{3}, {}}, CreatedAt: at, RevokedAt: at})[1:])
	f.Add([]byte{0x4a, 0x01})
	f.Fuzz(func(t *testing.T, body []byte) {
		reencodes(t, append([]byte{credentialFormat}, body...), decodeCredential, encodeCredential, normalizeCredential)
	})
}

// nz makes an empty byte slice nil: a record cannot tell them apart.
func nz(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func normalizeCredential(c *signing.Credential) *signing.Credential {
	c.WrappedKey, c.CSR, c.Certificate = nz(c.WrappedKey), nz(c.CSR), nz(c.Certificate)
	for i := range c.Chain {
		c.Chain[i] = nz(c.Chain[i])
	}
	return c
}

func normalize(s *signing.Session) *signing.Session {
	for i := range s.Documents {
		s.Documents[i].Hash, s.Documents[i].Signature = nz(s.Documents[i].Hash), nz(s.Documents[i].Signature)
	}
	if s.Approval != nil {
		s.Approval.Challenge, s.Approval.Signature = nz(s.Approval.Challenge), nz(s.Approval.Signature)
	}
	return s
}

// BenchmarkRecords: decoding and encoding a signed session's record and a credential's
// (with a certificate and a chain of two), in the binary forms the store writes and in the
// JSON form of older data files.
func BenchmarkRecords(b *testing.B) {
	at := time.Date(2026, 11, 23, 8, 30, 1, 0, time.UTC)
	s := &signing.Session{ID: "ses_0123456789abcdefghij", RelyingPartyID: "rp_0123456789abcdef", RelyingPartyName: "Cổng dịch vụ công",
		UserID: "usr_0123456789abcdef", CredentialID: "cred_0123456789abcdef", HashAlgorithm: "SHA-256", SignatureAlgorithm: signing.SigECDSA,
		Documents:   []signing.Document{{Label: "Tờ khai", Hash: make([]byte, 32), Signature: make([]byte, 71)}},
		DisplayText: "Ký tờ khai đăng ký thường trú", VerificationCode: "1234", State: signing.StateSigned,
		CreatedAt: at, ExpiresAt: at.Add(5 * time.Minute), CompletedAt: at.Add(time.Second),
		Approval: &signing.Approval{DeviceID: "dev_0123456789abcdef", Decision: signing.Approve, Challenge: make([]byte, 180), Signature: make([]byte, 71), At: at}}
	c := &signing.Credential{ID: "cred_0123456789abcdef", UserID: "usr_0123456789abcdef", KeyAlgorithm: "EC-P256", Status: signing.CredentialActive,
		WrappedKey: make([]byte, 180), Certificate: make([]byte, 700), Chain: [][]byte{make([]byte, 800), make([]byte, 900)}, CreatedAt: at}
	for _, r := range []struct {
		name string
		v    any
		new  func() any
	}{{"session", s, func() any { return new(signing.Session) }}, {"credential", c, func() any { return new(signing.Credential) }}} {
		bin, _ := encodeRecord(r.v)
		js, _ := json.Marshal(r.v, jsonOpts)
		for _, form := range []struct {
			name string
			raw  []byte
		}{{"binary", bin}, {"json", js}} {
			b.Run(r.name+"/decode-"+form.name, func(b *testing.B) {
				b.ReportMetric(float64(len(form.raw)), "bytes")
				for b.Loop() {
					if err := decodeRecord(form.raw, r.new()); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		b.Run(r.name+"/encode-binary", func(b *testing.B) {
			for b.Loop() {
				if _, err := encodeRecord(r.v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
