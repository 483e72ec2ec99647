// Package audit verifies Kyso's append-only, hash-chained audit log: every record's hash must
// be the chain hash of its fields and its predecessor's hash, and sequence numbers must run
// without gaps. A deleted, reordered or edited record breaks the chain.
package audit

import (
	"bytes"
	"fmt"

	"github.com/kyso-dev/kyso/signing"
)

// Verifier checks records in order, across as many calls to Add as there are pages.
type Verifier struct {
	seq  uint64
	prev []byte
	n    int
}

// Add checks the next records of the log.
func (v *Verifier) Add(records []signing.AuditRecord) error {
	for _, r := range records {
		if r.Seq != v.seq+1 {
			return fmt.Errorf("audit record %d follows %d: a record is missing or out of order", r.Seq, v.seq)
		}
		if !bytes.Equal(r.PrevHash, v.prev) {
			return fmt.Errorf("audit record %d does not link to record %d", r.Seq, v.seq)
		}
		if !bytes.Equal(r.Hash, r.ChainHash()) {
			return fmt.Errorf("audit record %d was altered: its hash does not match its contents", r.Seq)
		}
		v.seq, v.prev = r.Seq, r.Hash
		v.n++
	}
	return nil
}

// Count returns how many records verified so far.
func (v *Verifier) Count() int { return v.n }

// Head returns the sequence number and hash of the last verified record.
func (v *Verifier) Head() (uint64, []byte) { return v.seq, v.prev }
