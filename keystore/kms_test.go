package keystore_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/kyso-dev/kyso/internal/vaulttest"
	"github.com/kyso-dev/kyso/keystore"
	"github.com/kyso-dev/kyso/signing"
)

// TestVaultMaster runs the master through Tink's hcvault KMS client against a fake Vault
// transit engine on loopback.
func TestVaultMaster(t *testing.T) {
	fake := vaulttest.New("s.vault-token")
	defer fake.Close()
	cfg := keystore.KMSConfig{URI: "hcvault://vault.internal:8200/transit/keys/kyso-master", VaultAddress: fake.URL, VaultToken: "s.vault-token"}
	m, err := keystore.OpenKMSMaster(cfg)
	if err != nil {
		t.Fatal(err)
	}
	kekPath := filepath.Join(t.TempDir(), "kek.json")
	kek, _, _, err := keystore.OpenKEK(kekPath, m)
	if err != nil {
		t.Fatal(err)
	}
	ct, _ := kek.Encrypt([]byte("user key"), []byte("ad"))
	if fake.Calls() == 0 {
		t.Fatal("the KEK keyset was not encrypted by Vault")
	}
	m2, _ := keystore.OpenKMSMaster(cfg)
	kek2, created, _, err := keystore.OpenKEK(kekPath, m2)
	if err != nil || created {
		t.Fatalf("reopen through Vault: %v", err)
	}
	if pt, err := kek2.Decrypt(ct, []byte("ad")); err != nil || string(pt) != "user key" {
		t.Fatalf("decrypt after reopen: %v", err)
	}

	bad := cfg
	bad.VaultToken = signing.Secret("s.wrong")
	mBad, _ := keystore.OpenKMSMaster(bad)
	if _, _, _, err := keystore.OpenKEK(kekPath, mBad); err == nil {
		t.Fatal("a wrong Vault token opened the KEK")
	}
	if _, err := keystore.OpenKMSMaster(keystore.KMSConfig{URI: "gcp-kms://projects/p/locations/l/keyRings/r/cryptoKeys/k"}); err == nil ||
		!strings.Contains(err.Error(), "not built into this binary") {
		t.Fatalf("gcp-kms: %v", err)
	}
}
