package keystore_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ThalesGroup/crypto11"
	"github.com/kyso-dev/kyso/internal/softhsmtest"
	"github.com/kyso-dev/kyso/keystore"
	"github.com/kyso-dev/kyso/signing"
)

func TestPKCS11Master(t *testing.T) {
	tok := softhsmtest.New(t)
	cfg := keystore.PKCS11Config{Module: tok.Module, TokenLabel: tok.Label, PIN: signing.Secret(tok.PIN), KeyLabel: "kyso-master", CreateIfMissing: true}
	m, created, err := keystore.OpenPKCS11Master(cfg)
	if err != nil || !created {
		t.Fatalf("first open: %v %v", created, err)
	}
	kekPath := filepath.Join(t.TempDir(), "kek.json")
	kek, _, _, err := keystore.OpenKEK(kekPath, m)
	if err != nil {
		t.Fatal(err)
	}
	ks := keystore.New(kek)
	wrapped, pub, err := ks.GenerateKey(context.Background(), signing.KeyRSA2048, "cred_1", "usr_1")
	if err != nil {
		t.Fatal(err)
	}
	m.Close()

	// Reopen: the key is found (not created again) and the KEK opens.
	m, created, err = keystore.OpenPKCS11Master(cfg)
	if err != nil || created {
		t.Fatalf("reopen: %v %v", created, err)
	}
	kek, _, _, err = keystore.OpenKEK(kekPath, m)
	if err != nil {
		t.Fatalf("the KEK does not open after a restart: %v", err)
	}
	signer, _ := keystore.New(kek).Signer(context.Background(), wrapped, "cred_1", "usr_1", pub)
	digest := sha256.Sum256([]byte("doc"))
	if _, err := signer.Sign(nil, digest[:], crypto.SHA256); err != nil {
		t.Fatalf("sign after restart: %v", err)
	}
	m.Close()
}

// TestPKCS11FailsClosed: a wrong PIN, or a master key removed from the token, stops the
// server from opening the KEK with a clear error — never a panic, never a PIN in the text,
// never a new key quietly created under an existing keyset.
func TestPKCS11FailsClosed(t *testing.T) {
	tok := softhsmtest.New(t)
	cfg := keystore.PKCS11Config{Module: tok.Module, TokenLabel: tok.Label, PIN: signing.Secret(tok.PIN), KeyLabel: "kyso-master", CreateIfMissing: true}
	m, _, err := keystore.OpenPKCS11Master(cfg)
	if err != nil {
		t.Fatal(err)
	}
	kekPath := filepath.Join(t.TempDir(), "kek.json")
	if _, _, _, err := keystore.OpenKEK(kekPath, m); err != nil {
		t.Fatal(err)
	}
	m.Close()

	wrong := cfg
	wrong.PIN = signing.Secret("999999-wrong")
	if _, _, err := keystore.OpenPKCS11Master(wrong); err == nil || strings.Contains(err.Error(), wrong.PIN.Reveal()) {
		t.Fatalf("wrong PIN: %v", err)
	}

	// Remove the master key from the token.
	ctx, err := crypto11.Configure(&crypto11.Config{Path: tok.Module, TokenLabel: tok.Label, Pin: tok.PIN})
	if err != nil {
		t.Fatal(err)
	}
	key, err := ctx.FindKey(nil, []byte("kyso-master"))
	if err != nil || key == nil {
		t.Fatalf("find: %v", err)
	}
	if err := key.Delete(); err != nil {
		t.Fatal(err)
	}
	ctx.Close()

	existing := cfg
	existing.CreateIfMissing = false // a KEK keyset exists: never make a new master
	if _, _, err := keystore.OpenPKCS11Master(existing); err == nil || !strings.Contains(err.Error(), "not in the token") {
		t.Fatalf("missing key: %v", err)
	}
}
