// Package boltstore implements signing.Store on one bbolt file, the embedded default.
//
// Every write runs inside db.Batch, so concurrent writers share one fsync (group commit)
// and nothing returns before it is durable. Batch may run a function more than once; every
// function here reads what it needs inside its transaction and so is safe to re-run.
// Each write appends its audit record, hash-chained, in the same transaction.
//
// # Caveats
//
//   - One process at a time: bbolt holds an exclusive file lock.
//   - Records are JSON, sessions and credentials binary (see session_codec.go); secrets are
//     never among them (only hashes and wrapped blobs).
package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	json "github.com/go-json-experiment/json"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/kyso-dev/kyso/signing"
	bolt "go.etcd.io/bbolt"
)

var _ signing.Store = (*Store)(nil)

// ErrLocked is the error of Open when another process holds the store (bbolt's file lock)
// for longer than Options.Timeout: most often a server still running on the directory.
var ErrLocked = errors.New("another process holds it (a kyso serve on the same data directory?)")

var (
	bUsers      = []byte("users")
	bUsersNID   = []byte("users_by_national_id")
	bCreds      = []byte("credentials")
	bCredsUser  = []byte("credentials_by_user")
	bDevices    = []byte("devices")
	bDevsUser   = []byte("devices_by_user")
	bCodes      = []byte("activation_codes")
	bRPs        = []byte("relying_parties")
	bRPKeys     = []byte("relying_parties_by_key")
	bOps        = []byte("operators")
	bOpTokens   = []byte("operators_by_token")
	bSessions   = []byte("sessions")
	bOpenByUser = []byte("sessions_open_by_user")
	bDue        = []byte("sessions_due")
	bIdem       = []byte("idempotency")
	bAudit      = []byte("audit")
	bMeta       = []byte("meta")
	allBuckets  = [][]byte{bUsers, bUsersNID, bCreds, bCredsUser, bDevices, bDevsUser, bCodes, bRPs, bRPKeys,
		bOps, bOpTokens, bSessions, bOpenByUser, bDue, bIdem, bAudit, bMeta}
	keyAuditHead = []byte("audit_head")
	keyFormat    = []byte("format")
)

// storeFormat is the version of the records' encoding: 1, JSON records; 2, sessions in
// binary; 3, credentials in binary too. A file is marked with the format of the newest Kyso
// that opened it, and a Kyso refuses a file newer than it understands instead of failing on
// its records.
const storeFormat = 3

func checkFormat(meta *bolt.Bucket) error {
	if raw := meta.Get(keyFormat); len(raw) == 1 && raw[0] > storeFormat {
		return fmt.Errorf("the data file has format %d, newer than this kyso understands (%d): run the newer kyso that wrote it", raw[0], storeFormat)
	} else if len(raw) == 1 && raw[0] == storeFormat {
		return nil
	}
	return meta.Put(keyFormat, []byte{storeFormat})
}

// Options tune the store. The zero value means the defaults.
type Options struct {
	// MaxBatchSize is the most writes one commit groups. Default: 1000.
	MaxBatchSize int
	// MaxBatchDelay is how long a commit waits for more writes to group. Default: 10 ms,
	// measured with kyso bench: against 5 ms, about a tenth more transactions per second
	// under load (each commit's page writes and two fsyncs are shared by twice as many
	// writes), for at most 5 ms more per write when the server is idle.
	MaxBatchDelay time.Duration
	// Timeout is how long Open waits for the file lock. Default: 5 s.
	Timeout time.Duration
}

// Store is a signing.Store on bbolt.
type Store struct {
	// mu guards db: every operation holds it for reading; Scrub swaps the file under it.
	mu   sync.RWMutex
	db   *bolt.DB
	path string
	opts Options
}

var keyScrubPending = []byte("scrub_pending")

