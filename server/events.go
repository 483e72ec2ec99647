package server

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	bridge "github.com/kyso-dev/kyso/mobile-bridge"
	"github.com/kyso-dev/kyso/signing"
	"github.com/labstack/echo/v5"
)

// streamCounter bounds the open event streams per device.
type streamCounter struct {
	mu   sync.Mutex
	open map[string]int
}

func (sc *streamCounter) acquire(id string, max int) bool {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.open[id] >= max {
		return false
	}
	sc.open[id]++
	return true
}

func (sc *streamCounter) release(id string) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.open[id]--; sc.open[id] <= 0 {
		delete(sc.open, id)
	}
}

// deviceEvents is GET /device/v1/events: a server-sent-event stream of the user's session
// events. Without a usable Last-Event-ID it starts with a snapshot (a session.created event
// per pending session); with one it replays what the device missed. Comment lines keep it
// alive; it ends at StreamMaxAge, at shutdown, or if the device reads too slowly, and the
// device reconnects with the last id it saw.
func (s *Server) deviceEvents(c *echo.Context) error {
	dev := device(c)
	if !s.streams.acquire(dev.ID, s.cfg.StreamsPerDevice) {
		return rateLimited(c, 5*time.Second, fmt.Sprintf("this device already has %d open event streams", s.cfg.StreamsPerDevice))
	}
	defer s.streams.release(dev.ID)
	ctx := c.Request().Context()
	sub, replay, resumed := s.svc.SubscribeEvents(dev, c.Request().Header.Get("Last-Event-ID"))
	defer sub.Close()

	w := c.Response()
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // the server's write timeout is for ordinary requests
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(id, typ string, data any) error {
		buf := answerBuffers.Get().(*bytes.Buffer) // per event: an idle stream holds none
		defer putAnswerBuffer(buf)
		buf.WriteString("id: ")
		buf.WriteString(id)
		buf.WriteString("\nevent: ")
		buf.WriteString(typ)
		buf.WriteString("\ndata: ")
		if err := jsonEncode(buf, data); err != nil { // ends with the newline that ends the data line
			return err
		}
		buf.WriteByte('\n')
		if _, err := w.Write(buf.Bytes()); err != nil {
			return err
		}
		return rc.Flush()
	}
	sendEvent := func(ev signing.Event) error {
		if ev.Type == signing.EventSessionCreated {
			sess, challenge, err := s.svc.DeviceSessionOf(ctx, dev, ev)
			if err != nil {
				return nil // gone or not this device's: nothing to say
			}
			return send(ev.ID, ev.Type, deviceSessionView(sess, challenge))
		}
		if ev.DecidedBy == dev.ID {
			return nil // the answer to this device's decision carried the final state
		}
		return send(ev.ID, ev.Type, bridge.SessionEvent{ID: ev.SessionID, State: string(ev.State)})
	}
	if _, err := io.WriteString(w, "retry: 2000\n\n"); err != nil {
		return nil
	}
	if resumed {
		for _, ev := range replay {
			if sendEvent(ev) != nil {
				return nil
			}
		}
	} else {
		snapshotID := s.svc.SnapshotEventID()
		list, err := s.svc.PendingSessions(ctx, dev)
		if err != nil {
			return nil
		}
		for _, sess := range list {
			if send(snapshotID, signing.EventSessionCreated, deviceSessionView(sess, s.svc.Challenge(sess))) != nil {
				return nil
			}
		}
	}
	_ = rc.Flush()
	heartbeat := time.NewTicker(s.cfg.Heartbeat)
	defer heartbeat.Stop()
	maxAge := time.NewTimer(s.cfg.StreamMaxAge)
	defer maxAge.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.svc.Draining():
			return nil
		case <-maxAge.C:
			return nil
		case <-heartbeat.C:
			if _, err := io.WriteString(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
				return nil
			}
		case ev, ok := <-sub.C:
			if !ok || sendEvent(ev) != nil {
				return nil
			}
		}
	}
}
