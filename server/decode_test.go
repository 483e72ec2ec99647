package server

import (
	"testing"

	"github.com/kyso-dev/kyso/signing"
)

// FuzzDecodeSignatureRequest feeds arbitrary bodies to the relying party's request decoding:
// it never panics, and every refusal is a domain error with a client code.
func FuzzDecodeSignatureRequest(f *testing.F) {
	f.Add(`{"nationalId":"001","hashAlgorithm":"SHA-256","displayText":"x","documents":[{"label":"a","hash":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}]}`)
	f.Add(`{"documents":[{"Label":"a"}],"ttlSeconds":5}`)
	f.Add(`{"documents":[[]],"ttlSeconds":-1}`)
	f.Add(`{"NATIONALID":1}`)
	f.Fuzz(func(t *testing.T, body string) {
		var in createSessionRequest
		err := decodeBody([]byte(body), &in)
		if err == nil {
			_, err = in.toDomain()
		}
		if err != nil {
			code := signing.ErrorCode(err)
			if status, ok := statusOf[code]; !ok || status >= 500 {
				t.Fatalf("%q: error %v has code %s", body, err, code)
			}
		}
	})
}

func TestFieldNamesAreCaseSensitive(t *testing.T) {
	for body, ok := range map[string]bool{
		`{"nationalId":"1"}`:                        true,
		`{"nationalID":"1"}`:                        false,
		`{"documents":[{"label":"a","hash":""}]}`:   true,
		`{"documents":[{"Label":"a","hash":""}]}`:   false,
		`{"documents":[{"label":"a","hashes":""}]}`: false,
	} {
		var in createSessionRequest
		if err := decodeBody([]byte(body), &in); (err == nil) != ok {
			t.Errorf("%s: err %v, want ok=%v", body, err, ok)
		}
	}
}
