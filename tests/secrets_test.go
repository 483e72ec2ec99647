package tests

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"github.com/kyso-dev/kyso/cmd/kyso/app"
	"github.com/kyso-dev/kyso/keystore"
	"github.com/kyso-dev/kyso/mobile-bridge/client"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
)

// TestNoSecretAtRestOrInLogs runs whole transactions, then scans the store file and every
// log line for users' PKCS#8 keys (recovered independently with the KEK), the operator
// token, API keys, callback secrets and activation codes; and the logs for push tokens.
func TestNoSecretAtRestOrInLogs(t *testing.T) {
	e := startEnv(t)
	rp, info := e.newRP("Portal")
	ctx := context.Background()
	secrets := map[string][]byte{"operator token": []byte(e.opToken), "API key": []byte(info.APIKey), "callback secret": []byte(info.CallbackSecret)}
	logOnly := map[string][]byte{}
	var users []signer
	for i, alg := range []string{"EC-P256", "RSA-2048"} {
		uid := e.newUser("00"+string(rune('1'+i)), "User")
		cred := e.newCredential(uid, alg)
		code := e.activationCode(uid)
		secrets["activation code "+alg] = []byte(code)
		pushToken := "push-token-" + alg + "-0123456789abcdef"
		logOnly["push token "+alg] = []byte(pushToken) // stored (it is needed to push), never logged
		dev, err := client.Enroll(ctx, e.url, code, client.EnrollOptions{Platform: "android", PushToken: pushToken})
		must(t, err)
		dev.Now = e.clock.Now
		users = append(users, signer{userID: uid, nationalID: "00" + string(rune('1'+i)), cred: cred, dev: dev})
	}
	for _, s := range users {
		sess, err := rp.CreateSignature(ctx, request(s, "SHA-256", "", digests(2, "SHA-256")), "")
		must(t, err)
		_, err = s.dev.Decide(ctx, sess.ID, true, "")
		must(t, err)
	}
	e.stop()

	// Recover each user's PKCS#8 key the way an attacker holding the (local) master would.
	f, err := os.Open(filepath.Join(e.dir, app.MasterFile))
	must(t, err)
	mh, err := insecurecleartextkeyset.Read(keyset.NewJSONReader(f))
	f.Close()
	must(t, err)
	master, err := aead.New(mh)
	must(t, err)
	g, err := os.Open(filepath.Join(e.dir, app.KEKFile))
	must(t, err)
	kh, err := keyset.ReadWithAssociatedData(keyset.NewJSONReader(g), master, []byte("kyso/kek-keyset/v1"))
	g.Close()
	must(t, err)
	kek, err := aead.New(kh)
	must(t, err)
	for _, s := range users {
		c := storedCredential(t, e, s.cred.ID)
		pkcs8, err := kek.Decrypt(c.WrappedKey[1:], keystore.KeyAssociatedData(s.cred.ID, s.userID))
		must(t, err)
		secrets["PKCS#8 key of "+s.cred.KeyAlgorithm] = pkcs8
	}

	storeBytes, err := os.ReadFile(filepath.Join(e.dir, app.StoreFile))
	must(t, err)
	logs := e.logs.Bytes()
	if len(logs) == 0 {
		t.Fatal("no logs captured; the scan would prove nothing")
	}
	for name, secret := range logOnly {
		if bytes.Contains(logs, secret) {
			t.Errorf("%s found in the logs", name)
		}
	}
	for name, secret := range secrets {
		forms := [][]byte{secret, []byte(base64.StdEncoding.EncodeToString(secret))}
		for _, form := range forms {
			if bytes.Contains(storeBytes, form) {
				t.Errorf("%s found in the store file", name)
			}
			if bytes.Contains(logs, form) {
				t.Errorf("%s found in the logs", name)
			}
		}
	}
}
