// Package deviceauth verifies the RFC 9421 HTTP message signatures that authenticate device
// requests on the server side, and enforces the device API's profile: the covered
// components, the ±60 s window on created, single-use nonces and the RFC 9530
// Content-Digest of the body.
//
// It builds the signature base itself, for the components a device may cover (the derived
// @method, @target-uri, @authority, @scheme, @path, @query, @request-target and plain header
// fields; component parameters such as ;sf or ;req are refused), rather than with
// github.com/yaronf/httpsign's general verifier, which parses every header twice and cost
// about as much again as the ECDSA check itself. The tests verify requests signed by
// httpsign, so an independent implementation still meets this one.
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
	"crypto/sha256"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/dunglas/httpsfv"
	bridge "github.com/kyso-dev/kyso/mobile-bridge"
	"github.com/kyso-dev/kyso/signing"
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
		name, ok := it.Value.(string)
		if !ok || covered[name] {
			return "", unauthenticated("malformed Signature-Input header: covered components must be distinct strings")
		}
		covered[name] = true
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
	if len(body) > 0 && !digestMatches(r.Header.Values("Content-Digest"), body) {
		return "", unauthenticated("Content-Digest is missing or does not match the body")
	}
	der, err := lookup(ctx, keyID)
	if err != nil {
		return "", err
	}
	pub, err := bridge.ParseDeviceKey(der)
	if err != nil {
		return "", unauthenticated("device key is unusable")
	}
	if err := v.verifySignature(r, label, list, pub); err != nil {
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

// digestMatches reports whether the RFC 9530 Content-Digest field values hold the body's
// sha-256 digest.
func digestMatches(values []string, body []byte) bool {
	dict, err := httpsfv.UnmarshalDictionary(values)
	if err != nil {
		return false
	}
	m, _ := dict.Get("sha-256")
	item, _ := m.(httpsfv.Item)
	got, _ := item.Value.([]byte)
	want := sha256.Sum256(body)
	return bytes.Equal(got, want[:])
}

// verifySignature checks the signature labelled label, whose covered components and
// parameters are list, with the device's key.
func (v *Verifier) verifySignature(r *http.Request, label string, list httpsfv.InnerList, pub *ecdsa.PublicKey) error {
	sigs, err := httpsfv.UnmarshalDictionary(r.Header.Values("Signature"))
	if err != nil {
		return unauthenticated("malformed Signature header")
	}
	m, _ := sigs.Get(label)
	item, _ := m.(httpsfv.Item)
	sig, _ := item.Value.([]byte)
	if len(sig) != 64 {
		return unauthenticated("the Signature header needs a 64-byte r||s value labelled " + label)
	}
	base, err := v.signatureBase(r, list)
	if err != nil {
		return err
	}
	digest := sha256.Sum256(base)
	if !ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return unauthenticated("the request signature does not verify with this device's key")
	}
	return nil
}

// signatureBase builds the RFC 9421 signature base (section 2.5) of r for the covered
// components and parameters in list.
func (v *Verifier) signatureBase(r *http.Request, list httpsfv.InnerList) ([]byte, error) {
	target := v.targetURI(r)
	var b []byte
	for _, it := range list.Items {
		name, _ := it.Value.(string) // Verify checked: a string
		if it.Params != nil && len(it.Params.Names()) > 0 {
			return nil, unauthenticated("unsupported covered component " + quote(name) + ": component parameters are not accepted")
		}
		var value string
		switch name {
		case "@method":
			value = r.Method
		case "@target-uri":
			value = target.String()
		case "@authority":
			value = strings.ToLower(target.Host)
		case "@scheme":
			value = target.Scheme
		case "@path":
			value = target.EscapedPath()
			if value == "" {
				value = "/"
			}
		case "@query":
			value = "?" + target.RawQuery
		case "@request-target":
			value = target.RequestURI()
		default:
			if name == "" || name != strings.ToLower(name) || strings.HasPrefix(name, "@") {
				return nil, unauthenticated("unsupported covered component " + quote(name))
			}
			lines := r.Header.Values(name) // the request's own slice: read only
			if len(lines) == 0 {
				return nil, unauthenticated("the signature covers " + quote(name) + ", which the request does not have")
			}
			for i, l := range lines {
				if i > 0 {
					value += ", "
				}
				value += strings.TrimSpace(l)
			}
		}
		if strings.ContainsAny(value, "\r\n") {
			return nil, unauthenticated("covered component " + quote(name) + " has a line break")
		}
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, `": `...)
		b = append(b, value...)
		b = append(b, '\n')
	}
	params, err := httpsfv.Marshal(list)
	if err != nil {
		return nil, unauthenticated("malformed Signature-Input header")
	}
	b = append(b, `"@signature-params": `...)
	return append(b, params...), nil
}

func quote(name string) string { return `"` + name + `"` }

// targetURI is the absolute URI the device signed: the request's path and query on the
// public scheme and host when PublicURL is set, otherwise on the request's own.
func (v *Verifier) targetURI(r *http.Request) *url.URL {
	u := *r.URL
	u.Scheme, u.Host = "http", r.Host
	if r.TLS != nil {
		u.Scheme = "https"
	}
	if v.PublicURL != nil {
		u.Scheme, u.Host = v.PublicURL.Scheme, v.PublicURL.Host
	}
	return &u
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
