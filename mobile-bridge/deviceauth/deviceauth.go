// Package deviceauth verifies the RFC 9421 HTTP message signatures that authenticate device
// requests on the server side, with github.com/yaronf/httpsign doing the signature check and
// this package enforcing the device API's profile: the covered components, the ±60 s window
// on created, single-use nonces and the RFC 9530 Content-Digest of the body.
//
// # Caveats
//
//   - Seen nonces are kept in memory for twice the window. After a restart a request signed
//     within the last minute before it could be replayed once; every state change it could
//     cause is a compare-and-set in the store, so a replay changes nothing.
package deviceauth

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/dunglas/httpsfv"
	bridge "github.com/kyso-dev/kyso/mobile-bridge"
	"github.com/kyso-dev/kyso/signing"
	"github.com/yaronf/httpsign"
)

// KeyLookup returns the DER SubjectPublicKeyInfo of an active device, or an error.
type KeyLookup func(ctx context.Context, deviceID string) ([]byte, error)

// Verifier checks device request signatures.
type Verifier struct {
	// Now is the server clock. Default: time.Now.
	Now func() time.Time
	// Window is how far created may be from Now, either way. Default: 60 s.
	Window time.Duration
	// PublicURL, when set, gives the scheme and host of @target-uri (for a server behind a
	// TLS-terminating proxy). Default: the request's Host, and https only under TLS.
	PublicURL *url.URL

	mu     sync.Mutex
	nonces map[string]time.Time
	pruned time.Time
}

func unauthenticated(msg string) error { return signing.Errorf(signing.EUNAUTHENTICATED, "%s", msg) }

// Verify authenticates r, whose body has been read into body, and returns the device id.
// Every failure is EUNAUTHENTICATED with a message that says what was wrong.
func (v *Verifier) Verify(ctx context.Context, r *http.Request, body []byte, lookup KeyLookup) (string, error) {
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	window := v.Window
	if window == 0 {
		window = 60 * time.Second
	}
	inputs := r.Header.Values("Signature-Input")
	if len(inputs) == 0 || len(r.Header.Values("Signature")) == 0 {
		return "", unauthenticated("missing Signature-Input or Signature header (RFC 9421)")
	}
	dict, err := httpsfv.UnmarshalDictionary(inputs)
	if err != nil || len(dict.Names()) == 0 {
		return "", unauthenticated("malformed Signature-Input header")
	}
	label := dict.Names()[0]
	m, _ := dict.Get(label)
	list, ok := m.(httpsfv.InnerList)
	if !ok {
		return "", unauthenticated("malformed Signature-Input header")
	}
	covered := map[string]bool{}
	for _, it := range list.Items {
		if s, ok := it.Value.(string); ok {
			covered[s] = true
		}
	}
	if !covered["@method"] || !covered["@target-uri"] || (len(body) > 0 && !covered["content-digest"]) {
		return "", unauthenticated(`the signature must cover "@method", "@target-uri" and, with a body, "content-digest"`)
	}
	created, _ := param[int64](list.Params, "created")
	nonce, _ := param[string](list.Params, "nonce")
	keyID, _ := param[string](list.Params, "keyid")
	if alg, ok := param[string](list.Params, "alg"); ok && alg != bridge.SignatureAlgorithm {
		return "", unauthenticated("alg must be " + bridge.SignatureAlgorithm)
	}
	if keyID == "" || nonce == "" || len(nonce) > 128 || created == 0 {
		return "", unauthenticated("the signature needs created, nonce and keyid parameters")
	}
	if d := now.Sub(time.Unix(created, 0)); d > window || d < -window {
		return "", unauthenticated("stale signature: created is not within 60 seconds of the server clock")
	}
	if len(body) > 0 {
		rc := io.NopCloser(bytes.NewReader(body))
		if err := httpsign.ValidateContentDigestHeader(r.Header.Values("Content-Digest"), &rc, []string{"sha-256"}); err != nil {
			return "", unauthenticated("Content-Digest is missing or does not match the body")
		}
	}
	der, err := lookup(ctx, keyID)
	if err != nil {
		return "", err
	}
	pub, err := bridge.ParseDeviceKey(der)
	if err != nil {
		return "", unauthenticated("device key is unusable")
	}
	if err := v.verifySignature(r, label, keyID, pub, len(body) > 0); err != nil {
		return "", err
	}
	if !v.useNonce(keyID, nonce, now, 2*window) {
		return "", unauthenticated("replayed request: this nonce was already used")
	}
	return keyID, nil
}

func param[T any](p *httpsfv.Params, name string) (T, bool) {
	var zero T
	if p == nil {
		return zero, false
	}
	raw, ok := p.Get(name)
	if !ok {
		return zero, false
	}
	t, ok := raw.(T)
	return t, ok
}

func (v *Verifier) verifySignature(r *http.Request, label, keyID string, pub *ecdsa.PublicKey, hasBody bool) error {
	fields := httpsign.Headers("@method", "@target-uri")
	if hasBody {
		fields = httpsign.Headers("@method", "@target-uri", "content-digest")
	}
	cfg := httpsign.NewVerifyConfig().SetVerifyCreated(false).SetKeyID(keyID).SetRejectExpired(false)
	verifier, err := httpsign.NewP256Verifier(*pub, cfg, fields)
	if err != nil {
		return unauthenticated("device key is unusable")
	}
	// httpsign reads the target URI from the request's URL; give it the absolute one the
	// device signed, on a shallow copy (httpsign only reads the headers).
	c := r.WithContext(r.Context())
	c.Body = http.NoBody
	u := *r.URL
	u.Scheme, u.Host = "http", r.Host
	if r.TLS != nil {
		u.Scheme = "https"
	}
	if v.PublicURL != nil {
		u.Scheme, u.Host = v.PublicURL.Scheme, v.PublicURL.Host
	}
	c.URL = &u
	if err := httpsign.VerifyRequest(label, *verifier, c); err != nil {
		return unauthenticated("the request signature does not verify with this device's key")
	}
	return nil
}

// useNonce records keyID's nonce and reports whether it was new.
func (v *Verifier) useNonce(keyID, nonce string, now time.Time, keep time.Duration) bool {
	k := keyID + "\x00" + nonce
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.nonces == nil {
		v.nonces = map[string]time.Time{}
	}
	if now.Sub(v.pruned) > keep/4 {
		for n, t := range v.nonces {
			if now.Sub(t) > keep {
				delete(v.nonces, n)
			}
		}
		v.pruned = now
	}
	if t, seen := v.nonces[k]; seen && now.Sub(t) <= keep {
		return false
	}
	v.nonces[k] = now
	return true
}
