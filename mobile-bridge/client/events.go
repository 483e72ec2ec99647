package client

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	json "github.com/go-json-experiment/json"
	bridge "github.com/kyso-dev/kyso/mobile-bridge"
)

// Event is one server-sent event of the device stream.
type Event struct {
	ID   string
	Type string // "session.created" or "session.updated"
	// Session is set for session.created: the request, with its challenge.
	Session *bridge.SessionInfo
	// Update is set for session.updated.
	Update *bridge.SessionEvent
}

// Events opens the device's event stream (GET /device/v1/events), resuming after
// lastEventID if it is not empty, and delivers events on the returned channel until ctx ends
// or the stream closes; then the channel is closed and the error function says why (nil
// when ctx ended). Reconnect with the last event's ID to resume.
func (c *Client) Events(ctx context.Context, lastEventID string) (<-chan Event, func() error, error) {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	req, err := c.NewSignedRequest(ctx, http.MethodGet, "/device/v1/events", nil, now(), "")
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	hc := &http.Client{Transport: c.httpClient().Transport} // no overall timeout on a stream
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, nil, bridge.DecodeResponse(resp, nil)
	}
	out := make(chan Event, 16)
	var streamErr error
	go func() {
		defer close(out)
		defer resp.Body.Close()
		streamErr = readEvents(ctx, bufio.NewScanner(resp.Body), out)
	}()
	return out, func() error { return streamErr }, nil
}

func readEvents(ctx context.Context, sc *bufio.Scanner, out chan<- Event) error {
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var ev Event
	var data strings.Builder
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.Type != "" && data.Len() > 0 {
				if err := decodeEvent(&ev, data.String()); err != nil {
					return err
				}
				select {
				case out <- ev:
				case <-ctx.Done():
					return nil
				}
			}
			ev, data = Event{}, strings.Builder{}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "id: "):
			ev.ID = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.Type = line[7:]
		case strings.HasPrefix(line, "data: "):
			data.WriteString(line[6:])
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return fmt.Errorf("kyso: the event stream ended")
}

func decodeEvent(ev *Event, data string) error {
	switch ev.Type {
	case "session.created":
		ev.Session = new(bridge.SessionInfo)
		return json.Unmarshal([]byte(data), ev.Session)
	case "session.updated":
		ev.Update = new(bridge.SessionEvent)
		return json.Unmarshal([]byte(data), ev.Update)
	}
	return nil
}
