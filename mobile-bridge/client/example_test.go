package client_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kyso-dev/kyso/apiclient"
	"github.com/kyso-dev/kyso/internal/kysotest"
	"github.com/kyso-dev/kyso/mobile-bridge/client"
)

// Example enrols a device with an activation code, lists what the user is asked to sign, and
// approves it only if the verification code is the one the portal shows.
func Example() {
	srv, err := kysotest.Start()
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	ctx := context.Background()
	op := apiclient.New(srv.URL, srv.OperatorToken)
	var rp struct{ APIKey string }
	var user struct{ ID string }
	var code struct{ Code string }
	op.Do(ctx, "POST", "/admin/v1/relying-parties", map[string]string{"name": "E-office"}, &rp, nil)
	op.Do(ctx, "POST", "/admin/v1/users", map[string]string{"nationalId": "042", "displayName": "Lãnh đạo"}, &user, nil)
	op.Do(ctx, "POST", "/admin/v1/users/"+user.ID+"/credentials", nil, nil, nil)
	op.Do(ctx, "POST", "/admin/v1/users/"+user.ID+"/activation-codes", nil, &code, nil)

	// Enrol, and keep the device state (it holds the device key) for the next run.
	ipad, err := client.Enroll(ctx, srv.URL, code.Code, client.EnrollOptions{Platform: "ipados", Name: "iPad"})
	if err != nil {
		panic(err)
	}
	dir, _ := os.MkdirTemp("", "device")
	defer os.RemoveAll(dir)
	ipad.SaveState(filepath.Join(dir, "ipad.json"))
	ipad, _ = client.LoadState(filepath.Join(dir, "ipad.json"))

	d := sha256.Sum256([]byte("Quyết định 123/QĐ-UBND"))
	sess, _ := apiclient.New(srv.URL, rp.APIKey).CreateSignature(ctx, apiclient.SignatureRequest{NationalID: "042",
		HashAlgorithm: "SHA-256", DisplayText: "Ký quyết định", Documents: []apiclient.Document{{Label: "QD-123.pdf", Hash: d[:]}}}, "")

	pending, _ := ipad.Sessions(ctx)
	for _, s := range pending {
		fmt.Println(s.RelyingParty.Name, "asks:", s.DisplayText, "-", s.Documents[0].Label)
		state, err := ipad.Decide(ctx, s.ID, true, sess.VerificationCode)
		fmt.Println(state, err)
	}
	// Output:
	// E-office asks: Ký quyết định - QD-123.pdf
	// signed <nil>
}
