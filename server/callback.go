package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/kyso-dev/kyso/signing"
)

var _ signing.CallbackSender = (*CallbackSender)(nil)

// CallbackSender posts a final session to a relying party's callback URL, signed with
// Kyso-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, t + "." + body)>.
type CallbackSender struct {
	// HTTP is the client for callbacks. Default: 10 s timeout, no redirects followed.
	HTTP *http.Client
	// Now is the clock for t. Default: time.Now.
	Now func() time.Time
}

// SignCallback returns the Kyso-Signature header value for body at time t.
func SignCallback(secret, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// SendCallback makes one delivery attempt; any 2xx answer is success.
func (cs *CallbackSender) SendCallback(ctx context.Context, url string, s *signing.Session, c *signing.Credential, secret []byte) error {
	var body bytes.Buffer
	if err := jsonEncode(&body, sessionView(s, c.Certificate, c.Chain)); err != nil {
		return fmt.Errorf("encode callback: %w", err)
	}
	now := time.Now
	if cs.Now != nil {
		now = cs.Now
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body.Bytes()))
	if err != nil {
		return fmt.Errorf("callback request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Kyso-Signature", SignCallback(secret, body.Bytes(), now()))
	client := cs.HTTP
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("callback post: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("callback answered %d", resp.StatusCode)
	}
	return nil
}
