package signing

import (
	"fmt"
	"testing"
	"time"
)

func TestEventFeed(t *testing.T) {
	e := newEvents()
	now := time.Now()
	sess := func(id string) *Session { return &Session{ID: id, State: StatePending} }

	e.publish("usr_1", EventSessionCreated, sess("before")) // nobody listens: not kept
	sub, replay, resumed := e.subscribe("usr_1", "", now)
	if resumed || len(replay) != 0 {
		t.Fatal("a first connection must get a snapshot")
	}
	e.publish("usr_1", EventSessionCreated, sess("a"))
	e.publish("usr_2", EventSessionCreated, sess("other user"))
	got := <-sub.C
	if got.SessionID != "a" || got.created == nil || got.created.ID != "a" {
		t.Fatalf("got %+v", got) // a live creation event carries the session
	}
	sub.Close()
	e.publish("usr_1", EventSessionUpdated, sess("a"))
	e.publish("usr_1", EventSessionCreated, sess("b"))

	// Resume after the last seen event: exactly the missed ones, in order.
	sub, replay, resumed = e.subscribe("usr_1", got.ID, now)
	if !resumed || len(replay) != 2 || replay[0].Type != EventSessionUpdated || replay[1].SessionID != "b" {
		t.Fatalf("resume: %v %+v", resumed, replay)
	}
	if replay[1].created != nil {
		t.Fatal("a replayed creation event carries the session as it was, which may be stale")
	}
	sub.Close()

	// Unknown epoch (a restart), junk, and ids evicted from the backlog need a snapshot.
	for _, id := range []string{"deadbeef-1", "junk", e.epoch + "-999999"} {
		s, _, resumed := e.subscribe("usr_1", id, now)
		s.Close()
		if resumed {
			t.Errorf("resumed from %q", id)
		}
	}
	for i := range feedBacklog + 1 {
		e.publish("usr_1", EventSessionCreated, sess(fmt.Sprint(i)))
	}
	s, _, resumed := e.subscribe("usr_1", got.ID, now)
	s.Close()
	if resumed {
		t.Fatal("resumed from an id older than the backlog")
	}

	// A subscriber that does not read is cut off rather than slowing publishers down.
	slow, _, _ := e.subscribe("usr_3", "", now)
	for i := range subscriberBuf + 1 {
		e.publish("usr_3", EventSessionCreated, sess(fmt.Sprint(i)))
	}
	n := 0
	for range slow.C {
		n++
	}
	if n != subscriberBuf {
		t.Fatalf("slow subscriber got %d events before being cut off", n)
	}
	slow.Close() // closing a cut-off subscription is safe
}
