package deviceauth_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	bridge "github.com/kyso-dev/kyso/mobile-bridge"
	"github.com/kyso-dev/kyso/mobile-bridge/deviceauth"
	"github.com/kyso-dev/kyso/signing"
	"github.com/yaronf/httpsign"
)

type device struct {
	key *ecdsa.PrivateKey
	der []byte
}

func newDevice(t testing.TB) device {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	return device{k, der}
}

func (d device) lookup(ctx context.Context, id string) ([]byte, error) {
	if id != "dev_1" {
		return nil, signing.Errorf(signing.EUNAUTHENTICATED, "unknown device")
	}
	return d.der, nil
}

// signed returns a request as the server receives it (relative URL, Host set), signed by d
// for the absolute URL the device used.
func signed(t testing.TB, d device, method, target string, body []byte, created time.Time, nonce string) *http.Request {
	t.Helper()
	out, err := http.NewRequest(method, target, strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	if err := bridge.SignRequest(out, body, "dev_1", d.key, created, nonce); err != nil {
		t.Fatal(err)
	}
	in := httptest.NewRequest(method, out.URL.RequestURI(), strings.NewReader(string(body)))
	in.Host = out.URL.Host
	in.Header = out.Header.Clone()
	return in
}

func TestVerify(t *testing.T) {
	d := newDevice(t)
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"decision":"approve"}`)
	url := "http://kyso.test/device/v1/sessions/ses_1/decision"
	v := &deviceauth.Verifier{Now: func() time.Time { return now }}

	if id, err := v.Verify(context.Background(), signed(t, d, "POST", url, body, now, "n1"), body, d.lookup); err != nil || id != "dev_1" {
		t.Fatalf("valid request refused: %v", err)
	}
	cases := map[string]struct {
		req  *http.Request
		body []byte
	}{
		"replayed nonce":     {signed(t, d, "POST", url, body, now, "n1"), body},
		"created 61 s ago":   {signed(t, d, "POST", url, body, now.Add(-61*time.Second), "n2"), body},
		"created 61 s ahead": {signed(t, d, "POST", url, body, now.Add(61*time.Second), "n3"), body},
		"body swapped":       {signed(t, d, "POST", url, body, now, "n4"), []byte(`{"decision":"decline"}`)},
		"other device's key": {signed(t, newDevice(t), "POST", url, body, now, "n5"), body},
		"unsigned":           {httptest.NewRequest("GET", "/device/v1/sessions", nil), nil},
		"other path (retarget)": {func() *http.Request {
			r := signed(t, d, "POST", url, body, now, "n6")
			r.URL.Path = "/device/v1/sessions/ses_2/decision"
			return r
		}(), body},
		"other method": {func() *http.Request {
			r := signed(t, d, "POST", url, body, now, "n7")
			r.Method = "PUT"
			return r
		}(), body},
	}
	for name, c := range cases {
		_, err := v.Verify(context.Background(), c.req, c.body, d.lookup)
		if signing.ErrorCode(err) != signing.EUNAUTHENTICATED {
			t.Errorf("%s: got %v, want UNAUTHENTICATED", name, err)
		}
	}
	// A GET without body leaves content-digest out, as the profile says.
	if _, err := v.Verify(context.Background(), signed(t, d, "GET", "http://kyso.test/device/v1/sessions", nil, now, "n8"), nil, d.lookup); err != nil {
		t.Fatalf("bodiless GET refused: %v", err)
	}
}

// FuzzVerify feeds arbitrary signature headers: the verifier must refuse them without
// panicking, and never accept what the device did not sign.
func FuzzVerify(f *testing.F) {
	d := newDevice(f)
	now := time.Unix(1_800_000_000, 0)
	good := signed(f, d, "GET", "http://kyso.test/device/v1/sessions", nil, now, "seed")
	f.Add(good.Header.Get("Signature-Input"), good.Header.Get("Signature"), "")
	f.Add(`sig1=("@method");created=1`, `sig1=:AAAA:`, "sha-256=:x:")
	f.Add(`sig1=("@method" "@target-uri");created=1800000000;nonce="";keyid="dev_1"`, `sig1=::`, "")
	f.Fuzz(func(t *testing.T, input, sig, digest string) {
		r := httptest.NewRequest("GET", "/device/v1/sessions", nil)
		r.Host = "kyso.test"
		r.Header.Set("Signature-Input", input)
		r.Header.Set("Signature", sig)
		if digest != "" {
			r.Header.Set("Content-Digest", digest)
		}
		v := &deviceauth.Verifier{Now: func() time.Time { return now }}
		if _, err := v.Verify(context.Background(), r, nil, d.lookup); err == nil {
			if input != good.Header.Get("Signature-Input") || sig != good.Header.Get("Signature") {
				t.Fatalf("accepted a signature the device never made: %q %q", input, sig)
			}
		}
	})
}

// TestPublicURL: behind a TLS-terminating proxy the device signs the public https URL while
// the server sees plain HTTP on another host; PublicURL reconciles them, and only them.
func TestPublicURL(t *testing.T) {
	d := newDevice(t)
	now := time.Unix(1_800_000_000, 0)
	r := func(nonce string) *http.Request {
		in := signed(t, d, "GET", "https://kyso.example.gov.vn/device/v1/sessions", nil, now, nonce)
		in.Host = "10.0.0.5:8080" // what the proxy forwards to
		return in
	}
	behind := &deviceauth.Verifier{Now: func() time.Time { return now }}
	if _, err := behind.Verify(context.Background(), r("a"), nil, d.lookup); err == nil {
		t.Fatal("verified against a target URI the device did not sign")
	}
	pub, _ := url.Parse("https://kyso.example.gov.vn")
	configured := &deviceauth.Verifier{Now: func() time.Time { return now }, PublicURL: pub}
	if _, err := configured.Verify(context.Background(), r("b"), nil, d.lookup); err != nil {
		t.Fatalf("with PublicURL: %v", err)
	}
	other, _ := url.Parse("https://evil.example")
	wrong := &deviceauth.Verifier{Now: func() time.Time { return now }, PublicURL: other}
	if _, err := wrong.Verify(context.Background(), r("c"), nil, d.lookup); err == nil {
		t.Fatal("a request signed for another host verified")
	}
}

// signedByHTTPSign is a request signed by github.com/yaronf/httpsign, an implementation of
// RFC 9421 independent of this package and of the SDK, covering fields and with created now.
func signedByHTTPSign(t *testing.T, d device, target string, body []byte, nonce string, fields ...string) *http.Request {
	t.Helper()
	out := httptest.NewRequest("POST", target, strings.NewReader(string(body)))
	out.Header.Set("Content-Type", "application/json")
	out.Header.Add("X-Trace", " a ")
	out.Header.Add("X-Trace", "b")
	rc := io.NopCloser(strings.NewReader(string(body)))
	digest, err := httpsign.GenerateContentDigestHeader(&rc, []string{httpsign.DigestSha256})
	if err != nil {
		t.Fatal(err)
	}
	out.Header.Set("Content-Digest", digest)
	signer, err := httpsign.NewP256Signer(*d.key, httpsign.NewSignConfig().SetNonce(nonce).SetKeyID("dev_1").SignAlg(true), httpsign.Headers(fields...))
	if err != nil {
		t.Fatal(err)
	}
	input, sig, err := httpsign.SignRequest("dev", *signer, out)
	if err != nil {
		t.Fatal(err)
	}
	out.Header.Set("Signature-Input", input)
	out.Header.Set("Signature", sig)
	in := httptest.NewRequest("POST", out.URL.RequestURI(), strings.NewReader(string(body)))
	in.Host = out.URL.Host
	in.Header = out.Header.Clone()
	return in
}

// TestVerifyIndependentSigner: what httpsign signs — the profile's components and others a
// device may add — verifies, and changing any covered part afterwards is refused.
func TestVerifyIndependentSigner(t *testing.T) {
	d := newDevice(t)
	body := []byte(`{"decision":"approve"}`)
	target := "http://kyso.test:8080/device/v1/sessions/ses_1/decision?lang=vi&x=%2F"
	all := []string{"@method", "@target-uri", "content-digest", "@authority", "@scheme", "@path", "@query", "@request-target", "content-type", "x-trace"}
	v := &deviceauth.Verifier{}
	for i, fields := range [][]string{all[:3], all} {
		r := signedByHTTPSign(t, d, target, body, fmt.Sprint("ok", i), fields...)
		if _, err := v.Verify(context.Background(), r, body, d.lookup); err != nil {
			t.Fatalf("covering %v: refused: %v", fields, err)
		}
		if got := r.Header.Values("X-Trace"); got[0] != " a " {
			t.Fatalf("verifying changed the request's headers: %q", got)
		}
	}
	tamper := map[string]func(r *http.Request){
		"content-type": func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") },
		"x-trace":      func(r *http.Request) { r.Header.Del("X-Trace") },
		"query":        func(r *http.Request) { r.URL.RawQuery = "lang=en&x=%2F" },
		"host":         func(r *http.Request) { r.Host = "kyso.test:8443" },
		"nonce": func(r *http.Request) {
			r.Header.Set("Signature-Input", strings.Replace(r.Header.Get("Signature-Input"), `nonce="t-nonce"`, `nonce="other"`, 1))
		},
		"signature value": func(r *http.Request) {
			r.Header.Set("Signature", "dev=:"+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 64))+":")
		},
		"signature length": func(r *http.Request) { r.Header.Set("Signature", "dev=:AAAA:") },
	}
	for name, change := range tamper {
		r := signedByHTTPSign(t, d, target, body, "t-nonce", all...)
		change(r)
		_, err := (&deviceauth.Verifier{}).Verify(context.Background(), r, body, d.lookup) // its own: no replay
		if err == nil {
			t.Errorf("%s changed after signing: accepted", name)
			continue
		}
		if signing.ErrorCode(err) != signing.EUNAUTHENTICATED {
			t.Errorf("%s changed after signing: got %v, want UNAUTHENTICATED", name, err)
		}
	}
}

// TestVerifyRefusesUnsupportedComponents: component parameters, unknown derived components,
// duplicates and covered fields the request lacks are refused, each with a message that
// says so, before any signature check.
func TestVerifyRefusesUnsupportedComponents(t *testing.T) {
	d := newDevice(t)
	now := time.Unix(1_800_000_000, 0)
	params := `;created=1800000000;nonce="n";keyid="dev_1"`
	cases := map[string]string{
		`("@method" "@target-uri";bs)`:          "component parameters",
		`("@method" "@target-uri" "@status")`:   `unsupported covered component "@status"`,
		`("@method" "@target-uri" "Host")`:      `unsupported covered component "Host"`,
		`("@method" "@target-uri" "@method")`:   "distinct",
		`("@method" "@target-uri" "x-missing")`: `"x-missing", which the request does not have`,
		`("@method" "@target-uri" 1)`:           "distinct strings",
	}
	for list, want := range cases {
		r := signed(t, d, "GET", "http://kyso.test/device/v1/sessions", nil, now, "n")
		r.Header.Set("Signature-Input", "sig1="+list+params)
		v := &deviceauth.Verifier{Now: func() time.Time { return now }}
		_, err := v.Verify(context.Background(), r, nil, d.lookup)
		if signing.ErrorCode(err) != signing.EUNAUTHENTICATED || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want UNAUTHENTICATED saying %q", list, err, want)
		}
	}
}
