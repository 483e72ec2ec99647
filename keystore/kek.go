package keystore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/kyso-dev/kyso/internal/atomicfile"
	"github.com/kyso-dev/kyso/signing"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// kekAD binds the encrypted keyset file to its purpose.
var kekAD = []byte("kyso/kek-keyset/v1")

// KEK is the key-encryption keyset: Tink AES-256-GCM keys that wrap users' keys. It lives in
// a file encrypted under the Master, and its primitive is cached in memory (unwrapped once
// at start and after each rotation). Rotation adds a key and makes it primary; older keys
// keep opening older blobs until they are disabled.
type KEK struct {
	mu     sync.RWMutex
	path   string
	master Master
	handle *keyset.Handle
	prim   tink.AEAD
}

// OpenKEK reads the KEK keyset at path with the master, or creates it. A keyset written in
// the clear by an earlier version is encrypted under the master in place (migrated).
func OpenKEK(path string, master Master) (k *KEK, created, migrated bool, err error) {
	raw, err := os.ReadFile(path)
	var h *keyset.Handle
	switch {
	case errors.Is(err, os.ErrNotExist):
		if h, err = keyset.NewHandle(aead.AES256GCMKeyTemplate()); err != nil {
			return nil, false, false, fmt.Errorf("generate KEK: %w", err)
		}
		created = true
	case err != nil:
		return nil, false, false, fmt.Errorf("read KEK keyset: %w", err)
	default:
		h, err = keyset.ReadWithAssociatedData(keyset.NewJSONReader(bytes.NewReader(raw)), master, kekAD)
		if err != nil {
			old, cerr := insecurecleartextkeyset.Read(keyset.NewJSONReader(bytes.NewReader(raw)))
			clear(raw)
			if cerr != nil {
				return nil, false, false, fmt.Errorf("the KEK keyset %s does not open with the master (%s): wrong master key, PIN or file", path, master.Describe())
			}
			h, migrated = old, true
		}
	}
	k = &KEK{path: path, master: master}
	if created || migrated {
		if err := k.save(h, master); err != nil {
			return nil, false, false, err
		}
	}
	if err := k.use(h); err != nil {
		return nil, false, false, err
	}
	return k, created, migrated, nil
}

// save writes h encrypted under master, atomically.
func (k *KEK) save(h *keyset.Handle, master Master) error {
	var buf bytes.Buffer
	if err := h.WriteWithAssociatedData(keyset.NewJSONWriter(&buf), master, kekAD); err != nil {
		return fmt.Errorf("encrypt KEK keyset: %w", err)
	}
	if err := atomicfile.Write(k.path, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("write KEK keyset: %w", err)
	}
	return nil
}

func (k *KEK) use(h *keyset.Handle) error {
	prim, err := aead.New(h)
	if err != nil {
		return fmt.Errorf("KEK primitive: %w", err)
	}
	k.handle, k.prim = h, prim
	return nil
}

// Encrypt wraps with the primary KEK key.
func (k *KEK) Encrypt(plaintext, associatedData []byte) ([]byte, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.prim.Encrypt(plaintext, associatedData)
}

// Decrypt unwraps with whichever enabled KEK key wrapped the ciphertext.
func (k *KEK) Decrypt(ciphertext, associatedData []byte) ([]byte, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.prim.Decrypt(ciphertext, associatedData)
}

// Keys lists the KEK keys.
func (k *KEK) Keys() []signing.KEKKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	info := k.handle.KeysetInfo()
	out := make([]signing.KEKKey, 0, len(info.GetKeyInfo()))
	for _, ki := range info.GetKeyInfo() {
		out = append(out, signing.KEKKey{ID: ki.GetKeyId(), Status: ki.GetStatus().String(), Primary: ki.GetKeyId() == info.GetPrimaryKeyId()})
	}
	return out
}

// Primary returns the id of the key new wraps use.
func (k *KEK) Primary() uint32 {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.handle.KeysetInfo().GetPrimaryKeyId()
}

// change applies fn to a manager of the keyset, saves the result and starts using it.
func (k *KEK) change(fn func(m *keyset.Manager) error) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	m := keyset.NewManagerFromHandle(k.handle)
	if err := fn(m); err != nil {
		return err
	}
	h, err := m.Handle()
	if err != nil {
		return err
	}
	if err := k.save(h, k.master); err != nil {
		return err
	}
	return k.use(h)
}

// Rotate adds a new AES-256-GCM key and makes it primary: new wraps use it, old blobs still
// open. It returns the new key's id.
func (k *KEK) Rotate() (uint32, error) {
	var id uint32
	err := k.change(func(m *keyset.Manager) error {
		var err error
		if id, err = m.Add(aead.AES256GCMKeyTemplate()); err != nil {
			return err
		}
		return m.SetPrimary(id)
	})
	if err != nil {
		return 0, fmt.Errorf("rotate KEK: %w", err)
	}
	return id, nil
}

// Disable stops a non-primary key from opening anything. Callers must first make sure no
// blob is wrapped by it.
func (k *KEK) Disable(id uint32) error {
	if id == k.Primary() {
		return errors.New("the primary KEK key cannot be disabled; rotate first")
	}
	return k.change(func(m *keyset.Manager) error { return m.Disable(id) })
}

// Reencrypt writes the keyset encrypted under a new master (master-key rotation) and
// uses that master from now on. The keys themselves do not change.
func (k *KEK) Reencrypt(master Master) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.save(k.handle, master); err != nil {
		return err
	}
	k.master = master
	return nil
}

// BlobKeyID returns the id of the KEK key that wrapped a blob (from its Tink prefix).
func BlobKeyID(blob []byte) (uint32, error) {
	if len(blob) < 6 || blob[0] != formatV1 || blob[1] != 0x01 {
		return 0, errors.New("not a wrapped blob of format 1 with a Tink prefix")
	}
	return binary.BigEndian.Uint32(blob[2:6]), nil
}
