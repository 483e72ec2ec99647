package boltstore_test

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kyso-dev/kyso/signing"
	boltstore "github.com/kyso-dev/kyso/store/bbolt"
)

// BenchmarkSessionLifecycle is the store's part of a transaction, as the server does it:
// create, approve and sign a session (three durable compare-and-sets, grouped across 64
// concurrent transactions) in a store that already holds 30 000 sessions. It reports the
// store's CPU and the bytes written to disk per lifecycle, for session ids in creation
// order (Kyso's) and, for comparison, random ones.
func BenchmarkSessionLifecycle(b *testing.B) {
	ids := map[string]func() string{
		"creation-order-ids": func() string {
			id, err := signing.NewSessionID(time.Now(), rand.Reader)
			if err != nil {
				b.Fatal(err)
			}
			return id
		},
		"random-ids": func() string {
			r := make([]byte, 16)
			rand.Read(r)
			return "ses_" + base32.HexEncoding.WithPadding(base32.NoPadding).EncodeToString(r)
		},
	}
	for name, newID := range ids {
		b.Run(name, func(b *testing.B) {
			s, err := boltstore.Open(filepath.Join(b.TempDir(), "kyso.db"), boltstore.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			const users = 128
			for u := range users {
				if err := s.CreateUser(ctx, &signing.User{ID: fmt.Sprint("usr_", u), NationalID: fmt.Sprint(u), DisplayName: "x"}, signing.AuditRecord{}); err != nil {
					b.Fatal(err)
				}
			}
			session := func(user int) *signing.Session {
				now := time.Now().UTC()
				return &signing.Session{ID: newID(), RelyingPartyID: "rp_1", UserID: fmt.Sprint("usr_", user), CredentialID: "cred_1",
					HashAlgorithm: signing.SHA256, Documents: []signing.Document{{Label: "a.pdf", Hash: make([]byte, 32)}},
					DisplayText: "Ký văn bản", VerificationCode: "1234", State: signing.StatePending, CreatedAt: now, ExpiresAt: now.Add(5 * time.Minute)}
			}
			var history sync.WaitGroup
			var made atomic.Int64
			for w := range 256 {
				history.Go(func() {
					for made.Add(1) <= 30_000 {
						sess := session(w % users)
						sess.State, sess.Documents[0].Signature = signing.StateSigned, make([]byte, 72)
						if _, _, err := s.CreateSession(ctx, sess, signing.CreateSessionOptions{}, signing.AuditRecord{Action: "session.created", Subject: sess.ID}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			history.Wait()
			var worker atomic.Int64
			wrote, cpu := diskWrites(), processCPU()
			b.SetParallelism(32) // 64 transactions on 2 CPUs
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				user := int(worker.Add(1)) % users
				for pb.Next() {
					sess := session(user)
					if _, _, err := s.CreateSession(ctx, sess, signing.CreateSessionOptions{}, signing.AuditRecord{Action: "session.created", Subject: sess.ID}); err != nil {
						b.Fatal(err)
					}
					for _, next := range []signing.State{signing.StateApproved, signing.StateSigned} {
						_, err := s.UpdateSession(ctx, sess.ID, func(cur *signing.Session) (signing.AuditRecord, error) {
							cur.State = next
							if next == signing.StateApproved {
								cur.Approval = &signing.Approval{DeviceID: "dev_1", Decision: signing.Approve, Challenge: make([]byte, 150), Signature: make([]byte, 72), At: time.Now()}
							} else {
								cur.Documents[0].Signature = make([]byte, 72)
							}
							return signing.AuditRecord{Action: "session." + string(next), Subject: sess.ID}, nil
						})
						if err != nil {
							b.Fatal(err)
						}
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(diskWrites()-wrote)/float64(b.N), "disk-bytes/op")
			b.ReportMetric((processCPU()-cpu).Seconds()*1e6/float64(b.N), "cpu-µs/op")
		})
	}
}

// diskWrites is what this process has caused to be written to disk so far (Linux).
func diskWrites() int64 {
	raw, _ := os.ReadFile("/proc/self/io")
	for line := range strings.SplitSeq(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "write_bytes: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
