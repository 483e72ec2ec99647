package bridge

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SignatureAlgorithm is the RFC 9421 algorithm name of device request signatures.
const SignatureAlgorithm = "ecdsa-p256-sha256"

// ContentDigest returns the RFC 9530 Content-Digest header value of body.
func ContentDigest(body []byte) string {
	sum := sha256.Sum256(body)
	return "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"
}

// SignRequest signs req as the device keyID, following the profile of the device API:
// components "@method" "@target-uri" and, when body is non-empty, "content-digest"; parameters
// created, nonce, keyid and alg. req.URL must be absolute. It sets Content-Digest (when there
// is a body), Signature-Input and Signature.
func SignRequest(req *http.Request, body []byte, keyID string, key *ecdsa.PrivateKey, created time.Time, nonce string) error {
	if !req.URL.IsAbs() {
		return fmt.Errorf("sign request: URL %q is not absolute", req.URL)
	}
	if nonce == "" {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return fmt.Errorf("sign request: nonce: %w", err)
		}
		nonce = base64.RawURLEncoding.EncodeToString(b)
	}
	components := []string{`"@method"`, `"@target-uri"`}
	lines := []string{`"@method": ` + req.Method, `"@target-uri": ` + req.URL.String()}
	if len(body) > 0 {
		digest := ContentDigest(body)
		req.Header.Set("Content-Digest", digest)
		components = append(components, `"content-digest"`)
		lines = append(lines, `"content-digest": `+digest)
	}
	params := "(" + strings.Join(components, " ") + ");created=" + strconv.FormatInt(created.Unix(), 10) +
		`;nonce="` + nonce + `";keyid="` + keyID + `";alg="` + SignatureAlgorithm + `"`
	base := strings.Join(append(lines, `"@signature-params": `+params), "\n")
	digest := sha256.Sum256([]byte(base))
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		return fmt.Errorf("sign request: %w", err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	req.Header.Set("Signature-Input", "sig1="+params)
	req.Header.Set("Signature", "sig1=:"+base64.StdEncoding.EncodeToString(sig)+":")
	return nil
}