// Open opens or creates the store file at path. A scrub that a crash interrupted is
// finished first.
func Open(path string, opts Options) (*Store, error) {
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	s := &Store{path: path, opts: opts}
	if err := s.open(); err != nil {
		return nil, err
	}
	_ = os.Remove(path + ".scrub") // a half-written copy from an interrupted scrub
	var pending bool
	_ = s.db.View(func(tx *bolt.Tx) error {
		pending = tx.Bucket(bMeta).Get(keyScrubPending) != nil
		return nil
	})
	if pending {
		if err := s.Scrub(context.Background()); err != nil {
			s.db.Close()
			return nil, fmt.Errorf("finish an interrupted scrub: %w", err)
		}
	}
	return s, nil
}

func (s *Store) open() error {
	db, err := bolt.Open(s.path, 0o600, &bolt.Options{Timeout: s.opts.Timeout})
	if errors.Is(err, bolt.ErrTimeout) {
		err = fmt.Errorf("%w; waited %v for it", ErrLocked, s.opts.Timeout)
	}
	if err != nil {
		return fmt.Errorf("open store %s: %w", s.path, err)
	}
	db.MaxBatchSize = 1000
	if s.opts.MaxBatchSize > 0 {
		db.MaxBatchSize = s.opts.MaxBatchSize
	}
	db.MaxBatchDelay = 10 * time.Millisecond
	if s.opts.MaxBatchDelay > 0 {
		db.MaxBatchDelay = s.opts.MaxBatchDelay
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return checkFormat(tx.Bucket(bMeta))
	})
	if err != nil {
		db.Close()
		return fmt.Errorf("open store %s: %w", s.path, err)
	}
	s.db = db
	return nil
}

// Close closes the file. Writes that returned are already durable.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.db.Close()
}

// Scrub rewrites the store file with only its live data, so deleted records (a destroyed
// key) leave no copy in freed pages. It blocks other operations while it runs, for a time
// proportional to the store's size; it runs only when a key is destroyed. A crash part-way
// leaves the old file and a marker, and Open finishes the scrub.
func (s *Store) Scrub(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bMeta).Put(keyScrubPending, []byte{1}) }); err != nil {
		return fmt.Errorf("scrub: mark: %w", err)
	}
	tmp := s.path + ".scrub"
	_ = os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: s.opts.Timeout})
	if err != nil {
		return fmt.Errorf("scrub: %w", err)
	}
	err = bolt.Compact(dst, s.db, 32<<20)
	if err == nil {
		err = dst.Update(func(tx *bolt.Tx) error { return tx.Bucket(bMeta).Delete(keyScrubPending) })
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("scrub: copy live data: %w", err)
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("scrub: close: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("scrub: replace the store file: %w", err)
	}
	if d, err := os.Open(filepath.Dir(s.path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return s.open()
}

// Check runs bbolt's consistency check and returns the first problem found.
func (s *Store) Check() error {
	return s.view(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	})
}

// ---- helpers -------------------------------------------------------------------------

func notFound(what, id string) error { return signing.Errorf(signing.ENOTFOUND, "no %s %q", what, id) }

// Records are JSON (readable with any tool) through encoding/json/v2's implementation, which
// decodes them about three times faster than encoding/json; nil slices and maps stay null,
// as encoding/json wrote them.
var jsonOpts = json.JoinOptions(json.FormatNilSliceAsNull(true), json.FormatNilMapAsNull(true))

// decodeRecord decodes a record in any form the store has written: JSON, which starts with
// '{', or one of the binary forms, which start with their format byte.
func decodeRecord(raw []byte, v any) error {
	if len(raw) == 0 || raw[0] == '{' {
		return json.Unmarshal(raw, v, jsonOpts)
	}
	switch r := v.(type) {
	case *signing.Session:
		return decodeSession(raw, r)
	case *signing.Credential:
		return decodeCredential(raw, r)
	}
	return fmt.Errorf("a binary record (form %#x) where a %T was expected", raw[0], v)
}

// encodeRecord encodes sessions and credentials in binary, other records in JSON.
func encodeRecord(v any) ([]byte, error) {
	switch r := v.(type) {
	case *signing.Session:
		return encodeSession(r), nil
	case *signing.Credential:
		return encodeCredential(r), nil
	}
	return json.Marshal(v, jsonOpts)
}

func get[T any](tx *bolt.Tx, bucket []byte, key string, what string) (*T, error) {
	raw := tx.Bucket(bucket).Get([]byte(key))
	if raw == nil {
		return nil, notFound(what, key)
	}
	v := new(T)
	if err := decodeRecord(raw, v); err != nil {
		return nil, fmt.Errorf("decode %s %s: %w", what, key, err)
	}
	return v, nil
}

func put(tx *bolt.Tx, bucket []byte, key string, v any) error {
	raw, err := encodeRecord(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", bucket, err)
	}
	return tx.Bucket(bucket).Put([]byte(key), raw)
}

// ordered builds an index key that sorts by time within a prefix: prefix 0x00 time id.
func ordered(prefix string, t time.Time, id string) []byte {
	k := make([]byte, 0, len(prefix)+1+8+len(id))
	k = append(k, prefix...)
	k = append(k, 0)
	k = binary.BigEndian.AppendUint64(k, uint64(t.UnixNano()))
	return append(k, id...)
}

// scanIDs returns the ids indexed under prefix, in key order.
func scanIDs(tx *bolt.Tx, bucket []byte, prefix string) []string {
	p := append([]byte(prefix), 0)
	var ids []string
	c := tx.Bucket(bucket).Cursor()
	for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
		ids = append(ids, string(k[len(p)+8:]))
	}
	return ids
}

