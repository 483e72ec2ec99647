package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/kyso-dev/kyso/mobile-bridge/client"
)

const deviceUsage = `kyso device — the reference device

  kyso device enroll  --server URL --code CODE --state FILE [--name N] [--platform P] [--push-token T] [--language L]
  kyso device pending --state FILE
  kyso device approve --state FILE (--session ID | --all) [--expect-code NNNN]
  kyso device decline --state FILE --session ID
  kyso device run     --state FILE --auto-approve [--interval 1s]
                      (follows the event stream; polls every interval while it is down)

The state file holds the device's private key (mode 0600).
`

func runDevice(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, deviceUsage)
		return usagef("device: give a command")
	}
	verb := args[0]
	fs := newFlags("device "+verb, stderr)
	fs.Usage = func() { fmt.Fprint(stderr, deviceUsage) }
	state := fs.String("state", "", "device state file")
	server := fs.String("server", "", "Kyso server URL (enroll)")
	code := fs.String("code", "", "activation code (enroll)")
	name := fs.String("name", "", "device name (enroll)")
	platform := fs.String("platform", "other", "android, ios, ipados, sim or other (enroll)")
	pushToken := fs.String("push-token", "", "push token (enroll)")
	language := fs.String("language", "", "language of push alerts, e.g. vi or en (enroll)")
	session := fs.String("session", "", "session id")
	all := fs.Bool("all", false, "approve every pending session")
	expect := fs.String("expect-code", "", "approve only if the verification code is this one")
	auto := fs.Bool("auto-approve", false, "approve every request as it arrives (run)")
	interval := fs.Duration("interval", time.Second, "how often to poll while the event stream is down, and the reconnect delay (run)")
	if err := flagsOnly(fs, args[1:]); err != nil {
		return err
	}
	if *interval < 10*time.Millisecond { // shorter would hammer a server that is down
		return usagef("device %s: --interval must be at least 10ms, not %v", verb, *interval)
	}
	if err := required(fs, "state"); err != nil {
		return err
	}
	if verb == "enroll" {
		if err := required(fs, "server", "code"); err != nil {
			return err
		}
		c, err := client.Enroll(ctx, *server, *code, client.EnrollOptions{Name: *name, Platform: *platform, PushToken: *pushToken, Language: *language})
		if err != nil {
			return err
		}
		if err := c.SaveState(*state); err != nil {
			return err
		}
		return printJSON(stdout, map[string]string{"deviceId": c.DeviceID(), "userId": c.UserID(), "state": *state})
	}
	switch {
	case verb == "approve" && (*session == "") == !*all:
		return usagef("device approve: give --session ID or --all")
	case verb == "decline" && *session == "":
		return usagef("device decline: --session is required")
	case verb == "run" && !*auto:
		return usagef("device run: only --auto-approve is supported")
	case verb != "pending" && verb != "approve" && verb != "decline" && verb != "run":
		fs.Usage()
		return usagef("device: unknown command %q", verb)
	}
	c, err := client.LoadState(*state)
	if err != nil {
		return err
	}
	switch verb {
	case "pending":
		list, err := c.Sessions(ctx)
		if err != nil {
			return err
		}
		return printJSON(stdout, map[string]any{"sessions": list})
	case "approve":
		ids := []string{*session}
		if *all {
			if ids, err = pendingIDs(ctx, c); err != nil {
				return err
			}
		}
		results := []map[string]string{}
		for _, id := range ids {
			st, err := c.Decide(ctx, id, true, *expect)
			if err != nil {
				return fmt.Errorf("approve %s: %w", id, err)
			}
			results = append(results, map[string]string{"id": id, "state": st})
		}
		return printJSON(stdout, map[string]any{"sessions": results})
	case "decline":
		st, err := c.Decide(ctx, *session, false, "")
		if err != nil {
			return err
		}
		return printJSON(stdout, map[string]string{"id": *session, "state": st})
	default: // run
		return autoApprove(ctx, c, *interval, stdout, stderr)
	}
}

func pendingIDs(ctx context.Context, c *client.Client) ([]string, error) {
	list, err := c.Sessions(ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(list))
	for i, s := range list {
		ids[i] = s.ID
	}
	return ids, nil
}

// autoApprove approves every pending request until ctx ends. It follows the event stream
// (resuming with the last event id after a drop) and falls back to polling every interval
// while the stream cannot be opened.
func autoApprove(ctx context.Context, c *client.Client, interval time.Duration, stdout, stderr io.Writer) error {
	fmt.Fprintf(stderr, "device %s: approving every request until interrupted\n", c.DeviceID())
	approve := func(id string) {
		st, err := c.Decide(ctx, id, true, "")
		var apiErr *client.APIError
		switch {
		case errors.As(err, &apiErr) && apiErr.Code == "SESSION_NOT_PENDING":
		case errors.Is(err, client.ErrPickACode):
			fmt.Fprintf(stderr, "%s asks the user to pick the portal's code; not approving it automatically\n", id)
		case err != nil && ctx.Err() == nil:
			fmt.Fprintf(stderr, "approve %s: %v\n", id, err)
		case err == nil:
			_ = printJSON(stdout, map[string]string{"id": id, "state": st})
		}
	}
	lastID := ""
	for ctx.Err() == nil {
		events, streamErr, err := c.Events(ctx, lastID)
		if err != nil {
			fmt.Fprintf(stderr, "event stream unavailable (%v); polling\n", err)
			ids, err := pendingIDs(ctx, c)
			if err != nil && ctx.Err() == nil {
				fmt.Fprintf(stderr, "poll: %v\n", err)
			}
			for _, id := range ids {
				approve(id)
			}
			sleep(ctx, interval)
			continue
		}
		for ev := range events {
			lastID = ev.ID
			if ev.Session != nil && ev.Session.State == "pending" {
				approve(ev.Session.ID)
			}
		}
		if ctx.Err() == nil {
			fmt.Fprintf(stderr, "event stream ended (%v); reconnecting\n", streamErr())
			sleep(ctx, interval)
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
