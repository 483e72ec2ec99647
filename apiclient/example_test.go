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

	// A registration officer has enrolled the citizen and the portal; the citizen's phone
	// is activated.
	citizen, err := srv.NewCitizen(ctx, "001099012345", "Nguyễn Văn A")
	if err != nil {
		panic(err)
	}
	phone, _ := client.Enroll(ctx, srv.URL, citizen.ActivationCode, client.EnrollOptions{Platform: "android"})

	// The portal asks for a signature of the form's digest.
	portal := apiclient.New(srv.URL, citizen.APIKey)
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
