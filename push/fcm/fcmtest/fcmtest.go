// Package fcmtest is a fake Firebase Cloud Messaging HTTP v1 server on loopback, for tests:
// it records every POST /v1/projects/{project}/messages:send and answers as FCM does, with
// success or the error a test chose per token. It also answers OAuth token requests, so a
// service-account credentials file whose token_uri points here works end to end.
package fcmtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Request is one recorded send.
type Request struct {
	Project string
	Token   string
	Body    []byte // the request body as sent
	Auth    string // the Authorization header
	At      time.Time
}

// Reply is how the fake answers one send.
type Reply struct {
	Status     int           // HTTP status; 0 means 200
	ErrorCode  string        // FCM errorCode, e.g. UNREGISTERED, UNAVAILABLE, INTERNAL, QUOTA_EXCEEDED
	RetryAfter string        // Retry-After header value
	Delay      time.Duration // wait before answering (a slow FCM)
	Message    string        // error message; default: "fake FCM error <code>"
}

// Replies commonly used by tests.
var (
	OK           = Reply{}
	Unregistered = Reply{Status: 404, ErrorCode: "UNREGISTERED"}
	Unavailable  = Reply{Status: 503, ErrorCode: "UNAVAILABLE"}
	Internal     = Reply{Status: 500, ErrorCode: "INTERNAL"}
	Quota        = Reply{Status: 429, ErrorCode: "QUOTA_EXCEEDED"}
)

var grpcStatus = map[int]string{404: "NOT_FOUND", 400: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE", 401: "UNAUTHENTICATED"}

// Server is the fake.
type Server struct {
	URL string
	srv *httptest.Server

	mu       sync.Mutex
	requests []Request
	count    map[string]int
	// Respond chooses the reply to the n-th send (from 1) to token. Default: OK.
	respond func(token string, n int) Reply
	tokens  int
}

// New starts a fake FCM server. Close it when done.
func New() *Server {
	s := &Server{count: map[string]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Respond sets how sends are answered.
func (s *Server) Respond(f func(token string, n int) Reply) {
	s.mu.Lock()
	s.respond = f
	s.mu.Unlock()
}

// Requests returns the sends recorded so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// RequestsFor returns the sends to one token.
func (s *Server) RequestsFor(token string) []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Token == token {
			out = append(out, r)
		}
	}
	return out
}

// TokensIssued returns how many OAuth access tokens the fake handed out.
func (s *Server) TokensIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/token" { // OAuth 2.0 token endpoint for service-account credentials
		s.mu.Lock()
		s.tokens++
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"fake-access-token","token_type":"Bearer","expires_in":3600}`)
		return
	}
	project, ok := strings.CutPrefix(r.URL.Path, "/v1/projects/")
	project, ok2 := strings.CutSuffix(project, "/messages:send")
	if r.Method != http.MethodPost || !ok || !ok2 {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var req struct {
		Message struct {
			Token string `json:"token"`
		} `json:"message"`
	}
	_ = json.Unmarshal(body, &req)
	s.mu.Lock()
	s.requests = append(s.requests, Request{Project: project, Token: req.Message.Token, Body: body, Auth: r.Header.Get("Authorization"), At: time.Now()})
	s.count[req.Message.Token]++
	n, respond := s.count[req.Message.Token], s.respond
	s.mu.Unlock()
	reply := OK
	if respond != nil {
		reply = respond(req.Message.Token, n)
	}
	if reply.Delay > 0 {
		select {
		case <-time.After(reply.Delay):
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if reply.RetryAfter != "" {
		w.Header().Set("Retry-After", reply.RetryAfter)
	}
	if reply.Status == 0 || reply.Status == 200 {
		fmt.Fprintf(w, `{"name":"projects/%s/messages/0:%d"}`, project, n)
		return
	}
	msg := reply.Message
	if msg == "" {
		msg = "fake FCM error " + reply.ErrorCode
	}
	w.WriteHeader(reply.Status)
	fmt.Fprintf(w, `{"error":{"code":%d,"message":%q,"status":%q,"details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":%q}]}}`,
		reply.Status, msg, grpcStatus[reply.Status], reply.ErrorCode)
}
