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
	"testing"

	"github.com/kyso-dev/kyso/keystore"
	"github.com/kyso-dev/kyso/signing"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
)

func newKeystore(t testing.TB) (*keystore.Keystore, string) {
	path := filepath.Join(t.TempDir(), "kek.json")
	kek, created, err := keystore.OpenLocalKEK(path)
	if err != nil || !created {
		t.Fatalf("create KEK: %v %v", created, err)
	}
	return keystore.New(kek), path
}

func TestGenerateAndSignEveryAlgorithm(t *testing.T) {
	ks, _ := newKeystore(t)
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
	ks, _ := newKeystore(t)
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
	ks, path := newKeystore(t)
	wrapped, pub, err := ks.GenerateKey(context.Background(), signing.KeyECP256, "cred_9", "usr_9")
	if err != nil {
		t.Fatal(err)
	}
	if wrapped[0] != 1 {
		t.Fatalf("format byte %d", wrapped[0])
	}
	f, _ := os.Open(path)
	defer f.Close()
	h, err := insecurecleartextkeyset.Read(keyset.NewJSONReader(f))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := aead.New(h)
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

func TestLocalKEKFilePermissions(t *testing.T) {
	_, path := newKeystore(t)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("KEK mode %v", fi.Mode().Perm())
	}
	if _, _, err := keystore.OpenLocalKEK(path); err != nil {
		t.Fatalf("reopen: %v", err)
	}
	os.Chmod(path, 0o644)
	if _, _, err := keystore.OpenLocalKEK(path); err == nil {
		t.Fatal("a world-readable KEK must be refused")
	}
}

func TestSealIsBoundToLabel(t *testing.T) {
	ks, _ := newKeystore(t)
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
	kek, _, _ := keystore.OpenLocalKEK(filepath.Join(dir, "kek.json"))
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
