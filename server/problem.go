package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kyso-dev/kyso/signing"
	"github.com/labstack/echo/v5"
)

// Problem is an RFC 9457 problem document with Kyso's stable code and the request's trace id.
type Problem struct {
	Type    string `json:"type"`
	Title   string `json:"title"`
	Status  int    `json:"status"`
	Detail  string `json:"detail"`
	Code    string `json:"code"`
	TraceID string `json:"traceId"`
}

// Codes the HTTP layer adds to the domain's.
const (
	codeMethodNotAllowed = "METHOD_NOT_ALLOWED"
	codeTooLarge         = "PAYLOAD_TOO_LARGE"
	codeUnsupportedMedia = "UNSUPPORTED_MEDIA_TYPE"
)

var statusOf = map[string]int{
	signing.EINVALID:              http.StatusBadRequest,
	signing.EINVALIDHASH:          http.StatusBadRequest,
	signing.EUNSUPPORTEDALGORITHM: http.StatusBadRequest,
	signing.ETOOMANYDOCUMENTS:     http.StatusBadRequest,
	signing.EINVALIDSIGNATURE:     http.StatusBadRequest,
	signing.EACTIVATIONINVALID:    http.StatusBadRequest,
	signing.EUNAUTHENTICATED:      http.StatusUnauthorized,
	signing.EFORBIDDEN:            http.StatusForbidden,
	signing.ENOTFOUND:             http.StatusNotFound,
	signing.EUSERNOTFOUND:         http.StatusNotFound,
	signing.EUSEREXISTS:           http.StatusConflict,
	signing.ENOACTIVECREDENTIAL:   http.StatusConflict,
	signing.ENOACTIVEDEVICE:       http.StatusConflict,
	signing.ESESSIONNOTPENDING:    http.StatusConflict,
	signing.ESESSIONEXPIRED:       http.StatusConflict,
	signing.EIDEMPOTENCYCONFLICT:  http.StatusConflict,
	signing.ERATELIMITED:          http.StatusTooManyRequests,
	signing.ETOOMANYPENDING:       http.StatusTooManyRequests,
	signing.EWRONGCODE:            http.StatusConflict,
	signing.ECREDENTIALEXPIRED:    http.StatusConflict,
	signing.ECREDENTIALSUSPENDED:  http.StatusConflict,
	signing.ECREDENTIALREVOKED:    http.StatusConflict,
	signing.ECERTREJECTED:         http.StatusBadRequest,
	signing.EINTERNAL:             http.StatusInternalServerError,
	codeMethodNotAllowed:          http.StatusMethodNotAllowed,
	codeTooLarge:                  http.StatusRequestEntityTooLarge,
	codeUnsupportedMedia:          http.StatusUnsupportedMediaType,
}

// ProblemType is the stable type URI of a code.
func ProblemType(code string) string {
	return "urn:kyso:problem:" + strings.ToLower(strings.ReplaceAll(code, "_", "-"))
}

// handleError is Echo's HTTPErrorHandler: every error leaves as problem JSON. Unknown errors
// become a generic 500 and are logged with the request id; their text is never sent.
func (s *Server) handleError(c *echo.Context, err error) {
	if r, _ := echo.UnwrapResponse(c.Response()); r != nil && r.Committed {
		return
	}
	code, msg := signing.ErrorCode(err), signing.ErrorMessage(err)
	var sc echo.HTTPStatusCoder
	var de *signing.Error
	if !errors.As(err, &de) && errors.As(err, &sc) {
		switch sc.StatusCode() {
		case http.StatusNotFound:
			code, msg = signing.ENOTFOUND, "no such endpoint"
		case http.StatusMethodNotAllowed:
			code, msg = codeMethodNotAllowed, "method not allowed on this endpoint"
		case http.StatusRequestEntityTooLarge:
			code, msg = codeTooLarge, "request body is too large"
		}
	}
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusBadRequest
	}
	if errors.Is(err, context.Canceled) && c.Request().Context().Err() != nil {
		// The client went away; nobody reads this answer and nothing is wrong here.
		s.log.Info("client closed the request", "requestId", requestID(c), "path", c.Request().URL.Path)
		return
	}
	if status >= 500 {
		s.log.Error("request failed", "requestId", requestID(c), "method", c.Request().Method, "path", c.Request().URL.Path, "error", err)
		msg = "internal error; quote the traceId when reporting it"
	}
	if code == signing.ERATELIMITED && c.Response().Header().Get("Retry-After") == "" {
		c.Response().Header().Set("Retry-After", "60")
	}
	p := Problem{Type: ProblemType(code), Title: http.StatusText(status), Status: status, Detail: msg, Code: code, TraceID: requestID(c)}
	c.Response().Header().Set("Content-Type", "application/problem+json")
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	c.Response().WriteHeader(status)
	_ = jsonEncode(c.Response(), p)
}

// rateLimited answers 429 RATE_LIMITED with a Retry-After of wait (at least one second).
func rateLimited(c *echo.Context, wait time.Duration, msg string) error {
	secs := max(int((wait+time.Second-1)/time.Second), 1)
	c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
	return signing.Errorf(signing.ERATELIMITED, "%s; retry in %d s", msg, secs)
}
