package keystore_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kyso-dev/kyso/keystore"
	"github.com/kyso-dev/kyso/signing"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// newKeystore makes a local master and a KEK in a temp dir; it returns their paths.
func newKeystore(t testing.TB) (ks *keystore.Keystore, masterPath, kekPath string) {
	dir := t.TempDir()
	masterPath, kekPath = filepath.Join(dir, "master.json"), filepath.Join(dir, "kek.json")
	master, created, err := keystore.OpenLocalMaster(masterPath)
	if err != nil || !created {
		t.Fatalf("create master: %v %v", created, err)
	}
	kek, created, _, err := keystore.OpenKEK(kekPath, master)
	if err != nil || !created {
		t.Fatalf("create KEK: %v %v", created, err)
	}
	return keystore.New(kek), masterPath, kekPath
}

// openKEKIndependently reads the KEK keyset the way the documented format says, with Tink
// alone: the master keyset file in the clear, then the KEK keyset encrypted under it with
// associated data "kyso/kek-keyset/v1".
func openKEKIndependently(t testing.TB, masterPath, kekPath string) tink.AEAD {
	t.Helper()
	f, err := os.Open(masterPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mh, err := insecurecleartextkeyset.Read(keyset.NewJSONReader(f))
	if err != nil {
		t.Fatal(err)
	}
	master, _ := aead.New(mh)
	g, err := os.Open(kekPath)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	kh, err := keyset.ReadWithAssociatedData(keyset.NewJSONReader(g), master, []byte("kyso/kek-keyset/v1"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := aead.New(kh)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestGenerateAndSignEveryAlgorithm(t *testing.T) {
	ks, _, _ := newKeystore(t)
	ctx := context.Background()
	digest := sha256.Sum256([]byte("document"))
	for _, alg := range []signing.KeyAlgorithm{signing.KeyECP256, signing.KeyECP384, signing.KeyRSA2048} {
		t.Run(string(alg), func(t *testing.T) {
			wrapped, pub, err := ks.GenerateKey(ctx, alg, "cred_1", "usr_1")
			if err != nil {
				t.Fatal(err)
			}
			signer, err := ks.Signer(ctx, wrapped, "cred_1", "usr_1", pub)
			if err != nil {
				t.Fatal(err)
			}
			sig, err := signer.Sign(nil, digest[:], crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			switch k := pub.(type) {
			case *ecdsa.PublicKey:
				if !ecdsa.VerifyASN1(k, digest[:], sig) {
					t.Fatal("ECDSA signature does not verify")
				}
			case *rsa.PublicKey:
				if err := rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], sig); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestBlobIsBoundToCredentialAndUser: a wrapped key copied to another credential or another
// user must not open.
func TestBlobIsBoundToCredentialAndUser(t *testing.T) {
	ks, _, _ := newKeystore(t)
	ctx := context.Background()
	wrapped, pub, err := ks.GenerateKey(ctx, signing.KeyECP256, "cred_1", "usr_1")
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("x"))
	for _, c := range []struct{ cred, user string }{{"cred_1", "usr_2"}, {"cred_2", "usr_1"}} {
		signer, _ := ks.Signer(ctx, wrapped, c.cred, c.user, pub)
		if _, err := signer.Sign(nil, digest[:], crypto.SHA256); err == nil {
			t.Fatalf("blob opened as %s/%s", c.cred, c.user)
		}
	}
	// And a key that does not match the public key is refused even if it opens.
	_, otherPub, _ := ks.GenerateKey(ctx, signing.KeyECP256, "cred_1", "usr_1")
	signer, _ := ks.Signer(ctx, wrapped, "cred_1", "usr_1", otherPub)
	if _, err := signer.Sign(nil, digest[:], crypto.SHA256); err == nil {
		t.Fatal("signed with a key that does not match the certificate's public key")
	}
}

// TestBlobFormat checks the documented blob layout independently with Tink: version byte 1,
// then a Tink AEAD ciphertext under the documented associated data, holding PKCS#8.
func TestBlobFormat(t *testing.T) {
	ks, masterPath, kekPath := newKeystore(t)
	wrapped, pub, err := ks.GenerateKey(context.Background(), signing.KeyECP256, "cred_9", "usr_9")
	if err != nil {
		t.Fatal(err)
	}
	if wrapped[0] != 1 {
		t.Fatalf("format byte %d", wrapped[0])
	}
	a := openKEKIndependently(t, masterPath, kekPath)
	pt, err := a.Decrypt(wrapped[1:], []byte("kyso/credential-key/v1\x00cred_9\x00usr_9"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := x509.ParsePKCS8PrivateKey(pt)
	if err != nil || !k.(*ecdsa.PrivateKey).PublicKey.Equal(pub) {
		t.Fatalf("plaintext is not the PKCS#8 key: %v", err)
	}
	if bytes.Contains(wrapped, pt) {
		t.Fatal("the PKCS#8 bytes appear in the blob")
	}
}

func TestLocalMasterAndKEKFiles(t *testing.T) {
	_, masterPath, kekPath := newKeystore(t)
	for _, p := range []string{masterPath, kekPath} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s mode %v", p, fi.Mode().Perm())
		}
	}
	raw, _ := os.ReadFile(kekPath)
	if !bytes.Contains(raw, []byte("encryptedKeyset")) {
		t.Fatalf("the KEK keyset is not stored encrypted: %s", raw)
	}
	master, _, err := keystore.OpenLocalMaster(masterPath)
	if err != nil {
		t.Fatalf("reopen master: %v", err)
	}
	if _, created, _, err := keystore.OpenKEK(kekPath, master); err != nil || created {
		t.Fatalf("reopen KEK: %v %v", created, err)
	}
	// Another master cannot open the KEK, and says so.
	other, _, _ := keystore.OpenLocalMaster(filepath.Join(t.TempDir(), "other.json"))
	if _, _, _, err := keystore.OpenKEK(kekPath, other); err == nil || !strings.Contains(err.Error(), "does not open with the master") {
		t.Fatalf("a wrong master: %v", err)
	}
	os.Chmod(masterPath, 0o644)
	if _, _, err := keystore.OpenLocalMaster(masterPath); err == nil {
		t.Fatal("a world-readable master must be refused")
	}
}

// TestClearKEKIsMigrated: a data directory of the first version has its KEK keyset in the
// clear; opening it with a master encrypts it in place, and old blobs still open.
func TestClearKEKIsMigrated(t *testing.T) {
	dir := t.TempDir()
	kekPath := filepath.Join(dir, "kek.json")
	h, _ := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	f, _ := os.OpenFile(kekPath, os.O_CREATE|os.O_WRONLY, 0o600)
	insecurecleartextkeyset.Write(h, keyset.NewJSONWriter(f))
	f.Close()
	old, _ := aead.New(h)
	ct, _ := old.Encrypt([]byte("key"), []byte("ad"))
	master, _, _ := keystore.OpenLocalMaster(filepath.Join(dir, "master.json"))
	kek, _, migrated, err := keystore.OpenKEK(kekPath, master)
	if err != nil || !migrated {
		t.Fatalf("migrate: %v %v", migrated, err)
	}
	if pt, err := kek.Decrypt(ct, []byte("ad")); err != nil || string(pt) != "key" {
		t.Fatalf("old blob after migration: %v", err)
	}
	raw, _ := os.ReadFile(kekPath)
	if !bytes.Contains(raw, []byte("encryptedKeyset")) {
		t.Fatal("the migrated keyset is still in the clear")
	}
}

func TestRotateRewrapDisable(t *testing.T) {
	ks, masterPath, kekPath := newKeystore(t)
	ctx := context.Background()
	wrapped, pub, _ := ks.GenerateKey(ctx, signing.KeyECP256, "cred_1", "usr_1")
	first, _ := ks.BlobKeyID(wrapped)
	second, err := ks.RotateKEK()
	if err != nil || second == first {
		t.Fatalf("rotate: %v", err)
	}
	newer, _, _ := ks.GenerateKey(ctx, signing.KeyECP256, "cred_2", "usr_1")
	if id, _ := ks.BlobKeyID(newer); id != second {
		t.Fatalf("new wraps use key %d, want the new primary %d", id, second)
	}
	digest := sha256.Sum256([]byte("x"))
	signer, _ := ks.Signer(ctx, wrapped, "cred_1", "usr_1", pub)
	if _, err := signer.Sign(nil, digest[:], crypto.SHA256); err != nil {
		t.Fatalf("a blob wrapped before rotation must still sign: %v", err)
	}
	moved, changed, err := ks.Rewrap(wrapped, "cred_1", "usr_1")
	if err != nil || !changed {
		t.Fatalf("rewrap: %v %v", changed, err)
	}
	if _, changed, _ := ks.Rewrap(moved, "cred_1", "usr_1"); changed {
		t.Fatal("rewrapping a blob already under the primary must change nothing")
	}
	if err := ks.DisableKEKKey(second); err == nil {
		t.Fatal("the primary key was disabled")
	}
	if err := ks.DisableKEKKey(first); err != nil {
		t.Fatal(err)
	}
	if _, err := signer.Sign(nil, digest[:], crypto.SHA256); err == nil {
		t.Fatal("a blob under a disabled key still opened")
	}
	signer, _ = ks.Signer(ctx, moved, "cred_1", "usr_1", pub)
	if _, err := signer.Sign(nil, digest[:], crypto.SHA256); err != nil {
		t.Fatalf("the rewrapped blob: %v", err)
	}
	// The change is durable: the file on disk has the two keys, one disabled.
	a := openKEKIndependently(t, masterPath, kekPath)
	if _, err := a.Decrypt(moved[1:], keystore.KeyAssociatedData("cred_1", "usr_1")); err != nil {
		t.Fatalf("the saved keyset does not open the rewrapped blob: %v", err)
	}
}

func TestSealIsBoundToLabel(t *testing.T) {
	ks, _, _ := newKeystore(t)
	sealed, err := ks.Seal([]byte("secret"), "callback-secret:rp_1")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ks.Open(sealed, "callback-secret:rp_1"); err != nil || string(got) != "secret" {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := ks.Open(sealed, "callback-secret:rp_2"); err == nil {
		t.Fatal("opened under another label")
	}
}

func Example() {
	dir, _ := os.MkdirTemp("", "kyso-example")
	defer os.RemoveAll(dir)
	// The master encrypts the KEK keyset; the KEK wraps users' keys.
	master, _, _ := keystore.OpenLocalMaster(filepath.Join(dir, "master.json"))
	kek, _, _, _ := keystore.OpenKEK(filepath.Join(dir, "kek.json"), master)
	ks := keystore.New(kek)

	// Generate a user's key: only the wrapped blob and the public key come out.
	wrapped, pub, _ := ks.GenerateKey(context.Background(), signing.KeyECP256, "cred_1", "usr_1")

	// Use it through a crypto.Signer that unwraps for each signature and wipes the bytes.
	signer, _ := ks.Signer(context.Background(), wrapped, "cred_1", "usr_1", pub)
	digest := sha256.Sum256([]byte("Quyết định 123/QĐ-UBND"))
	sig, _ := signer.Sign(nil, digest[:], crypto.SHA256)
	fmt.Println(ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), digest[:], sig))
	// Output: true
}
