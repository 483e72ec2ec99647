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
	leader, err := srv.NewCitizen(ctx, "042", "Lãnh đạo")
	if err != nil {
		panic(err)
	}

	// Enrol, and keep the device state (it holds the device key) for the next run.
	ipad, err := client.Enroll(ctx, srv.URL, leader.ActivationCode, client.EnrollOptions{Platform: "ipados", Name: "iPad"})
	if err != nil {
		panic(err)
	}
	dir, _ := os.MkdirTemp("", "device")
	defer os.RemoveAll(dir)
	ipad.SaveState(filepath.Join(dir, "ipad.json"))
	ipad, _ = client.LoadState(filepath.Join(dir, "ipad.json"))

	d := sha256.Sum256([]byte("Quyết định 123/QĐ-UBND"))
	sess, _ := apiclient.New(srv.URL, leader.APIKey).CreateSignature(ctx, apiclient.SignatureRequest{NationalID: "042",
		HashAlgorithm: "SHA-256", DisplayText: "Ký quyết định", Documents: []apiclient.Document{{Label: "QD-123.pdf", Hash: d[:]}}}, "")

	pending, _ := ipad.Sessions(ctx)
	for _, s := range pending {
		fmt.Println(s.RelyingParty.Name, "asks:", s.DisplayText, "-", s.Documents[0].Label)
		state, err := ipad.Decide(ctx, s.ID, true, sess.VerificationCode)
		fmt.Println(state, err)
	}
	// Output:
	// Portal asks: Ký quyết định - QD-123.pdf
	// signed <nil>
}

// ExampleClient_Events follows the event stream instead of polling.
func ExampleClient_Events() {
	srv, err := kysotest.Start()
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	citizen, _ := srv.NewCitizen(ctx, "001", "Nguyễn Văn A")
	phone, _ := client.Enroll(ctx, srv.URL, citizen.ActivationCode, client.EnrollOptions{Platform: "android"})

	events, _, err := phone.Events(ctx, "")
	if err != nil {
		panic(err)
	}
	d := sha256.Sum256([]byte("Tờ khai"))
	apiclient.New(srv.URL, citizen.APIKey).CreateSignature(ctx, apiclient.SignatureRequest{NationalID: "001",
		HashAlgorithm: "SHA-256", DisplayText: "Ký tờ khai", Documents: []apiclient.Document{{Label: "to-khai.pdf", Hash: d[:]}}}, "")
	for ev := range events {
		switch ev.Type {
		case "session.created":
			fmt.Println("asked:", ev.Session.DisplayText)
			state, _ := phone.Decide(ctx, ev.Session.ID, false, "")
			fmt.Println("now:", state) // the decision's answer carries the final state
			cancel()
		case "session.updated": // another of the user's devices decided, or the request expired
			fmt.Println("gone:", ev.Update.ID, ev.Update.State)
		}
	}
	// Output:
	// asked: Ký tờ khai
	// now: declined
}
