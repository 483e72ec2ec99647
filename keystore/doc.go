// Package keystore is key custody: it generates users' signing keys, wraps their PKCS#8 bytes
// with a Tink AEAD (the key-encryption key, KEK) under associated data that binds the
// credential id and the user id, and hands keys out only as crypto.Signer values that unwrap
// for each operation and wipe the bytes after.
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
//   - The local KEK is a keyset file in the clear (mode 0600). It is the development default;
//     production keeps the KEK under an HSM or KMS.
package keystore
