package signing

import (
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// ChainHash returns the hash that links r to the log: SHA-256 over the previous record's hash
// and r's fields in a fixed, length-prefixed layout. Stores set r.Hash = r.ChainHash() after
// setting Seq and PrevHash; verifiers recompute it.
func (r *AuditRecord) ChainHash() []byte {
	h := sha256.New()
	var n [8]byte
	field := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	binary.BigEndian.PutUint64(n[:], r.Seq)
	h.Write([]byte("kyso-audit-v1"))
	h.Write(n[:])
	field(r.PrevHash)
	field([]byte(r.Time.UTC().Format(time.RFC3339Nano)))
	field([]byte(r.Actor))
	field([]byte(r.Action))
	field([]byte(r.Subject))
	field([]byte(r.Detail))
	return h.Sum(nil)
}
