package keystore_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"path/filepath"
	"testing"

	"github.com/kyso-dev/kyso/internal/softhsmtest"
	"github.com/kyso-dev/kyso/keystore"
	"github.com/kyso-dev/kyso/signing"
)

func benchMasters(b *testing.B) map[string]keystore.Master {
	local, _, err := keystore.OpenLocalMaster(filepath.Join(b.TempDir(), "master.json"))
	if err != nil {
		b.Fatal(err)
	}
	tok := softhsmtest.New(b)
	hsm, _, err := keystore.OpenPKCS11Master(keystore.PKCS11Config{Module: tok.Module, TokenLabel: tok.Label,
		PIN: signing.Secret(tok.PIN), KeyLabel: "bench", CreateIfMissing: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { hsm.Close() })
	return map[string]keystore.Master{"local": local, "pkcs11": hsm}
}

// BenchmarkUnwrapSign is the per-signature cost of key custody: unwrap the PKCS#8 blob with
// the KEK (in memory, whatever the master), parse it, check it against the public key, sign
// one digest, wipe. The master is not touched per signature.
func BenchmarkUnwrapSign(b *testing.B) {
	for name, master := range benchMasters(b) {
		kek, _, _, err := keystore.OpenKEK(filepath.Join(b.TempDir(), "kek.json"), master)
		if err != nil {
			b.Fatal(err)
		}
		ks := keystore.New(kek)
		for _, alg := range []signing.KeyAlgorithm{signing.KeyECP256, signing.KeyECP384, signing.KeyRSA2048, signing.KeyRSA3072} {
			b.Run(name+"/"+string(alg), func(b *testing.B) {
				wrapped, pub, err := ks.GenerateKey(context.Background(), alg, "cred_1", "usr_1")
				if err != nil {
					b.Fatal(err)
				}
				signer, _ := ks.Signer(context.Background(), wrapped, "cred_1", "usr_1", pub)
				digest := sha256.Sum256([]byte("doc"))
				var opts crypto.SignerOpts = crypto.SHA256
				if alg.IsRSA() {
					opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := signer.Sign(nil, digest[:], opts); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkMasterDecrypt is what the master costs: one KEK-keyset decryption, paid at start
// and at each rotation only.
func BenchmarkMasterDecrypt(b *testing.B) {
	for name, master := range benchMasters(b) {
		b.Run(name, func(b *testing.B) {
			ct, err := master.Encrypt(make([]byte, 200), []byte("ad"))
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := master.Decrypt(ct, []byte("ad")); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
