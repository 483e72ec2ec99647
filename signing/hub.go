package signing

import "sync"

// hub wakes goroutines waiting for a session to reach a final state, handing them the
// session as stored by the transition that made it final: a final session does not change
// state again, so the waiter need not read it back.
type hub struct {
	mu   sync.Mutex
	subs map[string]map[chan *Session]struct{}
}

func newHub() hub { return hub{subs: map[string]map[chan *Session]struct{}{}} }

func (h *hub) subscribe(id string) chan *Session {
	ch := make(chan *Session, 1)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs[id] == nil {
		h.subs[id] = map[chan *Session]struct{}{}
	}
	h.subs[id][ch] = struct{}{}
	return ch
}

func (h *hub) unsubscribe(id string, ch chan *Session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs[id], ch)
	if len(h.subs[id]) == 0 {
		delete(h.subs, id)
	}
}

// publish hands sess, just stored in a final state, to its waiters.
func (h *hub) publish(sess *Session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs[sess.ID] {
		select {
		case ch <- sess:
		default:
		}
	}
}
