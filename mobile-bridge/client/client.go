// Package client is the Go device SDK: it enrols a device with an activation code, lists and
// fetches the user's signing requests, and approves or declines them with the device key.
// Every call after enrolment is signed with RFC 9421 HTTP message signatures. It depends on
// the standard library and the protocol package only, so it binds with gomobile.
//
// # Caveats
//
//   - The device key here is a software key kept in the state file. On a phone, keep it in the
//     Secure Enclave or StrongBox and sign through the platform's API instead.
package client

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	bridge "github.com/kyso-dev/kyso/mobile-bridge"
)

// Client is an enrolled device talking to one Kyso server.
type Client struct {
	server      *url.URL
	deviceID    string
	userID      string
	displayName string
	key         *ecdsa.PrivateKey

	// HTTP is the HTTP client used for calls. Default: a client with a 70 s timeout.
	HTTP *http.Client
	// Now is the clock used for the signatures' created parameter. Default: time.Now.
	Now func() time.Time
}

// APIError is a problem answered by the server; see bridge.APIError.
type APIError = bridge.APIError

// EnrollOptions describe the device being enrolled.
type EnrollOptions struct {
	Name      string // shown to operators; default: the platform
	Platform  string // android, ios, ipados, sim or other; default: other
	PushToken string // optional
	Language  string // optional BCP 47 tag for push texts, e.g. "vi" or "en"
	HTTP      *http.Client
}

// Enroll creates a device key, redeems the activation code and returns the enrolled client.
func Enroll(ctx context.Context, server, code string, opts EnrollOptions) (*Client, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate device key: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("encode device key: %w", err)
	}
	if opts.Platform == "" {
		opts.Platform = "other"
	}
	c, err := newClient(server, "", key)
	if err != nil {
		return nil, err
	}
	c.HTTP = opts.HTTP
	var out bridge.ActivateResponse
	in := bridge.ActivateRequest{Code: code, PublicKey: pub, Platform: opts.Platform, Name: opts.Name, PushToken: opts.PushToken, Language: opts.Language}
	if err := c.call(ctx, http.MethodPost, "/device/v1/activate", in, &out, false); err != nil {
		return nil, fmt.Errorf("activate: %w", err)
	}
	c.deviceID, c.userID, c.displayName = out.DeviceID, out.UserID, out.DisplayName
	return c, nil
}

func newClient(server, deviceID string, key *ecdsa.PrivateKey) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(server, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server %q is not an http(s) URL", server)
	}
	return &Client{server: u, deviceID: deviceID, key: key}, nil
}

// DeviceID returns the device's id.
func (c *Client) DeviceID() string { return c.deviceID }

// UserID returns the id of the device's user.
func (c *Client) UserID() string { return c.userID }

// Sessions lists the user's pending signing requests.
func (c *Client) Sessions(ctx context.Context) ([]bridge.SessionInfo, error) {
	var out bridge.SessionList
	if err := c.call(ctx, http.MethodGet, "/device/v1/sessions", nil, &out, true); err != nil {
		return nil, err
	}
	return out.Sessions, nil
}

// Session fetches one signing request with its challenge.
func (c *Client) Session(ctx context.Context, id string) (*bridge.SessionInfo, error) {
	var out bridge.SessionInfo
	if err := c.call(ctx, http.MethodGet, "/device/v1/sessions/"+url.PathEscape(id), nil, &out, true); err != nil {
		return nil, err
	}
	return &out, nil
}

// ErrChallengeMismatch means the server's challenge does not bind what the device was shown.
var ErrChallengeMismatch = errors.New("kyso: the challenge does not match the request shown; refusing to sign")

// ErrWrongCode means the session's verification code is not the one the user expected.
var ErrWrongCode = errors.New("kyso: verification code differs from the expected one; refusing to approve")

// ErrPickACode means the session asks the user to pick the relying party's code from three,
// and no code was given.
var ErrPickACode = errors.New("kyso: this request asks the user to pick the verification code shown by the relying party")

// Decide fetches the session, checks that its challenge binds exactly what is shown, signs
// the decision and sends it, and returns the session's new state. code is the verification
// code the user confirmed: when set, an approval is refused unless the session shows that
// code; in the verificationCodeChoice interaction it is the code the user picked (required
// to approve) and the server judges it.
func (c *Client) Decide(ctx context.Context, id string, approve bool, code string) (string, error) {
	s, err := c.Session(ctx, id)
	if err != nil {
		return "", err
	}
	if !bytes.Equal(s.Challenge, bridge.Challenge(s.ChallengeFields())) {
		return "", ErrChallengeMismatch
	}
	decision, picked := "decline", ""
	if approve {
		decision = "approve"
		switch {
		case len(s.VerificationCodeChoices) > 0 && code == "":
			return "", ErrPickACode
		case len(s.VerificationCodeChoices) > 0:
			picked = code
		case code != "" && s.VerificationCode != code:
			return "", ErrWrongCode
		}
	}
	sig, err := c.SignDecision(s.Challenge, decisionWord(decision, picked))
	if err != nil {
		return "", err
	}
	return c.SendDecision(ctx, id, decision, picked, sig)
}

