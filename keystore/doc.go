// Package keystore is key custody: it generates users' signing keys, wraps their PKCS#8 bytes
// with a Tink AEAD (the key-encryption key, KEK) under associated data that binds the
// credential id and the user id, and hands keys out only as crypto.Signer values that unwrap
// for each operation and wipe the bytes after.
//
// The hierarchy: a Master (an AES-256 key in an HSM through PKCS#11, a KMS key, or for
// development a local keyset file) encrypts the KEK keyset file; the KEK (Tink AES-256-GCM
// keys, one primary) wraps users' keys. Rotating the KEK adds a primary key; Rewrap moves
// blobs to it; a KEK key nobody uses any more can be disabled. Rotating the master
// re-encrypts the keyset file.
//
// A wrapped blob is one format-version byte (1) followed by the Tink ciphertext, whose
// 5-byte Tink prefix names the KEK key that wrapped it, so a rotated keyset still opens old
// blobs. The associated data is "kyso/credential-key/v1", 0x00, credential id, 0x00, user id:
// a blob copied to another credential or user does not open.
//
// # Caveats
//
//   - Go's crypto/ecdsa and crypto/rsa keep parsed keys in memory the package cannot wipe; the
//     PKCS#8 bytes are wiped, and parsed keys live only for the duration of one signing call.
//   - The local master is a keyset file in the clear (mode 0600). It is the development
//     default; production keeps the master in an HSM or KMS.
package keystore