// appendAudit chains a onto the log in tx. A record with no Action is not written.
func appendAudit(tx *bolt.Tx, a signing.AuditRecord) error {
	if a.Action == "" {
		return nil
	}
	meta := tx.Bucket(bMeta)
	if head := meta.Get(keyAuditHead); head != nil {
		a.Seq = binary.BigEndian.Uint64(head[:8]) + 1
		a.PrevHash = append([]byte(nil), head[8:]...)
	} else {
		a.Seq = 1
	}
	a.Hash = a.ChainHash()
	key := binary.BigEndian.AppendUint64(nil, a.Seq)
	if err := put(tx, bAudit, string(key), a); err != nil {
		return err
	}
	return meta.Put(keyAuditHead, append(key, a.Hash...))
}

// update runs fn in a grouped, durable write transaction. Errors from fn come back as they
// were returned, so domain errors keep their codes.
func (s *Store) update(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.db.Batch(fn)
}

func (s *Store) view(fn func(tx *bolt.Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.db.View(fn)
}

// ---- users ------------------------------------------------------------------------------

func (s *Store) CreateUser(ctx context.Context, u *signing.User, a signing.AuditRecord) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		nid := tx.Bucket(bUsersNID)
		if existing := nid.Get([]byte(u.NationalID)); existing != nil {
			if string(existing) == u.ID { // a re-run of this same batch function
				return nil
			}
			return signing.Errorf(signing.EUSEREXISTS, "a user with this nationalId exists")
		}
		if err := nid.Put([]byte(u.NationalID), []byte(u.ID)); err != nil {
			return err
		}
		if err := put(tx, bUsers, u.ID, u); err != nil {
			return err
		}
		return appendAudit(tx, a)
	})
}

func (s *Store) User(_ context.Context, id string) (u *signing.User, err error) {
	err = s.view(func(tx *bolt.Tx) error { u, err = get[signing.User](tx, bUsers, id, "user"); return err })
	return u, err
}

func (s *Store) UserByNationalID(_ context.Context, nationalID string) (u *signing.User, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		id := tx.Bucket(bUsersNID).Get([]byte(nationalID))
		if id == nil {
			return notFound("user with national id", nationalID)
		}
		u, err = get[signing.User](tx, bUsers, string(id), "user")
		return err
	})
	return u, err
}

