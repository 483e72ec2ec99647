package signing

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Event types a device stream carries.
const (
	EventSessionCreated = "session.created"
	EventSessionUpdated = "session.updated"
)

// Event tells a user's devices that one of the user's sessions appeared or changed. It
// carries ids and the state; devices read the session itself (DeviceSessionOf).
type Event struct {
	ID        string
	Type      string
	SessionID string
	State     State
	// DecidedBy is the device whose decision ended the session, if one did: the answer to
	// its decision already told it the final state.
	DecidedBy string
	seq       uint64
	// created is the session as stored at creation, on a "session.created" event sent
	// live (not on one replayed from the backlog, which may be old): the subscriber need
	// not read back what was just written.
	created *Session
}

// Feed sizes: the events kept per user for resuming, and the events buffered per subscriber.
const (
	feedBacklog   = 32
	subscriberBuf = 32
	feedIdleTTL   = 5 * time.Minute
)

// events fans session events out to the subscribed devices of each user, and keeps a short
// backlog per user so a device that reconnects with Last-Event-ID misses nothing. Event ids
// are "<process epoch>-<sequence>": after a restart old ids are unknown and the device gets
// a fresh snapshot instead.
type events struct {
	mu     sync.Mutex
	epoch  string
	seq    uint64
	feeds  map[string]*feed
	pruned time.Time
}

type feed struct {
	backlog []Event
	// from: the backlog holds every event of the user with a sequence number above it.
	from uint64
	subs map[*Subscription]struct{}
	idle time.Time // when the last subscriber left
}

// Subscription receives a user's events until Close. C is closed if the subscriber falls
// too far behind; it should then reconnect with the last id it saw.
type Subscription struct {
	C      <-chan Event
	c      chan Event
	userID string
	ev     *events
	closed bool
}

func newEvents() *events {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return &events{epoch: hex.EncodeToString(b), feeds: map[string]*feed{}}
}

func (e *events) publish(userID, typ string, sess *Session) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seq++
	ev := Event{ID: fmt.Sprintf("%s-%d", e.epoch, e.seq), Type: typ, SessionID: sess.ID, State: sess.State, seq: e.seq}
	if sess.Approval != nil && sess.State.Final() {
		ev.DecidedBy = sess.Approval.DeviceID
	}
	f := e.feeds[userID]
	if f == nil {
		return // nobody listens and nobody left recently
	}
	f.backlog = append(f.backlog, ev)
	if n := len(f.backlog) - feedBacklog; n > 0 {
		f.from = f.backlog[n-1].seq
		f.backlog = f.backlog[n:]
	}
	if typ == EventSessionCreated {
		ev.created = sess // after the backlog took its copy: the backlog keeps no sessions
	}
	for sub := range f.subs {
		select {
		case sub.c <- ev:
		default: // too slow: end its stream; it resumes from its last id
			close(sub.c)
			sub.closed = true
			delete(f.subs, sub)
		}
	}
}

// subscribe registers a subscriber for the user. If lastID names an event still in the
// backlog, replay holds the events after it and resumed is true; otherwise the caller must
// send a snapshot.
func (e *events) subscribe(userID, lastID string, now time.Time) (sub *Subscription, replay []Event, resumed bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.prune(now)
	f := e.feeds[userID]
	if f == nil {
		f = &feed{subs: map[*Subscription]struct{}{}, from: e.seq}
		e.feeds[userID] = f
	}
	c := make(chan Event, subscriberBuf)
	sub = &Subscription{C: c, c: c, userID: userID, ev: e}
	f.subs[sub] = struct{}{}
	epoch, seqText, ok := strings.Cut(lastID, "-")
	last, err := strconv.ParseUint(seqText, 10, 64)
	if !ok || err != nil || epoch != e.epoch || last < f.from || last > e.seq {
		return sub, nil, false
	}
	for _, ev := range f.backlog {
		if ev.seq > last {
			replay = append(replay, ev)
		}
	}
	return sub, replay, true
}

// Close ends the subscription.
func (s *Subscription) Close() {
	e := s.ev
	e.mu.Lock()
	defer e.mu.Unlock()
	if f := e.feeds[s.userID]; f != nil {
		if _, ok := f.subs[s]; ok {
			delete(f.subs, s)
			if !s.closed {
				close(s.c)
				s.closed = true
			}
		}
		if len(f.subs) == 0 {
			f.idle = time.Now()
		}
	}
}

// prune forgets the feeds of users nobody has listened to for a while (at most once a minute).
func (e *events) prune(now time.Time) {
	if now.Sub(e.pruned) < time.Minute {
		return
	}
	e.pruned = now
	for u, f := range e.feeds {
		if len(f.subs) == 0 && time.Since(f.idle) > feedIdleTTL {
			delete(e.feeds, u)
		}
	}
}

// head returns the id of the newest event, the resume point of a snapshot.
func (e *events) head() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return fmt.Sprintf("%s-%d", e.epoch, e.seq)
}
