package deviceauth_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kyso-dev/kyso/mobile-bridge/deviceauth"
)

// BenchmarkVerify is the hot path of every device request: parse, check window and nonce,
// verify the RFC 9421 signature and the Content-Digest.
func BenchmarkVerify(b *testing.B) {
	d := newDevice(b)
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"decision":"approve","signature":"MEUCIQ=="}`)
	v := &deviceauth.Verifier{Now: func() time.Time { return now }}
	i := 0
	for b.Loop() {
		i++
		r := signed(b, d, "POST", "http://kyso.test/device/v1/sessions/ses_1/decision", body, now, fmt.Sprint("n", i))
		if _, err := v.Verify(context.Background(), r, body, d.lookup); err != nil {
			b.Fatal(err)
		}
	}
}