// ---- credentials ------------------------------------------------------------------------

func (s *Store) CreateCredential(ctx context.Context, c *signing.Credential, a signing.AuditRecord) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bUsers).Get([]byte(c.UserID)) == nil {
			return notFound("user", c.UserID)
		}
		if tx.Bucket(bCreds).Get([]byte(c.ID)) != nil {
			return nil // re-run of this batch function
		}
		if err := put(tx, bCreds, c.ID, c); err != nil {
			return err
		}
		if err := tx.Bucket(bCredsUser).Put(ordered(c.UserID, c.CreatedAt, c.ID), nil); err != nil {
			return err
		}
		return appendAudit(tx, a)
	})
}

func (s *Store) Credential(_ context.Context, id string) (c *signing.Credential, err error) {
	err = s.view(func(tx *bolt.Tx) error { c, err = get[signing.Credential](tx, bCreds, id, "credential"); return err })
	return c, err
}

func (s *Store) CredentialsByUser(_ context.Context, userID string) ([]*signing.Credential, error) {
	out := []*signing.Credential{}
	err := s.view(func(tx *bolt.Tx) error {
		for _, id := range scanIDs(tx, bCredsUser, userID) {
			c, err := get[signing.Credential](tx, bCreds, id, "credential")
			if err != nil {
				return err
			}
			out = append(out, c)
		}
		return nil
	})
	return out, err
}

func (s *Store) ListCredentials(_ context.Context, after string, limit int) ([]*signing.Credential, error) {
	return list[signing.Credential](s, bCreds, after, limit)
}

func (s *Store) UpdateCredential(ctx context.Context, id string, fn func(*signing.Credential) error, a signing.AuditRecord) (*signing.Credential, error) {
	return update(s, ctx, bCreds, id, "credential", fn, a)
}

// list returns up to limit records of bucket with keys greater than after, in key order.
func list[T any](s *Store, bucket []byte, after string, limit int) ([]*T, error) {
	out := []*T{}
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucket).Cursor()
		k, v := c.Seek([]byte(after))
		if k != nil && string(k) == after {
			k, v = c.Next()
		}
		for ; k != nil && len(out) < limit; k, v = c.Next() {
			rec := new(T)
			if err := decodeRecord(v, rec); err != nil {
				return fmt.Errorf("decode %s %s: %w", bucket, k, err)
			}
			out = append(out, rec)
		}
		return nil
	})
	return out, err
}

// update applies fn to the record id of bucket and saves it with a, in one transaction.
func update[T any](s *Store, ctx context.Context, bucket []byte, id, what string, fn func(*T) error, a signing.AuditRecord) (rec *T, err error) {
	err = s.update(ctx, func(tx *bolt.Tx) error {
		if rec, err = get[T](tx, bucket, id, what); err != nil {
			return err
		}
		if err := fn(rec); err != nil {
			return err
		}
		if err := put(tx, bucket, id, rec); err != nil {
			return err
		}
		return appendAudit(tx, a)
	})
	if err != nil {
		return nil, err
	}
	return rec, nil
}

// ---- devices and activation codes -----------------------------------------------------------

func (s *Store) Device(_ context.Context, id string) (d *signing.Device, err error) {
	err = s.view(func(tx *bolt.Tx) error { d, err = get[signing.Device](tx, bDevices, id, "device"); return err })
	return d, err
}

