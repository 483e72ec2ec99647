package audit_test

import (
	"testing"
	"time"

	"github.com/kyso-dev/kyso/audit"
	"github.com/kyso-dev/kyso/signing"
)

func chain(n int) []signing.AuditRecord {
	var out []signing.AuditRecord
	var prev []byte
	for i := 1; i <= n; i++ {
		r := signing.AuditRecord{Seq: uint64(i), Time: time.Unix(int64(i), 0), Actor: "op", Action: "user.created", Subject: "usr", PrevHash: prev}
		r.Hash = r.ChainHash()
		prev = r.Hash
		out = append(out, r)
	}
	return out
}

func TestVerify(t *testing.T) {
	var v audit.Verifier
	recs := chain(5)
	if err := v.Add(recs[:2]); err != nil {
		t.Fatal(err)
	}
	if err := v.Add(recs[2:]); err != nil || v.Count() != 5 {
		t.Fatalf("paged verification: %v %d", err, v.Count())
	}
	tamper := map[string]func([]signing.AuditRecord) []signing.AuditRecord{
		"edited":    func(r []signing.AuditRecord) []signing.AuditRecord { r[2].Subject = "usr_other"; return r },
		"deleted":   func(r []signing.AuditRecord) []signing.AuditRecord { return append(r[:2], r[3:]...) },
		"reordered": func(r []signing.AuditRecord) []signing.AuditRecord { r[1], r[2] = r[2], r[1]; return r },
		"rehashed": func(r []signing.AuditRecord) []signing.AuditRecord {
			r[2].Detail = "forged"
			r[2].Hash = r[2].ChainHash() // the next record no longer links
			return r
		},
	}
	for name, f := range tamper {
		var v audit.Verifier
		if err := v.Add(f(chain(5))); err == nil {
			t.Errorf("%s log verified", name)
		}
	}
}
