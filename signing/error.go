package signing

import (
	"errors"
	"fmt"
)

// Error codes. They are stable machine codes that reach clients unchanged.
const (
	EINVALID              = "INVALID_REQUEST"
	EUNAUTHENTICATED      = "UNAUTHENTICATED"
	EFORBIDDEN            = "FORBIDDEN"
	ENOTFOUND             = "NOT_FOUND"
	EUSERNOTFOUND         = "USER_NOT_FOUND"
	EUSEREXISTS           = "USER_EXISTS"
	ENOACTIVECREDENTIAL   = "NO_ACTIVE_CREDENTIAL"
	ENOACTIVEDEVICE       = "NO_ACTIVE_DEVICE"
	EINVALIDHASH          = "INVALID_HASH"
	EUNSUPPORTEDALGORITHM = "UNSUPPORTED_ALGORITHM"
	ETOOMANYDOCUMENTS     = "TOO_MANY_DOCUMENTS"
	ESESSIONEXPIRED       = "SESSION_EXPIRED"
	ESESSIONNOTPENDING    = "SESSION_NOT_PENDING"
	EINVALIDSIGNATURE     = "INVALID_SIGNATURE"
	EACTIVATIONINVALID    = "ACTIVATION_CODE_INVALID"
	ERATELIMITED          = "RATE_LIMITED"
	EIDEMPOTENCYCONFLICT  = "IDEMPOTENCY_CONFLICT"
	ETOOMANYPENDING       = "TOO_MANY_PENDING_SESSIONS"
	ECREDENTIALEXPIRED    = "CREDENTIAL_EXPIRED"
	ECREDENTIALSUSPENDED  = "CREDENTIAL_SUSPENDED"
	ECREDENTIALREVOKED    = "CREDENTIAL_REVOKED"
	ECERTREJECTED         = "CERTIFICATE_REJECTED"
	EWRONGCODE            = "WRONG_VERIFICATION_CODE"
	EINTERNAL             = "INTERNAL"
)

// Error is the one error type of the domain. Code is one of the constants above; Message is
// safe to show to the caller; Err, if set, is the underlying cause and is never shown.
type Error struct {
	Code    string
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted, client-safe message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for any other
// non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of err: the Message of its *Error, or a
// generic text for any other error (whose details must not reach a client).
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
