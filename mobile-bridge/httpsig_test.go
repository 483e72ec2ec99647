package bridge_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	bridge "github.com/kyso-dev/kyso/mobile-bridge"
	"github.com/yaronf/httpsign"
)

// TestSignRequestVerifiesWithHTTPSign: what the SDK signs verifies with github.com/yaronf/httpsign,
// an RFC 9421 implementation independent of the SDK and of the server's verifier, with and
// without a body, and its Content-Digest is valid; a changed body no longer matches.
func TestSignRequestVerifiesWithHTTPSign(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{"", `{"decision":"approve"}`} {
		req, _ := http.NewRequest("POST", "https://kyso.example.gov.vn/device/v1/sessions/ses_1/decision?x=1", strings.NewReader(body))
		if err := bridge.SignRequest(req, []byte(body), "dev_1", key, time.Now(), ""); err != nil {
			t.Fatal(err)
		}
		fields := httpsign.Headers("@method", "@target-uri")
		if body != "" {
			fields = httpsign.Headers("@method", "@target-uri", "content-digest")
			rc := io.NopCloser(strings.NewReader(body))
			if err := httpsign.ValidateContentDigestHeader(req.Header.Values("Content-Digest"), &rc, []string{httpsign.DigestSha256}); err != nil {
				t.Errorf("Content-Digest: %v", err)
			}
			other := io.NopCloser(strings.NewReader(`{"decision":"decline"}`))
			if httpsign.ValidateContentDigestHeader(req.Header.Values("Content-Digest"), &other, []string{httpsign.DigestSha256}) == nil {
				t.Error("Content-Digest matches another body")
			}
		}
		v, err := httpsign.NewP256Verifier(key.PublicKey, httpsign.NewVerifyConfig().SetKeyID("dev_1").SetAllowedAlgs([]string{bridge.SignatureAlgorithm}), fields)
		if err != nil {
			t.Fatal(err)
		}
		if err := httpsign.VerifyRequest("sig1", *v, req); err != nil {
			t.Errorf("body %q: httpsign refuses the SDK's signature: %v", body, err)
		}
		req.Method = "PUT"
		if httpsign.VerifyRequest("sig1", *v, req) == nil {
			t.Errorf("body %q: httpsign accepts the signature for another method", body)
		}
	}
}
