package fcm_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/kyso-dev/kyso/push"
	"github.com/kyso-dev/kyso/push/fcm"
	"github.com/kyso-dev/kyso/push/fcm/fcmtest"
	"github.com/kyso-dev/kyso/signing"
)

func newSender(t *testing.T, fake *fcmtest.Server, now time.Time) *fcm.Sender {
	t.Helper()
	s, err := fcm.New(context.Background(), fcm.Config{ProjectID: "kyso-test", Endpoint: fake.URL, WithoutAuthentication: true,
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func device(platform, token, lang string) *signing.Device {
	return &signing.Device{ID: "dev_" + platform, Platform: platform, PushToken: signing.PushToken(token), Language: lang, Status: signing.DeviceActive}
}

// TestExactMessages pins the JSON that reaches FCM for Android and for Apple devices.
func TestExactMessages(t *testing.T) {
	fake := fcmtest.New()
	defer fake.Close()
	now := time.Unix(1_800_000_000, 0)
	w := signing.WakeUp{SessionID: "ses_ABC", ExpiresAt: now.Add(299*time.Second + 400*time.Millisecond)}
	d := push.NewDispatcher(newSender(t, fake, now), push.DispatcherConfig{})
	for _, dev := range []*signing.Device{device("android", "tok-android", ""), device("ipados", "tok-ipad", "en-GB"), device("ios", "tok-iphone", "vi")} {
		if got := d.Notify(context.Background(), dev, w); got.Outcome != signing.DeliveryDelivered || got.Attempts != 1 {
			t.Fatalf("%s: %+v", dev.Platform, got)
		}
	}
	exp := strconv.FormatInt(w.ExpiresAt.Unix(), 10)
	want := map[string]string{
		"tok-android": `{"message":{"data":{"kind":"signing_request","sessionId":"ses_ABC"},
			"android":{"collapse_key":"ses_ABC","priority":"high","ttl":"299s"},"token":"tok-android"}}`,
		"tok-ipad": `{"message":{"data":{"kind":"signing_request","sessionId":"ses_ABC"},
			"apns":{"headers":{"apns-collapse-id":"ses_ABC","apns-expiration":"` + exp + `","apns-priority":"10","apns-push-type":"alert"},
			"payload":{"aps":{"alert":{"title":"New signing request","body":"Open Kyso to review and confirm."},"mutable-content":1,"sound":"default"},
			"kind":"signing_request","sessionId":"ses_ABC"}},"token":"tok-ipad"}}`,
		"tok-iphone": `{"message":{"data":{"kind":"signing_request","sessionId":"ses_ABC"},
			"apns":{"headers":{"apns-collapse-id":"ses_ABC","apns-expiration":"` + exp + `","apns-priority":"10","apns-push-type":"alert"},
			"payload":{"aps":{"alert":{"title":"Yêu cầu ký số mới","body":"Mở Kyso để xem và xác nhận."},"mutable-content":1,"sound":"default"},
			"kind":"signing_request","sessionId":"ses_ABC"}},"token":"tok-iphone"}}`,
	}
	reqs := fake.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d sends", len(reqs))
	}
	for _, r := range reqs {
		if r.Project != "kyso-test" {
			t.Errorf("project %q", r.Project)
		}
		var got, exp any
		json.Unmarshal(r.Body, &got)
		if err := json.Unmarshal([]byte(want[r.Token]), &exp); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, exp) {
			t.Errorf("message to %s:\n got %s\nwant %s", r.Token, r.Body, want[r.Token])
		}
	}
}

func TestOutcomes(t *testing.T) {
	now := time.Now()
	w := signing.WakeUp{SessionID: "ses_1", ExpiresAt: now.Add(5 * time.Minute)}
	fast := push.DispatcherConfig{MaxAttempts: 3, BaseDelay: time.Millisecond, Jitter: func(d time.Duration) time.Duration { return d }}
	cases := []struct {
		name     string
		reply    func(n int) fcmtest.Reply
		outcome  string
		attempts int
		sends    int
	}{
		{"unregistered is final and not retried", func(int) fcmtest.Reply { return fcmtest.Unregistered }, signing.DeliveryUnregistered, 1, 1},
		{"internal errors are retried up to the bound", func(int) fcmtest.Reply { return fcmtest.Internal }, signing.DeliveryFailed, 3, 3},
		{"internal then success", func(n int) fcmtest.Reply {
			if n == 1 {
				return fcmtest.Internal
			}
			return fcmtest.OK
		}, signing.DeliveryDelivered, 2, 2},
		// The Firebase client retries 503 itself at once the first time.
		{"unavailable once, retried by the client", func(n int) fcmtest.Reply {
			if n == 1 {
				return fcmtest.Unavailable
			}
			return fcmtest.OK
		}, signing.DeliveryDelivered, 1, 2},
		{"invalid token is retired", func(int) fcmtest.Reply {
			return fcmtest.Reply{Status: 400, ErrorCode: "INVALID_ARGUMENT", Message: "The registration token is not a valid FCM registration token"}
		}, signing.DeliveryUnregistered, 1, 1},
		{"another invalid argument is permanent, not a retirement", func(int) fcmtest.Reply {
			return fcmtest.Reply{Status: 400, ErrorCode: "INVALID_ARGUMENT"}
		}, signing.DeliveryFailed, 1, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fake := fcmtest.New()
			defer fake.Close()
			fake.Respond(func(_ string, n int) fcmtest.Reply { return c.reply(n) })
			d := push.NewDispatcher(newSender(t, fake, now), fast)
			got := d.Notify(context.Background(), device("android", "tok", ""), w)
			if got.Outcome != c.outcome || got.Attempts != c.attempts || len(fake.Requests()) != c.sends {
				t.Fatalf("outcome %+v after %d sends; want %s, %d attempts, %d sends", got, len(fake.Requests()), c.outcome, c.attempts, c.sends)
			}
		})
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	fake := fcmtest.New()
	defer fake.Close()
	fake.Respond(func(_ string, n int) fcmtest.Reply {
		if n == 1 {
			return fcmtest.Reply{Status: 429, ErrorCode: "QUOTA_EXCEEDED", RetryAfter: "1"}
		}
		return fcmtest.OK
	})
	now := time.Now()
	d := push.NewDispatcher(newSender(t, fake, now), push.DispatcherConfig{BaseDelay: time.Millisecond})
	got := d.Notify(context.Background(), device("android", "tok", ""), signing.WakeUp{SessionID: "s", ExpiresAt: now.Add(time.Minute)})
	reqs := fake.Requests()
	if got.Outcome != signing.DeliveryDelivered || len(reqs) != 2 {
		t.Fatalf("%+v after %d sends", got, len(reqs))
	}
	if gap := reqs[1].At.Sub(reqs[0].At); gap < time.Second {
		t.Fatalf("retried after %v; Retry-After asked for 1 s", gap)
	}
}

func TestNeverRetriesPastTheSessionExpiry(t *testing.T) {
	fake := fcmtest.New()
	defer fake.Close()
	fake.Respond(func(string, int) fcmtest.Reply {
		return fcmtest.Reply{Status: 429, ErrorCode: "QUOTA_EXCEEDED", RetryAfter: "30"}
	})
	now := time.Now()
	d := push.NewDispatcher(newSender(t, fake, now), push.DispatcherConfig{})
	ctx, cancel := context.WithDeadline(context.Background(), now.Add(2*time.Second))
	defer cancel()
	start := time.Now()
	got := d.Notify(ctx, device("android", "tok", ""), signing.WakeUp{SessionID: "s", ExpiresAt: now.Add(2 * time.Second)})
	if got.Outcome != signing.DeliveryFailed || len(fake.Requests()) != 1 || time.Since(start) > time.Second {
		t.Fatalf("%+v after %d sends in %v", got, len(fake.Requests()), time.Since(start))
	}
}

func TestSlowFCMIsBoundedByTheDeadline(t *testing.T) {
	fake := fcmtest.New()
	defer fake.Close()
	fake.Respond(func(string, int) fcmtest.Reply { return fcmtest.Reply{Delay: 5 * time.Second} })
	now := time.Now()
	d := push.NewDispatcher(newSender(t, fake, now), push.DispatcherConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	got := d.Notify(ctx, device("ios", "tok", ""), signing.WakeUp{SessionID: "s", ExpiresAt: now.Add(time.Minute)})
	if got.Outcome != signing.DeliveryFailed || time.Since(start) > 2*time.Second {
		t.Fatalf("%+v after %v", got, time.Since(start))
	}
}

func TestSkips(t *testing.T) {
	fake := fcmtest.New()
	defer fake.Close()
	d := push.NewDispatcher(newSender(t, fake, time.Now()), push.DispatcherConfig{})
	w := signing.WakeUp{SessionID: "s", ExpiresAt: time.Now().Add(time.Minute)}
	for _, dev := range []*signing.Device{device("android", "", ""), device("sim", "tok", "")} {
		if got := d.Notify(context.Background(), dev, w); got.Outcome != signing.DeliverySkipped {
			t.Errorf("%s: %+v", dev.Platform, got)
		}
	}
	if len(fake.Requests()) != 0 {
		t.Fatal("sent to a device with nothing to send to")
	}
}
