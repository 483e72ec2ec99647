package deviceauth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	bridge "github.com/kyso-dev/kyso/mobile-bridge"
	"github.com/kyso-dev/kyso/mobile-bridge/deviceauth"
	"github.com/kyso-dev/kyso/signing"
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
