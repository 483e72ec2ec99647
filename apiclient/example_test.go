package apiclient_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/kyso-dev/kyso/apiclient"
	"github.com/kyso-dev/kyso/internal/kysotest"
	"github.com/kyso-dev/kyso/mobile-bridge/client"
)

// Example shows a portal asking a citizen to sign a form, end to end against a real server.
func Example() {
	srv, err := kysotest.Start()
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	ctx := context.Background()

	// A registration officer enrols the citizen and the portal (operator API).
	op := apiclient.New(srv.URL, srv.OperatorToken)
	var rp struct{ APIKey string }
	var user struct{ ID string }
	var code struct{ Code string }
	op.Do(ctx, "POST", "/admin/v1/relying-parties", map[string]string{"name": "Cổng dịch vụ công"}, &rp, nil)
	op.Do(ctx, "POST", "/admin/v1/users", map[string]string{"nationalId": "001099012345", "displayName": "Nguyễn Văn A"}, &user, nil)
	op.Do(ctx, "POST", "/admin/v1/users/"+user.ID+"/credentials", nil, nil, nil)
	op.Do(ctx, "POST", "/admin/v1/users/"+user.ID+"/activation-codes", nil, &code, nil)
	phone, _ := client.Enroll(ctx, srv.URL, code.Code, client.EnrollOptions{Platform: "android"})

	// The portal asks for a signature of the form's digest.
	portal := apiclient.New(srv.URL, rp.APIKey)
	digest := sha256.Sum256([]byte("Tờ khai đăng ký thường trú"))
	sess, _ := portal.CreateSignature(ctx, apiclient.SignatureRequest{
		NationalID: "001099012345", HashAlgorithm: "SHA-256", DisplayText: "Ký tờ khai",
		Documents: []apiclient.Document{{Label: "To-khai.pdf", Hash: digest[:]}},
	}, "form-2026-0001")

	// The citizen approves on the phone after checking the code the portal shows.
	phone.Decide(ctx, sess.ID, true, sess.VerificationCode)

	// The portal long-polls for the result.
	done, _ := portal.Signature(ctx, sess.ID, 30*time.Second)
	fmt.Println(done.State, len(done.Documents[0].Signature) > 0)
	// Output: signed true
}
