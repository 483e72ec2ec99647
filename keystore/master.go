package keystore

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"os"

	"github.com/ThalesGroup/crypto11"
	"github.com/kyso-dev/kyso/internal/atomicfile"
	"github.com/kyso-dev/kyso/signing"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// Master is the key at the top of the hierarchy: an AEAD whose key stays in its provider
// (an HSM, a KMS, or for development a local keyset file). It encrypts only the KEK keyset.
type Master interface {
	tink.AEAD
	// Describe names the master for logs and status, without any secret.
	Describe() string
	// Close releases the provider (HSM sessions).
	Close() error
}

// ---- local ---------------------------------------------------------------------------------

type localMaster struct {
	tink.AEAD
	path string
}

// OpenLocalMaster opens the local master keyset file at path (AES-256-GCM, mode 0600),
// creating it if needed. It is for development: the file is the master key in the clear.
func OpenLocalMaster(path string) (m Master, created bool, err error) {
	h, created, err := openOrCreateCleartextKeyset(path)
	if err != nil {
		return nil, false, err
	}
	a, err := aead.New(h)
	if err != nil {
		return nil, false, fmt.Errorf("master key: %w", err)
	}
	return &localMaster{AEAD: a, path: path}, created, nil
}

func (m *localMaster) Describe() string { return "local keyset file " + m.path }
func (m *localMaster) Close() error     { return nil }

// openOrCreateCleartextKeyset reads a cleartext AES-256-GCM keyset file, refusing one that
// others can read, or creates it with O_EXCL so a concurrent creator is never overwritten.
func openOrCreateCleartextKeyset(path string) (*keyset.Handle, bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
		if err != nil {
			return nil, false, fmt.Errorf("generate keyset: %w", err)
		}
		var buf bytes.Buffer
		if err := insecurecleartextkeyset.Write(h, keyset.NewJSONWriter(&buf)); err != nil {
			return nil, false, fmt.Errorf("encode keyset: %w", err)
		}
		defer clear(buf.Bytes())
		if err := writeNewFile(path, buf.Bytes()); err != nil {
			return nil, false, err
		}
		return h, true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("open keyset: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, false, fmt.Errorf("keyset %s is readable by others (mode %o); chmod 600 it", path, fi.Mode().Perm())
	}
	h, err := insecurecleartextkeyset.Read(keyset.NewJSONReader(f))
	if err != nil {
		return nil, false, fmt.Errorf("read keyset %s: %w", path, err)
	}
	return h, false, nil
}

// writeNewFile creates path (mode 0600, failing if it exists), writes data and syncs it.
func writeNewFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return f.Close()
}

// ---- PKCS#11 --------------------------------------------------------------------------------

// PKCS11Config locates the master key in an HSM.
type PKCS11Config struct {
	Module     string // path of the PKCS#11 library
	TokenLabel string
	PIN        signing.Secret // the user PIN; read it from a file or the environment, never a flag
	KeyLabel   string         // label of the AES-256 key
	// CreateIfMissing creates the key when the token has none with the label. Set it only
	// on first start: once a KEK keyset exists, a missing master key is an error, not a
	// reason to make a new one.
	CreateIfMissing bool
}

type pkcs11Master struct {
	ctx   *crypto11.Context
	gcm   cipher.AEAD
	label string
	token string
}

// OpenPKCS11Master logs in to the token and finds the AES-256 key with the label, creating
// it inside the token (never extractable) if it does not exist and cfg allows it. The key never leaves the
// HSM: encryption and decryption run in the token with AES-GCM.
func OpenPKCS11Master(cfg PKCS11Config) (m Master, created bool, err error) {
	defer recoverHSM(&err)
	if cfg.Module == "" || cfg.TokenLabel == "" || cfg.KeyLabel == "" {
		return nil, false, errors.New("pkcs11: the module, token label and key label are required")
	}
	if cfg.PIN == "" {
		return nil, false, errors.New("pkcs11: no PIN (give --pkcs11-pin-file or KYSO_PKCS11_PIN)")
	}
	ctx, err := crypto11.Configure(&crypto11.Config{Path: cfg.Module, TokenLabel: cfg.TokenLabel, Pin: cfg.PIN.Reveal(), GCMIVLength: 12})
	if err != nil {
		return nil, false, fmt.Errorf("pkcs11: open token %q: %w", cfg.TokenLabel, scrub(err, cfg.PIN.Reveal()))
	}
	found, err := ctx.FindKeys(nil, []byte(cfg.KeyLabel))
	if err != nil {
		ctx.Close()
		return nil, false, fmt.Errorf("pkcs11: find key %q: %w", cfg.KeyLabel, err)
	}
	var key *crypto11.SecretKey
	switch len(found) {
	case 0:
	case 1:
		key = found[0]
	default:
		ctx.Close()
		return nil, false, fmt.Errorf("pkcs11: %d keys carry the label %q; the master must be unambiguous", len(found), cfg.KeyLabel)
	}
	if key == nil && !cfg.CreateIfMissing {
		ctx.Close()
		return nil, false, fmt.Errorf("pkcs11: the master key %q is not in the token %q; the KEK keyset cannot be opened without it", cfg.KeyLabel, cfg.TokenLabel)
	}
	if key == nil {
		id := make([]byte, 16)
		_, _ = rand.Read(id)
		if key, err = ctx.GenerateSecretKeyWithLabel(id, []byte(cfg.KeyLabel), 256, crypto11.CipherAES); err != nil {
			ctx.Close()
			return nil, false, fmt.Errorf("pkcs11: create AES-256 key %q: %w", cfg.KeyLabel, err)
		}
		created = true
	}
	gcm, err := key.NewGCM()
	if err != nil {
		ctx.Close()
		return nil, false, fmt.Errorf("pkcs11: the token has no AES-GCM: %w", err)
	}
	return &pkcs11Master{ctx: ctx, gcm: gcm, label: cfg.KeyLabel, token: cfg.TokenLabel}, created, nil
}

