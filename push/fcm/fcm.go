// Package fcm delivers wake-ups through Firebase Cloud Messaging (HTTP v1) with the official
// firebase-admin-go client: Android directly, iPhone and iPad through FCM's APNs
// configuration. It is the only package that imports Firebase.
//
// A message carries the kind and the session id, nothing else. Android messages are
// high-priority data messages that live as long as the session (TTL) and collapse per
// session. Apple messages are visible alerts ("Yêu cầu ký số mới" / "New signing request",
// by the device's language) with mutable-content, apns-priority 10, apns-expiration at the
// session's expiry and apns-collapse-id per session: iOS drops silent pushes to apps that
// are not running.
//
// # Caveats
//
//   - firebase-admin-go itself retries 503 answers (up to 4 times, honouring Retry-After);
//     push.Dispatcher retries what it does not (500, 429, network errors), and the session's
//     expiry bounds both.
//   - An INVALID_ARGUMENT answer retires the token only when FCM says the registration token
//     is invalid; any other invalid argument is a permanent failure, never a retirement.
package fcm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/errorutils"
	"firebase.google.com/go/v4/messaging"
	"github.com/kyso-dev/kyso/push"
	"github.com/kyso-dev/kyso/signing"
	"google.golang.org/api/option"
)

var _ push.Sender = (*Sender)(nil)

// Config configures the FCM sender.
type Config struct {
	// CredentialsFile is a service-account JSON file. Empty: Application Default Credentials
	// (GOOGLE_APPLICATION_CREDENTIALS).
	CredentialsFile string
	// ProjectID is the Firebase project. Empty: the project_id of the credentials file.
	ProjectID string
	// Endpoint replaces the FCM base URL (https://fcm.googleapis.com), for an egress proxy
	// or a test server; "/v1" is appended.
	Endpoint string
	// WithoutAuthentication sends no OAuth token (only for a test server).
	WithoutAuthentication bool
	// HTTPClient is the client for FCM calls. Default: the library's, with credentials.
	HTTPClient *http.Client
	// Now is the clock for TTLs. Default: time.Now.
	Now func() time.Time
}

// Sender sends wake-ups through FCM.
type Sender struct {
	client  *messaging.Client
	project string
	now     func() time.Time
}

// New creates the Firebase messaging client.
func New(ctx context.Context, cfg Config) (*Sender, error) {
	project := cfg.ProjectID
	credFile := cfg.CredentialsFile
	if credFile == "" {
		credFile = os.Getenv("GOOGLE_APPLICATION_CREDENTIALS")
	}
	if project == "" && credFile != "" {
		var err error
		if project, err = projectOf(credFile); err != nil {
			return nil, err
		}
	}
	if project == "" {
		return nil, errors.New("fcm: no Firebase project id: give --fcm-project or credentials with a project_id")
	}
	var opts []option.ClientOption
	if cfg.CredentialsFile != "" {
		opts = append(opts, option.WithCredentialsFile(cfg.CredentialsFile))
	}
	if cfg.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(strings.TrimRight(cfg.Endpoint, "/")+"/v1"))
	}
	if cfg.WithoutAuthentication {
		opts = append(opts, option.WithoutAuthentication())
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, option.WithHTTPClient(cfg.HTTPClient))
	}
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: project}, opts...)
	if err != nil {
		return nil, fmt.Errorf("fcm: %w", err)
	}
	client, err := app.Messaging(ctx)
	if err != nil {
		return nil, fmt.Errorf("fcm: messaging client: %w", err)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Sender{client: client, project: project, now: now}, nil
}

// Project returns the Firebase project id in use.
func (s *Sender) Project() string { return s.project }

func projectOf(credFile string) (string, error) {
	raw, err := os.ReadFile(credFile)
	if err != nil {
		return "", fmt.Errorf("fcm: read credentials: %w", err)
	}
	var c struct {
		ProjectID string `json:"project_id"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return "", fmt.Errorf("fcm: credentials file %s is not JSON", credFile)
	}
	return c.ProjectID, nil
}

// Supports reports whether FCM reaches the platform: Android, and iOS/iPadOS through APNs.
func (s *Sender) Supports(platform string) bool {
	return platform == "android" || platform == "ios" || platform == "ipados"
}

// Kind is the value of the "kind" data field of a signing wake-up.
const Kind = "signing_request"

// Message builds the FCM message for one target.
func Message(t push.Target, w signing.WakeUp, now time.Time) *messaging.Message {
	data := map[string]string{"kind": Kind, "sessionId": w.SessionID}
	m := &messaging.Message{Token: t.Token, Data: data}
	ttl := max(w.ExpiresAt.Sub(now).Truncate(time.Second), 0)
	switch t.Platform {
	case "ios", "ipados":
		title, body := alertText(t.Language)
		m.APNS = &messaging.APNSConfig{
			Headers: map[string]string{
				"apns-priority":    "10",
				"apns-push-type":   "alert",
				"apns-expiration":  strconv.FormatInt(w.ExpiresAt.Unix(), 10),
				"apns-collapse-id": w.SessionID,
			},
			Payload: &messaging.APNSPayload{
				Aps:        &messaging.Aps{Alert: &messaging.ApsAlert{Title: title, Body: body}, MutableContent: true, Sound: "default"},
				CustomData: map[string]any{"kind": Kind, "sessionId": w.SessionID},
			},
		}
	default:
		m.Android = &messaging.AndroidConfig{Priority: "high", TTL: &ttl, CollapseKey: w.SessionID}
	}
	return m
}

// alertText is the visible text of an Apple alert, by language: generic on purpose.
func alertText(lang string) (title, body string) {
	if strings.HasPrefix(strings.ToLower(lang), "en") {
		return "New signing request", "Open Kyso to review and confirm."
	}
	return "Yêu cầu ký số mới", "Mở Kyso để xem và xác nhận."
}

// Send makes one attempt and classifies its failure for push.Dispatcher.
func (s *Sender) Send(ctx context.Context, t push.Target, w signing.WakeUp) error {
	_, err := s.client.Send(ctx, Message(t, w, s.now()))
	if err == nil {
		return nil
	}
	return classify(err)
}

func classify(err error) error {
	kind := push.Retryable
	switch {
	case messaging.IsUnregistered(err), messaging.IsSenderIDMismatch(err):
		kind = push.Unregistered
	case messaging.IsInvalidArgument(err) && strings.Contains(strings.ToLower(err.Error()), "registration token"):
		kind = push.Unregistered
	case messaging.IsInvalidArgument(err), messaging.IsThirdPartyAuthError(err),
		errorutils.IsUnauthenticated(err), errorutils.IsPermissionDenied(err):
		kind = push.Permanent
	case messaging.IsUnavailable(err), messaging.IsInternal(err), messaging.IsQuotaExceeded(err):
		kind = push.Retryable
	}
	pe := &push.Error{Kind: kind, Err: fmt.Errorf("fcm: %w", err)}
	if resp := errorutils.HTTPResponse(err); resp != nil {
		if secs, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && secs > 0 {
			pe.RetryAfter = time.Duration(secs) * time.Second
		}
	}
	return pe
}
