package boltstore_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kyso-dev/kyso/signing"
	"github.com/kyso-dev/kyso/store"
	boltstore "github.com/kyso-dev/kyso/store/bbolt"
	bolt "go.etcd.io/bbolt"
)

// mustOpen opens a store in a temporary directory and checks its consistency at cleanup.
func mustOpen(t *testing.T) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "kyso.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Check(); err != nil {
			t.Errorf("store inconsistent: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	store.Conformance(t, func(t *testing.T) signing.Store { return mustOpen(t) })
}

func TestDurableAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kyso.db")
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	u := &signing.User{ID: "usr_1", NationalID: "001", DisplayName: "A", CreatedAt: time.Now().UTC()}
	if err := s.CreateUser(context.Background(), u, signing.AuditRecord{Action: "user.created"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := s.User(context.Background(), "usr_1"); err != nil || got.NationalID != "001" {
		t.Fatalf("after reopen: %v %v", got, err)
	}
}

func TestSecondOpenIsRefusedWhileLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kyso.db")
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = boltstore.Open(path, boltstore.Options{Timeout: 50 * time.Millisecond})
	if !errors.Is(err, boltstore.ErrLocked) || !strings.Contains(err.Error(), "another process holds it") {
		t.Fatalf("a second open of a held store: %v, want ErrLocked", err)
	}
}

// BenchmarkTransition is one durable compare-and-set of a session, from many goroutines
// (grouped commits).
func BenchmarkTransition(b *testing.B) {
	s, err := boltstore.Open(filepath.Join(b.TempDir(), "kyso.db"), boltstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	s.CreateUser(ctx, &signing.User{ID: "usr", NationalID: "1", DisplayName: "x"}, signing.AuditRecord{})
	for i := range 64 {
		sess := &signing.Session{ID: fmt.Sprint("ses_", i), UserID: "usr", State: signing.StatePending, ExpiresAt: time.Now().Add(time.Hour)}
		s.CreateSession(ctx, sess, signing.CreateSessionOptions{}, signing.AuditRecord{})
	}
	var n atomic.Int64
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprint("ses_", n.Add(1)%64)
			_, err := s.UpdateSession(ctx, id, func(cur *signing.Session) (signing.AuditRecord, error) {
				cur.CompletedAt = time.Now()
				return signing.AuditRecord{Action: "session.touched", Subject: id}, nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// A data file marked by a newer Kyso is refused with a message that says so, not opened to
// fail later on records this version cannot read.
func TestNewerFormatIsRefused(t *testing.T) {
	path := storeWithMeta(t, "format", []byte{99})
	if _, err := boltstore.Open(path, boltstore.Options{}); err == nil || !strings.Contains(err.Error(), "format 99, newer than this kyso") {
		t.Fatalf("open of a newer file: %v", err)
	}
}

// storeWithMeta creates a store file and sets a key of its meta bucket directly, as another
// version or an interrupted operation would have left it.
func storeWithMeta(t *testing.T, key string, value []byte) (path string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "kyso.db")
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("meta")).Put([]byte(key), value) }); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCommitWindowGroupsConcurrentWrites: with a long window (Options.MaxBatchDelay, the
// server's --commit-window), writers that arrive within it share a commit, and none returns
// before the window has passed and its commit is durable.
func TestCommitWindowGroupsConcurrentWrites(t *testing.T) {
	const window = 300 * time.Millisecond
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "kyso.db"), boltstore.Options{MaxBatchDelay: window})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			errs <- s.CreateUser(context.Background(), &signing.User{ID: fmt.Sprint("usr_", i), NationalID: fmt.Sprint(i), DisplayName: "x"}, signing.AuditRecord{})
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// Grouped, they take one window (two if a writer started late); one commit each, eight.
	if took := time.Since(start); took < window || took > 3*window {
		t.Fatalf("8 concurrent writes took %s with a %s window: want them grouped, durable after the window", took, window)
	}
}