// decisionWord is what follows the challenge in the signed message (see signing.DecisionWord).
func decisionWord(decision, picked string) string {
	if picked != "" {
		return decision + ":" + picked
	}
	return decision
}

// SignDecision signs challenge || word with the device key (DER ECDSA P-256, SHA-256); word
// is "approve", "decline" or "approve:NNNN".
func (c *Client) SignDecision(challenge []byte, word string) ([]byte, error) {
	digest := sha256.Sum256(bridge.DecisionMessage(challenge, word))
	return ecdsa.SignASN1(rand.Reader, c.key, digest[:])
}

// SendDecision posts a decision, the picked code (code-choice interaction, else "") and the
// signature as they are, and returns the new state.
func (c *Client) SendDecision(ctx context.Context, id, decision, pickedCode string, sig []byte) (string, error) {
	var out bridge.DecisionResponse
	in := bridge.DecisionRequest{Decision: decision, Signature: sig, VerificationCode: pickedCode}
	if err := c.call(ctx, http.MethodPost, "/device/v1/sessions/"+url.PathEscape(id)+"/decision", in, &out, true); err != nil {
		return "", err
	}
	return out.State, nil
}

// SetPushToken registers a new push token for the device.
func (c *Client) SetPushToken(ctx context.Context, token string) error {
	return c.call(ctx, http.MethodPut, "/device/v1/push-token", bridge.PushTokenRequest{PushToken: token}, nil, true)
}

// NewSignedRequest builds a request to path on the server, signed as this device at time
// created with nonce (random if empty). Tests and custom transports use it directly.
func (c *Client) NewSignedRequest(ctx context.Context, method, path string, body []byte, created time.Time, nonce string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.server.String()+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	if err := bridge.SignRequest(req, body, c.deviceID, c.key, created, nonce); err != nil {
		return nil, err
	}
	return req, nil
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 70 * time.Second}
}

func (c *Client) call(ctx context.Context, method, path string, in, out any, signed bool) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	var req *http.Request
	var err error
	if signed {
		now := time.Now
		if c.Now != nil {
			now = c.Now
		}
		req, err = c.NewSignedRequest(ctx, method, path, body, now(), "")
	} else {
		req, err = http.NewRequestWithContext(ctx, method, c.server.String()+path, bytes.NewReader(body))
		if err == nil && body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	if err != nil {
		return err
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return bridge.DecodeResponse(resp, out)
}

// State is what a device keeps between runs. It holds the device's private key: store it
// with mode 0600 (SaveState does).
type State struct {
	Server      string `json:"server"`
	DeviceID    string `json:"deviceId"`
	UserID      string `json:"userId"`
	DisplayName string `json:"displayName"`
	PrivateKey  []byte `json:"privateKey"` // PKCS#8 DER
}

// SaveState writes the client's state to path with mode 0600.
func (c *Client) SaveState(path string) error {
	der, err := x509.MarshalPKCS8PrivateKey(c.key)
	if err != nil {
		return err
	}
	defer clear(der)
	raw, err := json.MarshalIndent(State{Server: c.server.String(), DeviceID: c.deviceID, UserID: c.userID,
		DisplayName: c.displayName, PrivateKey: der}, "", "  ")
	if err != nil {
		return err
	}
	defer clear(raw)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("save device state: %w", err)
	}
	if _, err := f.Write(raw); err != nil {
		f.Close()
		return fmt.Errorf("save device state: %w", err)
	}
	return f.Close()
}

// LoadState opens the client saved at path.
func LoadState(path string) (*Client, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load device state: %w", err)
	}
	defer clear(raw)
	var st State
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("load device state %s: not a device state file", path)
	}
	defer clear(st.PrivateKey)
	k, err := x509.ParsePKCS8PrivateKey(st.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("load device state %s: bad private key", path)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("load device state %s: key is not ECDSA", path)
	}
	c, err := newClient(st.Server, st.DeviceID, key)
	if err != nil {
		return nil, err
	}
	c.userID, c.displayName = st.UserID, st.DisplayName
	return c, nil
}