func (s *Store) DevicesByUser(_ context.Context, userID string) ([]*signing.Device, error) {
	out := []*signing.Device{}
	err := s.view(func(tx *bolt.Tx) error {
		for _, id := range scanIDs(tx, bDevsUser, userID) {
			d, err := get[signing.Device](tx, bDevices, id, "device")
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return nil
	})
	return out, err
}

func (s *Store) UpdateDevice(ctx context.Context, id string, fn func(*signing.Device) error, a signing.AuditRecord) (*signing.Device, error) {
	return update(s, ctx, bDevices, id, "device", fn, a)
}

func (s *Store) CreateActivationCode(ctx context.Context, c *signing.ActivationCode, a signing.AuditRecord) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		if prev := tx.Bucket(bCodes).Get([]byte(c.ID)); prev != nil {
			var p signing.ActivationCode
			if decodeRecord(prev, &p) == nil && bytes.Equal(p.CodeHash, c.CodeHash) {
				return nil // re-run of this batch function
			}
			return signing.Errorf(signing.EINTERNAL, "activation code id collision; try again")
		}
		if err := put(tx, bCodes, c.ID, c); err != nil {
			return err
		}
		return appendAudit(tx, a)
	})
}

func (s *Store) RedeemActivationCode(ctx context.Context, id string, fn func(*signing.ActivationCode) (*signing.Device, signing.AuditRecord, error)) error {
	var fnErr error
	err := s.update(ctx, func(tx *bolt.Tx) error {
		fnErr = nil
		c, err := get[signing.ActivationCode](tx, bCodes, id, "activation code")
		if err != nil {
			return err
		}
		dev, a, err := fn(c)
		fnErr = err
		if err := put(tx, bCodes, id, c); err != nil {
			return err
		}
		if dev != nil && fnErr == nil {
			if err := put(tx, bDevices, dev.ID, dev); err != nil {
				return err
			}
			if err := tx.Bucket(bDevsUser).Put(ordered(dev.UserID, dev.CreatedAt, dev.ID), nil); err != nil {
				return err
			}
		}
		return appendAudit(tx, a)
	})
	if err != nil {
		return err
	}
	return fnErr
}

// ---- relying parties and operators ---------------------------------------------------------

func (s *Store) CreateRelyingParty(ctx context.Context, rp *signing.RelyingParty, a signing.AuditRecord) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bRPs).Get([]byte(rp.ID)) != nil {
			return nil // re-run of this batch function
		}
		if err := put(tx, bRPs, rp.ID, rp); err != nil {
			return err
		}
		if err := tx.Bucket(bRPKeys).Put(rp.APIKeyHash, []byte(rp.ID)); err != nil {
			return err
		}
		return appendAudit(tx, a)
	})
}

func (s *Store) RelyingParty(_ context.Context, id string) (rp *signing.RelyingParty, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		rp, err = get[signing.RelyingParty](tx, bRPs, id, "relying party")
		return err
	})
	return rp, err
}

func (s *Store) RelyingPartyByKeyHash(_ context.Context, h []byte) (rp *signing.RelyingParty, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		id := tx.Bucket(bRPKeys).Get(h)
		if id == nil {
			return notFound("relying party", "by key")
		}
		rp, err = get[signing.RelyingParty](tx, bRPs, string(id), "relying party")
		return err
	})
	return rp, err
}

func (s *Store) ListRelyingParties(_ context.Context, after string, limit int) ([]*signing.RelyingParty, error) {
	return list[signing.RelyingParty](s, bRPs, after, limit)
}

func (s *Store) UpdateRelyingParty(ctx context.Context, id string, fn func(*signing.RelyingParty) error, a signing.AuditRecord) (*signing.RelyingParty, error) {
	return update(s, ctx, bRPs, id, "relying party", fn, a)
}

func (s *Store) CreateOperator(ctx context.Context, op *signing.Operator, firstOnly bool, a signing.AuditRecord) (created bool, err error) {
	err = s.update(ctx, func(tx *bolt.Tx) error {
		created = false
		ops := tx.Bucket(bOps)
		if ops.Get([]byte(op.ID)) != nil {
			created = true // re-run of this batch function
			return nil
		}
		if firstOnly {
			if k, _ := ops.Cursor().First(); k != nil {
				return nil
			}
		}
		if err := put(tx, bOps, op.ID, op); err != nil {
			return err
		}
		if err := tx.Bucket(bOpTokens).Put(op.TokenHash, []byte(op.ID)); err != nil {
			return err
		}
		created = true
		return appendAudit(tx, a)
	})
	return created, err
}

