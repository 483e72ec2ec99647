package signing

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"
)

// KeyHolder keeps wrapped keys outside the store (the development CA's keys), so that
// status counts them and re-wrapping moves them too.
type KeyHolder interface {
	// WrappedKeys returns the held blobs.
	WrappedKeys() [][]byte
	// RewrapHeld re-wraps the held blobs under the primary KEK key and starts using them.
	RewrapHeld(ctx context.Context, rw Rewrapper) (changed int, err error)
}

// KEKKeyStatus is one KEK key and how many blobs it wraps.
type KEKKeyStatus struct {
	KeyID  uint32 `json:"keyId"`
	Status string `json:"status"`
	Blobs  int    `json:"blobs"`
}

// RewrapProgress is the state of the background re-wrap.
type RewrapProgress struct {
	Running    bool      `json:"running"`
	Rewrapped  int       `json:"rewrapped"`
	Checked    int       `json:"checked"`
	Error      string    `json:"error,omitempty"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
}

// KEKStatus is the key-encryption keyset: its keys, the blobs each wraps, and the re-wrap.
type KEKStatus struct {
	PrimaryKeyID uint32         `json:"primaryKeyId"`
	Keys         []KEKKeyStatus `json:"keys"`
	Rewrap       RewrapProgress `json:"rewrap"`
}

// rewrapJob is the one background re-wrap of a service.
type rewrapJob struct {
	mu       sync.Mutex
	progress RewrapProgress
}

func requireAdmin(op *Operator) error {
	if op.Role != RoleAdmin {
		return Errorf(EFORBIDDEN, "only an admin may manage keys")
	}
	return nil
}

func (s *Service) rotation() (KeyRotation, error) {
	if s.cfg.Rotation == nil {
		return nil, Errorf(EINVALID, "this key custody does not support rotation")
	}
	return s.cfg.Rotation, nil
}

// eachPage calls fn for every record that list returns, batch by batch, in id order; after
// each batch it calls done (if set).
func eachPage[T any](ctx context.Context, batch int, list func(ctx context.Context, after string, limit int) ([]*T, error),
	id func(*T) string, fn func(*T) error, done func()) error {
	for after := ""; ; {
		page, err := list(ctx, after, batch)
		if err != nil {
			return err
		}
		for _, rec := range page {
			after = id(rec)
			if err := fn(rec); err != nil {
				return err
			}
		}
		if done != nil {
			done()
		}
		if len(page) < batch {
			return nil
		}
	}
}

func credentialID(c *Credential) string      { return c.ID }
func relyingPartyID(rp *RelyingParty) string { return rp.ID }

// forEachBlob calls fn with every wrapped blob the service knows of: credentials' keys,
// relying parties' sealed secrets and the key holders' keys.
func (s *Service) forEachBlob(ctx context.Context, fn func(blob []byte)) error {
	err := eachPage(ctx, 500, s.store.ListCredentials, credentialID, func(c *Credential) error {
		if len(c.WrappedKey) > 0 {
			fn(c.WrappedKey)
		}
		return nil
	}, nil)
	if err != nil {
		return err
	}
	err = eachPage(ctx, 500, s.store.ListRelyingParties, relyingPartyID, func(rp *RelyingParty) error {
		fn(rp.SealedCallbackSecret)
		return nil
	}, nil)
	if err != nil {
		return err
	}
	for _, h := range s.cfg.KeyHolders {
		for _, b := range h.WrappedKeys() {
			fn(b)
		}
	}
	return nil
}

// KEKStatus counts the blobs under each KEK key. Every operator role may read it.
func (s *Service) KEKStatus(ctx context.Context, op *Operator) (*KEKStatus, error) {
	rot, err := s.rotation()
	if err != nil {
		return nil, err
	}
	counts := map[uint32]int{}
	var bad int
	err = s.forEachBlob(ctx, func(b []byte) {
		if id, err := rot.BlobKeyID(b); err == nil {
			counts[id]++
		} else {
			bad++
		}
	})
	if err != nil {
		return nil, fmt.Errorf("count wrapped blobs: %w", err)
	}
	st := &KEKStatus{Keys: []KEKKeyStatus{}}
	for _, k := range rot.KEKKeys() {
		if k.Primary {
			st.PrimaryKeyID = k.ID
		}
		st.Keys = append(st.Keys, KEKKeyStatus{KeyID: k.ID, Status: k.Status, Blobs: counts[k.ID]})
	}
	if bad > 0 {
		s.log.Warn("blobs without a KEK key id", "count", bad)
	}
	s.rewrapJob.mu.Lock()
	st.Rewrap = s.rewrapJob.progress
	s.rewrapJob.mu.Unlock()
	return st, nil
}

// RotateKEK adds a new primary KEK key: new wraps use it at once; existing blobs keep
// working and move with Rewrap. Admin only.
func (s *Service) RotateKEK(ctx context.Context, op *Operator) (uint32, error) {
	if err := requireAdmin(op); err != nil {
		return 0, err
	}
	rot, err := s.rotation()
	if err != nil {
		return 0, err
	}
	id, err := rot.RotateKEK()
	if err != nil {
		return 0, err
	}
	s.log.Info("KEK rotated: new wraps use the new primary key", "keyId", id)
	return id, s.store.AppendAudit(ctx, s.audit("operator:"+op.ID, "kek.rotated", fmt.Sprint(id), ""))
}

// DisableKEKKey disables a KEK key once no blob uses it. Admin only. Returns EINVALID for
// the primary key or a key that still wraps blobs, ENOTFOUND for an unknown key.
func (s *Service) DisableKEKKey(ctx context.Context, op *Operator, id uint32) error {
	if err := requireAdmin(op); err != nil {
		return err
	}
	st, err := s.KEKStatus(ctx, op)
	if err != nil {
		return err
	}
	for _, k := range st.Keys {
		if k.KeyID != id {
			continue
		}
		switch {
		case k.KeyID == st.PrimaryKeyID:
			return Errorf(EINVALID, "key %d is the primary KEK key; rotate first", id)
		case k.Blobs > 0:
			return Errorf(EINVALID, "key %d still wraps %d blobs; run kyso kek rewrap first", id, k.Blobs)
		}
		if err := s.cfg.Rotation.DisableKEKKey(id); err != nil {
			return err
		}
		return s.store.AppendAudit(ctx, s.audit("operator:"+op.ID, "kek.key_disabled", fmt.Sprint(id), ""))
	}
	return Errorf(ENOTFOUND, "no KEK key %d", id)
}

// StartRewrap starts re-wrapping every blob under the primary KEK key in the background
// (if it is not already running). Admin only.
func (s *Service) StartRewrap(ctx context.Context, op *Operator) (RewrapProgress, error) {
	if err := requireAdmin(op); err != nil {
		return RewrapProgress{}, err
	}
	if _, err := s.rotation(); err != nil {
		return RewrapProgress{}, err
	}
	j := &s.rewrapJob
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.progress.Running {
		return j.progress, nil
	}
	j.progress = RewrapProgress{Running: true, StartedAt: s.cfg.Now().UTC()}
	s.background(func(ctx context.Context) {
		n, err := s.Rewrap(ctx, 200, func(checked, rewrapped int) {
			j.mu.Lock()
			j.progress.Checked, j.progress.Rewrapped = checked, rewrapped
			j.mu.Unlock()
		})
		j.mu.Lock()
		defer j.mu.Unlock()
		j.progress.Running, j.progress.Rewrapped, j.progress.FinishedAt = false, n, s.cfg.Now().UTC()
		if err != nil {
			j.progress.Error = err.Error()
			s.log.Error("KEK rewrap stopped; run it again to resume", "rewrapped", n, "error", err)
			return
		}
		s.log.Info("KEK rewrap finished", "rewrapped", n)
		_ = s.store.AppendAudit(context.WithoutCancel(ctx), s.audit("operator:"+op.ID, "kek.rewrapped", fmt.Sprint(n), ""))
	})
	return j.progress, nil
}

// Rewrap moves every blob to the primary KEK key, batch by batch, each credential or relying
// party in its own small compare-and-set write, so signing goes on meanwhile and a stop at
// any point leaves a consistent store; running it again resumes (blobs already under the
// primary key are only checked). progress, if set, is told after each batch.
func (s *Service) Rewrap(ctx context.Context, batch int, progress func(checked, rewrapped int)) (int, error) {
	rot, err := s.rotation()
	if err != nil {
		return 0, err
	}
	checked, rewrapped := 0, 0
	report := func() {
		if progress != nil {
			progress(checked, rewrapped)
		}
	}
	err = eachPage(ctx, batch, s.store.ListCredentials, credentialID, func(c *Credential) error {
		checked++
		if len(c.WrappedKey) == 0 {
			return nil
		}
		moved, err := moveBlob(c.WrappedKey, func(b []byte) ([]byte, bool, error) { return rot.Rewrap(b, c.ID, c.UserID) },
			func(old, out []byte) error {
				_, err := s.store.UpdateCredential(ctx, c.ID, func(cur *Credential) error {
					if !bytes.Equal(cur.WrappedKey, old) {
						return errUnchanged // shredded or re-wrapped meanwhile
					}
					cur.WrappedKey = out
					return nil
				}, AuditRecord{})
				return err
			})
		if err != nil {
			return fmt.Errorf("rewrap credential %s: %w", c.ID, err)
		}
		if moved {
			rewrapped++
		}
		return nil
	}, report)
	if err != nil {
		return rewrapped, err
	}
	err = eachPage(ctx, batch, s.store.ListRelyingParties, relyingPartyID, func(rp *RelyingParty) error {
		checked++
		label := "callback-secret:" + rp.ID
		moved, err := moveBlob(rp.SealedCallbackSecret, func(b []byte) ([]byte, bool, error) { return rot.Reseal(b, label) },
			func(old, out []byte) error {
				_, err := s.store.UpdateRelyingParty(ctx, rp.ID, func(cur *RelyingParty) error {
					if !bytes.Equal(cur.SealedCallbackSecret, old) {
						return errUnchanged
					}
					cur.SealedCallbackSecret = out
					return nil
				}, AuditRecord{})
				return err
			})
		if err != nil {
			return fmt.Errorf("reseal relying party %s: %w", rp.ID, err)
		}
		if moved {
			rewrapped++
		}
		return nil
	}, report)
	if err != nil {
		return rewrapped, err
	}
	for _, h := range s.cfg.KeyHolders {
		n, err := h.RewrapHeld(ctx, rot)
		rewrapped += n
		if err != nil {
			return rewrapped, err
		}
	}
	report()
	return rewrapped, nil
}

// moveBlob re-wraps blob and saves the result with save, a compare-and-set on the old blob.
// It reports whether the blob moved; a blob already under the primary key, or changed by
// someone else meanwhile (save returns errUnchanged), did not.
func moveBlob(blob []byte, rewrap func([]byte) ([]byte, bool, error), save func(old, out []byte) error) (bool, error) {
	out, changed, err := rewrap(blob)
	if err != nil || !changed {
		return false, err
	}
	if err := save(blob, out); err != nil {
		if isUnchanged(err) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}
