// Package apiclient is a small Go client for Kyso's bearer-token APIs: the relying-party API
// (/v1) with an API key, and the operator API (/admin/v1) with an operator token.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	bridge "github.com/kyso-dev/kyso/mobile-bridge"
)

// Client calls one Kyso server with one bearer secret.
type Client struct {
	server string
	token  string
	// HTTP is the HTTP client. Default: a client with a 75 s timeout (a long-poll is 60 s).
	HTTP *http.Client
}

// New returns a client for server (base URL) authenticating with token.
func New(server, token string) *Client {
	return &Client{server: strings.TrimRight(server, "/"), token: strings.TrimSpace(token)}
}

// Token returns the bearer secret the client uses.
func (c *Client) Token() string { return c.token }

// Do sends in as JSON (if not nil) with extra headers and decodes the answer into out (if not
// nil). A problem answer comes back as *bridge.APIError.
func (c *Client) Do(ctx context.Context, method, path string, in, out any, header http.Header) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, c.server+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 75 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return bridge.DecodeResponse(resp, out)
}

// Document is one digest to sign.
type Document struct {
	Label     string `json:"label"`
	Hash      []byte `json:"hash"`
	Signature []byte `json:"signature,omitempty"`
}

// SignatureRequest is the body of POST /v1/signatures.
type SignatureRequest struct {
	NationalID         string     `json:"nationalId,omitempty"`
	UserID             string     `json:"userId,omitempty"`
	CredentialID       string     `json:"credentialId,omitempty"`
	HashAlgorithm      string     `json:"hashAlgorithm"`
	SignatureAlgorithm string     `json:"signatureAlgorithm,omitempty"`
	Documents          []Document `json:"documents"`
	DisplayText        string     `json:"displayText"`
	CallbackURL        string     `json:"callbackUrl,omitempty"`
	TTLSeconds         int        `json:"ttlSeconds,omitempty"`
	// Interaction "verificationCodeChoice" makes the user pick the code the portal shows.
	Interaction string `json:"interaction,omitempty"`
}

// SessionError says why a session ended unsigned.
type SessionError struct {
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

// Session is a signing session as its relying party sees it.
type Session struct {
	ID                 string        `json:"id"`
	State              string        `json:"state"`
	VerificationCode   string        `json:"verificationCode"`
	CreatedAt          time.Time     `json:"createdAt"`
	ExpiresAt          time.Time     `json:"expiresAt"`
	CompletedAt        time.Time     `json:"completedAt"`
	CredentialID       string        `json:"credentialId"`
	HashAlgorithm      string        `json:"hashAlgorithm"`
	SignatureAlgorithm string        `json:"signatureAlgorithm"`
	Documents          []Document    `json:"documents"`
	Certificate        []byte        `json:"certificate"`
	CertificateChain   [][]byte      `json:"certificateChain"`
	Error              *SessionError `json:"error"`
}

// CreateSignature asks for signatures. A non-empty idempotencyKey makes retries safe.
func (c *Client) CreateSignature(ctx context.Context, req SignatureRequest, idempotencyKey string) (*Session, error) {
	var h http.Header
	if idempotencyKey != "" {
		h = http.Header{"Idempotency-Key": {idempotencyKey}}
	}
	var out Session
	if err := c.Do(ctx, http.MethodPost, "/v1/signatures", req, &out, h); err != nil {
		return nil, err
	}
	return &out, nil
}

// Signature reads a session, waiting up to wait (0..60 s) for it to become final.
func (c *Client) Signature(ctx context.Context, id string, wait time.Duration) (*Session, error) {
	var out Session
	path := "/v1/signatures/" + url.PathEscape(id) + "?waitSeconds=" + strconv.Itoa(int(wait/time.Second))
	if err := c.Do(ctx, http.MethodGet, path, nil, &out, nil); err != nil {
		return nil, err
	}
	return &out, nil
}
