// Package push delivers wake-ups to devices. A wake-up says only that a session waits (its
// id); it never carries document content or personal data, because push services are third
// parties. Senders implement Sender; the domain uses them as a signing.Notifier.
package push

import (
	"context"
	"log/slog"

	"github.com/kyso-dev/kyso/signing"
)

// Sender delivers one wake-up to one device.
type Sender interface {
	Notify(ctx context.Context, d *signing.Device, sessionID string) error
}

var _ signing.Notifier = (*LogSender)(nil)

// LogSender is the development sender: it logs one line per wake-up (device and session ids
// only) and delivers nothing. Devices find their requests by polling.
type LogSender struct {
	Logger *slog.Logger
}

// Notify logs the wake-up.
func (s *LogSender) Notify(_ context.Context, d *signing.Device, sessionID string) error {
	s.Logger.Info("push (log sender): wake-up", "device", d.ID, "platform", d.Platform, "session", sessionID)
	return nil
}
