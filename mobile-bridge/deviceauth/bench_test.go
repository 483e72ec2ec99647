package deviceauth_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/kyso-dev/kyso/mobile-bridge/deviceauth"
)

// BenchmarkVerify is the hot path of every device request: parse, check window and nonce,
// verify the RFC 9421 signature and the Content-Digest. The requests are signed beforehand,
// each with its own nonce; a new verifier starts over when they run out.
func BenchmarkVerify(b *testing.B) {
	d := newDevice(b)
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"decision":"approve","signature":"MEUCIQ=="}`)
	reqs := make([]*http.Request, 1000)
	for i := range reqs {
		reqs[i] = signed(b, d, "POST", "http://kyso.test/device/v1/sessions/ses_1/decision", body, now, fmt.Sprint("n", i))
	}
	var v *deviceauth.Verifier
	i := 0
	for b.Loop() {
		if i%len(reqs) == 0 {
			v = &deviceauth.Verifier{Now: func() time.Time { return now }}
		}
		if _, err := v.Verify(context.Background(), reqs[i%len(reqs)], body, d.lookup); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
