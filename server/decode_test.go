package server

import (
	"strings"
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

// Refusals say what is wrong and where, for every kind of malformed body.
func TestDecodeErrorsSayWhatAndWhere(t *testing.T) {
	for body, want := range map[string]string{
		``:                                    "empty",
		`{"nationalId":`:                      "unexpected end of input",
		`{"nationalId":"1"} {}`:               "syntax error",
		`{"documents":[{"Label":"a"}]}`:       `unknown field "documents[0].Label" (names are case-sensitive)`,
		`{"nationalID":"1"}`:                  `unknown field "nationalID"`,
		`{"nationalId":1}`:                    `field "nationalId" must be a string`,
		`{"documents":{}}`:                    `field "documents" must be an array`,
		`{"nationalId":"1","nationalId":"2"}`: `duplicate field "nationalId"`,
		"{\"displayText\":\"\xff\"}":          "not valid UTF-8",
		`{"ttlSeconds":"60"}`:                 `field "ttlSeconds" must be an integer`,
		`[]`:                                  "must be an object",
	} {
		var in createSessionRequest
		err := decodeBody([]byte(body), &in)
		if err == nil || signing.ErrorCode(err) != signing.EINVALID || !strings.Contains(signing.ErrorMessage(err), want) {
			t.Errorf("%q: %v, want INVALID_REQUEST saying %q", body, err, want)
		}
	}
}