func (s *Store) OperatorByTokenHash(_ context.Context, h []byte) (op *signing.Operator, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		id := tx.Bucket(bOpTokens).Get(h)
		if id == nil {
			return notFound("operator", "by token")
		}
		op, err = get[signing.Operator](tx, bOps, string(id), "operator")
		return err
	})
	return op, err
}

// ---- sessions ------------------------------------------------------------------------------

type idemRecord struct {
	SessionID string `json:"sessionId"`
	BodyHash  []byte `json:"bodyHash"`
}

// dueKeys returns the sweeper-index keys of a session: pending sessions sort by expiry;
// approved ones (signing in progress or interrupted) and final ones owing a callback sort
// first, at time zero.
func dueKeys(sess *signing.Session) (pending, approved []byte) {
	pending = binary.BigEndian.AppendUint64(nil, uint64(sess.ExpiresAt.UnixNano()))
	approved = binary.BigEndian.AppendUint64(nil, 0)
	return append(pending, sess.ID...), append(approved, sess.ID...)
}

// index keeps the secondary indexes of a session in line with its state.
func index(tx *bolt.Tx, sess *signing.Session) error {
	open := ordered(sess.UserID, sess.CreatedAt, sess.ID)
	pendingKey, approvedKey := dueKeys(sess)
	if sess.State == signing.StatePending {
		// The value is the expiry, so the pending cap is counted without decoding sessions.
		exp := binary.BigEndian.AppendUint64(nil, uint64(sess.ExpiresAt.UnixNano()))
		if err := tx.Bucket(bOpenByUser).Put(open, exp); err != nil {
			return err
		}
	} else if err := tx.Bucket(bOpenByUser).Delete(open); err != nil {
		return err
	}
	due := tx.Bucket(bDue)
	for _, k := range [][]byte{pendingKey, approvedKey} {
		if err := due.Delete(k); err != nil {
			return err
		}
	}
	switch {
	case sess.State == signing.StatePending:
		return due.Put(pendingKey, nil)
	case sess.State == signing.StateApproved, sess.CallbackOwed():
		return due.Put(approvedKey, nil)
	}
	return nil
}

func (s *Store) CreateSession(ctx context.Context, sess *signing.Session, opts signing.CreateSessionOptions, a signing.AuditRecord) (stored *signing.Session, created bool, err error) {
	idem := opts.Idempotency
	err = s.update(ctx, func(tx *bolt.Tx) error {
		stored, created = nil, false
		var idemKey []byte
		if idem.Key != "" {
			idemKey = []byte(sess.RelyingPartyID + "\x00" + idem.Key)
			if raw := tx.Bucket(bIdem).Get(idemKey); raw != nil {
				var rec idemRecord
				if err := decodeRecord(raw, &rec); err != nil {
					return fmt.Errorf("decode idempotency record: %w", err)
				}
				if rec.SessionID == sess.ID { // re-run of this batch function
					stored, created = sess, true
					return nil
				}
				if !bytes.Equal(rec.BodyHash, idem.BodyHash) {
					return signing.Errorf(signing.EIDEMPOTENCYCONFLICT, "this Idempotency-Key was used with another request body")
				}
				stored, err = get[signing.Session](tx, bSessions, rec.SessionID, "session")
				return err
			}
		}
		if opts.MaxOpenPerUser > 0 {
			if n, err := openCount(tx, sess.UserID, opts.Now, opts.MaxOpenPerUser); err != nil {
				return err
			} else if n >= opts.MaxOpenPerUser {
				return signing.Errorf(signing.ETOOMANYPENDING, "the user already has %d pending requests; wait until they are answered or expire", n)
			}
		}
		if idemKey != nil {
			if err := put(tx, bIdem, string(idemKey), idemRecord{SessionID: sess.ID, BodyHash: idem.BodyHash}); err != nil {
				return err
			}
		}
		if err := put(tx, bSessions, sess.ID, sess); err != nil {
			return err
		}
		if err := index(tx, sess); err != nil {
			return err
		}
		stored, created = sess, true
		return appendAudit(tx, a)
	})
	if err != nil {
		return nil, false, err
	}
	return stored, created, nil
}

