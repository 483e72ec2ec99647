// Package push wakes devices. A wake-up says only that a session waits (its id and expiry);
// it never carries document content or personal data, because push services are third
// parties. Dispatcher turns a Sender (one send to one token) into the domain's
// signing.Notifier: it skips devices with nothing to send to, retries what may succeed later
// with backoff and jitter (honouring Retry-After), never past the session's expiry, and
// bounds how many sends run at once. LogSender is the development notifier.
package push

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/kyso-dev/kyso/signing"
)

// Target is one device as a push channel sees it.
type Target struct {
	Token    string
	Platform string // android, ios, ipados, sim, other
	Language string // BCP 47 tag, may be empty
}

// Sender makes one attempt to deliver a wake-up to one target.
type Sender interface {
	// Send delivers w to t once. Failures should be *Error so the dispatcher knows what to do.
	Send(ctx context.Context, t Target, w signing.WakeUp) error
	// Supports reports whether this channel can reach devices of the platform.
	Supports(platform string) bool
}

// Kind classifies a failed send.
type Kind int

// Kinds of failure.
const (
	// Permanent: retrying will not help (a malformed message, bad credentials).
	Permanent Kind = iota
	// Retryable: the service is unavailable, overloaded or failed internally.
	Retryable
	// Unregistered: the token is dead; retire it.
	Unregistered
)

// Error is a classified send failure.
type Error struct {
	Kind       Kind
	RetryAfter time.Duration // the service's Retry-After, if it gave one
	Err        error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// DispatcherConfig tunes a Dispatcher. Zero values mean the defaults.
type DispatcherConfig struct {
	// MaxAttempts bounds the sends per device and session. Default: 4.
	MaxAttempts int
	// BaseDelay is the backoff before the second attempt; it doubles after each. Default: 500 ms.
	BaseDelay time.Duration
	// MaxDelay caps one wait, including a Retry-After. Default: 30 s.
	MaxDelay time.Duration
	// MaxInFlight bounds concurrent sends across all sessions. Default: 64.
	MaxInFlight int
	// Jitter returns the wait actually used for a backoff d, so that many devices failing
	// together do not retry together. Default: uniform in [d/2, d].
	Jitter func(d time.Duration) time.Duration
	// Logger receives one line per retry. Default: discard.
	Logger *slog.Logger
}

var _ signing.Notifier = (*Dispatcher)(nil)

// Dispatcher implements signing.Notifier on a Sender.
type Dispatcher struct {
	sender Sender
	cfg    DispatcherConfig
	sem    chan struct{}
}

// NewDispatcher returns a dispatcher over sender.
func NewDispatcher(sender Sender, cfg DispatcherConfig) *Dispatcher {
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 4
	}
	if cfg.BaseDelay == 0 {
		cfg.BaseDelay = 500 * time.Millisecond
	}
	if cfg.MaxDelay == 0 {
		cfg.MaxDelay = 30 * time.Second
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = 64
	}
	if cfg.Jitter == nil {
		cfg.Jitter = func(d time.Duration) time.Duration { return d/2 + rand.N(d/2+1) }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Dispatcher{sender: sender, cfg: cfg, sem: make(chan struct{}, cfg.MaxInFlight)}
}

// Notify wakes d for w, retrying as configured, and reports the outcome. It returns when
// the outcome is known or ctx ends (the session's expiry).
func (p *Dispatcher) Notify(ctx context.Context, d *signing.Device, w signing.WakeUp) signing.Delivery {
	switch {
	case d.PushToken == "":
		return signing.Delivery{Outcome: signing.DeliverySkipped, Detail: "no push token; the device pulls"}
	case !p.sender.Supports(d.Platform):
		return signing.Delivery{Outcome: signing.DeliverySkipped, Detail: "no push channel for platform " + d.Platform}
	}
	t := Target{Token: d.PushToken.Reveal(), Platform: d.Platform, Language: d.Language}
	backoff := p.cfg.BaseDelay
	for attempt := 1; ; attempt++ {
		err := p.send(ctx, t, w)
		if err == nil {
			return signing.Delivery{Outcome: signing.DeliveryDelivered, Attempts: attempt}
		}
		var pe *Error
		if !errors.As(err, &pe) {
			pe = &Error{Kind: Retryable, Err: err}
		}
		switch {
		case pe.Kind == Unregistered:
			return signing.Delivery{Outcome: signing.DeliveryUnregistered, Attempts: attempt, Detail: "the push service no longer knows this token"}
		case pe.Kind == Permanent:
			return signing.Delivery{Outcome: signing.DeliveryFailed, Attempts: attempt, Detail: "permanent: " + pe.Error()}
		case attempt >= p.cfg.MaxAttempts:
			return signing.Delivery{Outcome: signing.DeliveryFailed, Attempts: attempt, Detail: fmt.Sprintf("gave up after %d attempts: %v", attempt, pe)}
		}
		wait := p.cfg.Jitter(backoff)
		if pe.RetryAfter > wait {
			wait = pe.RetryAfter
		}
		wait = min(wait, p.cfg.MaxDelay)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return signing.Delivery{Outcome: signing.DeliveryFailed, Attempts: attempt, Detail: "the session expires before the next attempt: " + pe.Error()}
		}
		p.cfg.Logger.Info("push failed; retrying", "session", w.SessionID, "device", d.ID, "attempt", attempt, "retryIn", wait, "error", pe.Error())
		select {
		case <-ctx.Done():
			return signing.Delivery{Outcome: signing.DeliveryFailed, Attempts: attempt, Detail: "stopped: " + ctx.Err().Error()}
		case <-time.After(wait):
		}
		backoff = min(backoff*2, p.cfg.MaxDelay)
	}
}

// send makes one attempt inside the concurrency bound.
func (p *Dispatcher) send(ctx context.Context, t Target, w signing.WakeUp) error {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return &Error{Kind: Permanent, Err: ctx.Err()}
	}
	defer func() { <-p.sem }()
	return p.sender.Send(ctx, t, w)
}

var _ signing.Notifier = (*LogSender)(nil)

// LogSender is the development notifier: it logs one line per wake-up (device and session
// ids only) and delivers nothing. Devices find their requests by pulling.
type LogSender struct {
	Logger *slog.Logger
}

// Notify logs the wake-up.
func (s *LogSender) Notify(_ context.Context, d *signing.Device, w signing.WakeUp) signing.Delivery {
	s.Logger.Info("push (log sender): wake-up", "device", d.ID, "platform", d.Platform, "session", w.SessionID)
	return signing.Delivery{Outcome: signing.DeliveryLogged, Attempts: 1}
}
