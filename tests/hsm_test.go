package tests

import (
	"context"
	"crypto/x509"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-dev/kyso/cmd/kyso/app"
	"github.com/kyso-dev/kyso/cmd/kyso/cli"
	"github.com/kyso-dev/kyso/internal/softhsmtest"
	"github.com/kyso-dev/kyso/internal/vaulttest"
	"github.com/kyso-dev/kyso/keystore"
	"github.com/kyso-dev/kyso/signing"
)

func withHSM(tok *softhsmtest.Token) func(*app.Config) {
	return func(c *app.Config) {
		c.Master = "pkcs11"
		c.PKCS11 = keystore.PKCS11Config{Module: tok.Module, TokenLabel: tok.Label, PIN: signing.Secret(tok.PIN), KeyLabel: "kyso-master"}
	}
}

// TestTransactionWithHSMMaster runs whole transactions with the master key in SoftHSM2,
// across a restart, and checks no master file exists in the data directory.
func TestTransactionWithHSMMaster(t *testing.T) {
	tok := softhsmtest.New(t)
	e := startEnv(t, withHSM(tok))
	rp, _ := e.newRP("Portal")
	ctx := context.Background()
	for i, alg := range []string{"EC-P256", "RSA-2048"} {
		s := e.newSigner("00"+string(rune('1'+i)), alg)
		hashes := digests(2, "SHA-256")
		sess, err := rp.CreateSignature(ctx, request(s, "SHA-256", "", hashes), "")
		must(t, err)
		if i == 1 {
			e.restart() // the KEK must open again from the HSM
		}
		state, err := s.dev.Decide(ctx, sess.ID, true, sess.VerificationCode)
		must(t, err)
		got, err := rp.Signature(ctx, sess.ID, 0)
		must(t, err)
		if state != "signed" || got.State != "signed" {
			t.Fatalf("%s: %s", alg, got.State)
		}
		cert, _ := x509.ParseCertificate(got.Certificate)
		sigAlg := map[string]string{"EC-P256": "ECDSA", "RSA-2048": "RSASSA-PSS"}[alg]
		for j, d := range got.Documents {
			verifyStdlib(t, cert, sigAlg, "SHA-256", hashes[j], d.Signature)
		}
	}
	if _, err := os.Stat(filepath.Join(e.dir, app.MasterFile)); err == nil {
		t.Fatal("a local master file exists although the master is in the HSM")
	}
}

// TestServeRefusesWrongPIN: the real kyso serve with a wrong PIN file stops with a clear
// error, without echoing the PIN.
func TestServeRefusesWrongPIN(t *testing.T) {
	tok := softhsmtest.New(t)
	dir := t.TempDir()
	pinFile := filepath.Join(dir, "pin")
	must(t, os.WriteFile(pinFile, []byte("000000-not-the-pin\n"), 0o600))
	logs := &logBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code := cli.Run(ctx, []string{"serve", "--data", filepath.Join(dir, "data"), "--addr", "127.0.0.1:0", "--master", "pkcs11",
		"--pkcs11-module", tok.Module, "--pkcs11-token", tok.Label, "--pkcs11-pin-file", pinFile}, io.Discard, logs)
	out := string(logs.Bytes())
	if code == 0 || !strings.Contains(out, "pkcs11") || strings.Contains(out, "000000-not-the-pin") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

// TestTransactionWithVaultMaster runs the real kyso serve with its master key in a (fake)
// Vault transit engine, addressed by a Tink hcvault:// key URI.
func TestTransactionWithVaultMaster(t *testing.T) {
	fake := vaulttest.New("s.kyso")
	t.Cleanup(fake.Close)
	e := startEnv(t, func(c *app.Config) {
		c.Master = "kms"
		c.KMS = keystore.KMSConfig{URI: "hcvault://vault.internal/transit/keys/kyso-master", VaultAddress: fake.URL, VaultToken: "s.kyso"}
	})
	rp, _ := e.newRP("Portal")
	s := e.newSigner("001", "EC-P256")
	e.restart()
	signOnce(t, rp, s)
	if fake.Calls() < 2 {
		t.Fatalf("Vault answered %d calls; the KEK keyset must be encrypted and then decrypted by it", fake.Calls())
	}
}