func (m *pkcs11Master) Describe() string {
	return fmt.Sprintf("PKCS#11 token %q key %q", m.token, m.label)
}

func (m *pkcs11Master) Close() (err error) {
	defer recoverHSM(&err)
	return m.ctx.Close()
}

// Encrypt returns nonce || AES-GCM(plaintext, associatedData), computed in the token.
func (m *pkcs11Master) Encrypt(plaintext, associatedData []byte) (ct []byte, err error) {
	defer recoverHSM(&err)
	nonce := make([]byte, m.gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return m.gcm.Seal(nonce, nonce, plaintext, associatedData), nil
}

// Decrypt reverses Encrypt in the token.
func (m *pkcs11Master) Decrypt(ciphertext, associatedData []byte) (pt []byte, err error) {
	defer recoverHSM(&err)
	n := m.gcm.NonceSize()
	if len(ciphertext) < n+m.gcm.Overhead() {
		return nil, errors.New("pkcs11: ciphertext too short")
	}
	pt, err = m.gcm.Open(nil, ciphertext[:n], ciphertext[n:], associatedData)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: decrypt: %w", err)
	}
	return pt, nil
}

// recoverHSM turns a panic of the PKCS#11 layer (crypto11 panics on some token errors) into
// an error: a failing HSM must fail closed, never crash the server.
func recoverHSM(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("pkcs11: the token failed: %v", r)
	}
}

// scrub removes the PIN from an error text, in case a library echoes it.
func scrub(err error, pin string) error {
	if pin != "" && bytes.Contains([]byte(err.Error()), []byte(pin)) {
		return errors.New(string(bytes.ReplaceAll([]byte(err.Error()), []byte(pin), []byte("[REDACTED]"))))
	}
	return err
}

// RotateLocalMaster replaces the local master key: it adds a new primary key to the master
// keyset file, re-encrypts the KEK keyset under it, then removes the old key. The file holds
// both keys until the KEK is re-encrypted, so a crash at any step leaves a pair that opens.
func RotateLocalMaster(masterPath, kekPath string) error {
	h, _, err := openOrCreateCleartextKeyset(masterPath)
	if err != nil {
		return err
	}
	old, err := aead.New(h)
	if err != nil {
		return err
	}
	kek, _, _, err := OpenKEK(kekPath, &localMaster{AEAD: old, path: masterPath})
	if err != nil {
		return err
	}
	oldID := h.KeysetInfo().GetPrimaryKeyId()
	m := keyset.NewManagerFromHandle(h)
	newID, err := m.Add(aead.AES256GCMKeyTemplate())
	if err != nil {
		return err
	}
	if err := m.SetPrimary(newID); err != nil {
		return err
	}
	both, err := m.Handle()
	if err != nil {
		return err
	}
	if err := writeCleartextKeyset(masterPath, both); err != nil {
		return err
	}
	next, err := aead.New(both)
	if err != nil {
		return err
	}
	if err := kek.Reencrypt(&localMaster{AEAD: next, path: masterPath}); err != nil {
		return err
	}
	if err := m.Disable(oldID); err != nil {
		return err
	}
	if err := m.Delete(oldID); err != nil {
		return err
	}
	only, err := m.Handle()
	if err != nil {
		return err
	}
	return writeCleartextKeyset(masterPath, only)
}

// ReencryptKEK re-encrypts the KEK keyset at kekPath from one master to another (moving a
// deployment onto an HSM, or to a new HSM key). The KEK keys do not change.
func ReencryptKEK(kekPath string, from, to Master) error {
	kek, _, _, err := OpenKEK(kekPath, from)
	if err != nil {
		return err
	}
	return kek.Reencrypt(to)
}

func writeCleartextKeyset(path string, h *keyset.Handle) error {
	var buf bytes.Buffer
	if err := insecurecleartextkeyset.Write(h, keyset.NewJSONWriter(&buf)); err != nil {
		return err
	}
	defer clear(buf.Bytes())
	return atomicfile.Write(path, buf.Bytes(), 0o600)
}