// openCount counts the user's pending sessions not expired at now, stopping at limit. It
// reads the expiry from the index entries, not the sessions.
func openCount(tx *bolt.Tx, userID string, now time.Time, limit int) (int, error) {
	p := append([]byte(userID), 0)
	n := 0
	c := tx.Bucket(bOpenByUser).Cursor()
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p) && n < limit; k, v = c.Next() {
		var exp time.Time
		if len(v) == 8 {
			exp = time.Unix(0, int64(binary.BigEndian.Uint64(v)))
		} else { // an entry written before the expiry was kept in the index
			sess, err := get[signing.Session](tx, bSessions, string(k[len(p)+8:]), "session")
			if err != nil {
				return 0, err
			}
			exp = sess.ExpiresAt
		}
		if now.Before(exp) {
			n++
		}
	}
	return n, nil
}

func (s *Store) Session(_ context.Context, id string) (sess *signing.Session, err error) {
	err = s.view(func(tx *bolt.Tx) error { sess, err = get[signing.Session](tx, bSessions, id, "session"); return err })
	return sess, err
}

func (s *Store) UpdateSession(ctx context.Context, id string, fn func(*signing.Session) (signing.AuditRecord, error)) (sess *signing.Session, err error) {
	err = s.update(ctx, func(tx *bolt.Tx) error {
		if sess, err = get[signing.Session](tx, bSessions, id, "session"); err != nil {
			return err
		}
		a, err := fn(sess)
		if err != nil {
			return err
		}
		if err := put(tx, bSessions, id, sess); err != nil {
			return err
		}
		if err := index(tx, sess); err != nil {
			return err
		}
		return appendAudit(tx, a)
	})
	if err != nil {
		return nil, err
	}
	return sess, nil
}

func (s *Store) OpenSessionsByUser(_ context.Context, userID string) ([]*signing.Session, error) {
	out := []*signing.Session{}
	err := s.view(func(tx *bolt.Tx) error {
		for _, id := range scanIDs(tx, bOpenByUser, userID) {
			sess, err := get[signing.Session](tx, bSessions, id, "session")
			if err != nil {
				return err
			}
			out = append(out, sess)
		}
		return nil
	})
	return out, err
}

func (s *Store) SessionsDue(_ context.Context, now time.Time, limit int) ([]*signing.Session, error) {
	out := []*signing.Session{}
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bDue).Cursor()
		end := uint64(now.UnixNano())
		for k, _ := c.First(); k != nil && len(out) < limit && binary.BigEndian.Uint64(k[:8]) <= end; k, _ = c.Next() {
			sess, err := get[signing.Session](tx, bSessions, string(k[8:]), "session")
			if err != nil {
				return err
			}
			out = append(out, sess)
		}
		return nil
	})
	return out, err
}

// ---- audit --------------------------------------------------------------------------------

func (s *Store) AppendAudit(ctx context.Context, a signing.AuditRecord) error {
	return s.update(ctx, func(tx *bolt.Tx) error { return appendAudit(tx, a) })
}

func (s *Store) AuditRecords(_ context.Context, after uint64, limit int) ([]signing.AuditRecord, error) {
	out := []signing.AuditRecord{}
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bAudit).Cursor()
		for k, v := c.Seek(binary.BigEndian.AppendUint64(nil, after+1)); k != nil && len(out) < limit; k, v = c.Next() {
			var a signing.AuditRecord
			if err := decodeRecord(v, &a); err != nil {
				return fmt.Errorf("decode audit record: %w", err)
			}
			out = append(out, a)
		}
		return nil
	})
	return out, err
}
