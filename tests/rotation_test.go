package tests

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kyso-dev/kyso/apiclient"
	"github.com/kyso-dev/kyso/cmd/kyso/app"
	"github.com/kyso-dev/kyso/cmd/kyso/cli"
	"github.com/kyso-dev/kyso/internal/softhsmtest"
)

type kekStatus struct {
	PrimaryKeyID uint32 `json:"primaryKeyId"`
	Keys         []struct {
		KeyID  uint32 `json:"keyId"`
		Status string `json:"status"`
		Blobs  int    `json:"blobs"`
	} `json:"keys"`
}

func (s kekStatus) blobs(id uint32) int {
	for _, k := range s.Keys {
		if k.KeyID == id {
			return k.Blobs
		}
	}
	return -1
}

// TestKEKRotationOnline rotates the KEK while the server runs: blobs wrapped before and
// after all sign, status counts are right, an old key in use cannot be disabled, rewrap
// moves everything, and then the old key can go — across a restart too.
func TestKEKRotationOnline(t *testing.T) {
	e := startEnv(t)
	rp, _ := e.newRP("Portal")
	kek := []string{"kek", "--server", e.url, "--token-file", filepath.Join(e.dir, app.OperatorTokenFile)}
	var before kekStatus
	kyso(t, &before, append(kek, "status")...)
	old := before.PrimaryKeyID
	// 2 development CA keys + 1 relying party's callback secret so far.
	if len(before.Keys) != 1 || before.blobs(old) != 3 {
		t.Fatalf("status before: %+v", before)
	}
	alice := e.newSigner("001", "EC-P256")
	var rotated struct{ PrimaryKeyID uint32 }
	kyso(t, &rotated, append(kek, "rotate")...)
	bob := e.newSigner("002", "RSA-2048")

	var mid kekStatus
	kyso(t, &mid, append(kek, "status")...)
	if mid.PrimaryKeyID != rotated.PrimaryKeyID || mid.PrimaryKeyID == old || mid.blobs(old) != 4 || mid.blobs(mid.PrimaryKeyID) != 1 {
		t.Fatalf("status after rotation: %+v", mid)
	}
	sign := func(s signer) {
		t.Helper()
		sess, err := rp.CreateSignature(context.Background(), request(s, "SHA-256", "", digests(1, "SHA-256")), "")
		must(t, err)
		if st, err := s.dev.Decide(context.Background(), sess.ID, true, ""); err != nil || st != "signed" {
			t.Fatalf("sign: %s %v", st, err)
		}
	}
	sign(alice) // wrapped before the rotation
	sign(bob)   // wrapped after

	stderr := &logBuffer{}
	if code := cli.Run(context.Background(), append(kek, "disable", fmt.Sprint(old)), io.Discard, stderr); code == 0 ||
		!strings.Contains(string(stderr.Bytes()), "still wraps 4 blobs") {
		t.Fatalf("disabling a KEK key that still wraps blobs: exit %d, %s", code, stderr.Bytes())
	}
	kyso(t, nil, append(kek, "rewrap", "--wait")...)
	var after kekStatus
	kyso(t, &after, append(kek, "status")...)
	if after.blobs(old) != 0 || after.blobs(after.PrimaryKeyID) != 5 {
		t.Fatalf("status after rewrap: %+v", after)
	}
	kyso(t, &after, append(kek, "disable", fmt.Sprint(old))...)
	for _, k := range after.Keys {
		if k.KeyID == old && k.Status != "DISABLED" {
			t.Fatalf("old key %+v", k)
		}
	}
	sign(alice)
	sign(bob)
	carol := e.newSigner("003", "EC-P384") // the development CA signs with its rewrapped key
	e.restart()
	sign(alice)
	sign(carol)
}

func TestRotateLocalMaster(t *testing.T) {
	e := startEnv(t)
	rp, _ := e.newRP("Portal")
	s := e.newSigner("001", "EC-P256")
	before, _ := os.ReadFile(filepath.Join(e.dir, app.MasterFile))
	// Refused while the server runs.
	if code := cli.Run(context.Background(), []string{"kek", "rotate-master", "--data", e.dir}, io.Discard, io.Discard); code == 0 {
		t.Fatal("rotate-master ran under a live server")
	}
	e.stop()
	kyso(t, nil, "kek", "rotate-master", "--data", e.dir)
	after, _ := os.ReadFile(filepath.Join(e.dir, app.MasterFile))
	if bytes.Equal(before, after) || strings.Count(string(after), `"keyId"`) != 1 {
		t.Fatalf("master file after rotation:\n%s", after)
	}
	e.start()
	signOnce(t, rp, s)
}

// TestMoveDeploymentOntoHSM: a deployment started on the local master moves to an HSM
// master; the local master file is gone and everything still signs.
func TestMoveDeploymentOntoHSM(t *testing.T) {
	tok := softhsmtest.New(t)
	e := startEnv(t)
	rp, _ := e.newRP("Portal")
	s := e.newSigner("001", "RSA-2048")
	e.stop()
	pin := filepath.Join(t.TempDir(), "pin")
	must(t, os.WriteFile(pin, []byte(tok.PIN), 0o600))
	kyso(t, nil, "kek", "rotate-master", "--data", e.dir, "--to", "pkcs11", "--pkcs11-module", tok.Module,
		"--pkcs11-token", tok.Label, "--pkcs11-pin-file", pin, "--pkcs11-key", "kyso-master")
	if _, err := os.Stat(filepath.Join(e.dir, app.MasterFile)); err == nil {
		t.Fatal("the local master file was left behind")
	}
	e.options = append(e.options, withHSM(tok))
	e.start()
	signOnce(t, rp, s)
}

func signOnce(t *testing.T, rp *apiclient.Client, s signer) {
	t.Helper()
	sess, err := rp.CreateSignature(context.Background(), request(s, "SHA-256", "", digests(1, "SHA-256")), "")
	must(t, err)
	if st, err := s.dev.Decide(context.Background(), sess.ID, true, ""); err != nil || st != "signed" {
		t.Fatalf("sign: %s %v", st, err)
	}
}
