// Package signing is Kyso's domain core: users, credentials, devices, relying parties and
// signing sessions, the session state machine, its error codes, and the small interfaces it
// consumes (Store, Keys, Issuer, Notifier, ApprovalVerifier). It imports nothing from the
// project and nothing about HTTP, storage engines or push services.
//
// A session moves pending -> approved -> signed, or to declined, expired or failed. Every
// transition is a compare-and-set in the Store, so a replayed or late confirmation changes
// nothing, and a session's hashes are signed at most once.
//
// # Caveats
//
//   - The long-poll hub is in memory: a waiter on one node is woken only by transitions made on
//     the same node (a multi-node deployment falls back to the waiter's timeout and re-read).
//   - Key material passes through Keys as a crypto.Signer only; this package never sees key bytes.
package signing
