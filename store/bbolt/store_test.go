package boltstore_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/kyso-dev/kyso/signing"
	"github.com/kyso-dev/kyso/store"
	boltstore "github.com/kyso-dev/kyso/store/bbolt"
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
	if _, err := boltstore.Open(path, boltstore.Options{Timeout: 50 * time.Millisecond}); err == nil {
		t.Fatal("a second process must not open the same store")
	}
}
