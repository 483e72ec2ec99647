package server

import (
	"bytes"
	"encoding/base64"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"

	json "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/kyso-dev/kyso/signing"
	"github.com/labstack/echo/v5"
)

// maxBody is the largest request body accepted (50 documents need well under 64 KiB).
const maxBody = 1 << 20

// jsonEncode writes v and a newline, without HTML escaping. Answers are encoded by
// encoding/json, faster at it for our views than the v2 implementation that decodes
// requests (measured: 3.9 against 5.7 µs for a signed session).
func jsonEncode(w io.Writer, v any) error {
	enc := stdjson.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// jsonSerializer is Echo's JSON for c.JSON and c.Bind.
type jsonSerializer struct{}

// Serialize encodes the whole answer before writing it, so that it goes out with its
// Content-Length in one write: net/http would send an answer over 2 KiB (a signed session
// with an RSA certificate and its chain) chunked, framing the server writes and the
// client must parse.
func (jsonSerializer) Serialize(c *echo.Context, v any, _ string) error {
	buf := answerBuffers.Get().(*bytes.Buffer)
	defer putAnswerBuffer(buf)
	if err := jsonEncode(buf, v); err != nil {
		return err
	}
	w := c.Response()
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	_, err := w.Write(buf.Bytes())
	return err
}

// answerBuffers holds the buffers answers and events are encoded into.
var answerBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func putAnswerBuffer(buf *bytes.Buffer) {
	if buf.Cap() <= 64<<10 { // an occasional large answer is not kept
		buf.Reset()
		answerBuffers.Put(buf)
	}
}

func (jsonSerializer) Deserialize(c *echo.Context, v any) error { return bind(c, v) }

// readBody reads the request body up to maxBody, in one allocation when its length is
// declared (io.ReadAll grows its buffer from 512 bytes).
func readBody(c *echo.Context) ([]byte, error) {
	r := c.Request()
	if r.ContentLength > maxBody {
		return nil, signing.Errorf(codeTooLarge, "request body is larger than %d bytes", maxBody)
	}
	if r.ContentLength > 0 {
		body := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(r.Body, body); err != nil {
			return nil, signing.Errorf(signing.EINVALID, "could not read the request body")
		}
		return body, nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), r.Body, maxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, signing.Errorf(codeTooLarge, "request body is larger than %d bytes", maxBody)
	}
	if err != nil {
		return nil, signing.Errorf(signing.EINVALID, "could not read the request body")
	}
	return body, nil
}

// decodeJSON checks the request's Content-Type and decodes body into v with decodeBody.
func decodeJSON(c *echo.Context, body []byte, v any) error {
	if ct := c.Request().Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || (mt != "application/json" && mt != "application/problem+json") {
			return signing.Errorf(codeUnsupportedMedia, "Content-Type must be application/json")
		}
	}
	return decodeBody(body, v)
}

// decodeBody decodes exactly one JSON object from body into v. Field names must match
// letter for letter (a misspelt "credentialID" must not count as "credentialId"); unknown
// and duplicate fields and invalid UTF-8 are refused.
func decodeBody(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return signing.Errorf(signing.EINVALID, "the request body is empty; a JSON object is required")
	}
	if err := json.Unmarshal(body, v, json.RejectUnknownMembers(true)); err != nil {
		return signing.Errorf(signing.EINVALID, "malformed JSON body: %s", jsonErrorText(err))
	}
	return nil
}

// jsonErrorText says what is wrong and where, without echoing the input.
func jsonErrorText(err error) string {
	var se *json.SemanticError
	var syn *jsontext.SyntacticError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of input"
	case errors.As(err, &se) && errors.Is(se.Err, json.ErrUnknownName):
		return fmt.Sprintf("unknown field %s (names are case-sensitive)", pointerText(se.JSONPointer))
	case errors.As(err, &se) && se.GoType != nil && se.JSONPointer == "":
		return "the body must be " + kindOf(se.GoType)
	case errors.As(err, &se) && se.GoType != nil:
		return fmt.Sprintf("field %s must be %s", pointerText(se.JSONPointer), kindOf(se.GoType))
	case errors.As(err, &syn) && errors.Is(syn.Err, jsontext.ErrDuplicateName):
		return fmt.Sprintf("duplicate field %s", pointerText(syn.JSONPointer))
	case errors.As(err, &syn) && strings.Contains(syn.Err.Error(), "UTF-8"):
		return "the body is not valid UTF-8"
	case errors.As(err, &syn):
		return fmt.Sprintf("syntax error at byte %d", syn.ByteOffset)
	}
	return "not a JSON object of the expected shape"
}

// pointerText names a JSON Pointer location for people: "documents[0].label".
func pointerText(p jsontext.Pointer) string {
	var b strings.Builder
	for tok := range p.Tokens() {
		if _, err := strconv.Atoi(tok); err == nil && b.Len() > 0 {
			fmt.Fprintf(&b, "[%s]", tok)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	return strconv.Quote(b.String())
}

func kindOf(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a base64 string"
		}
		return "an array"
	case reflect.Struct:
		if t.PkgPath() == "time" {
			return "an RFC 3339 time"
		}
		return "an object"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float64, reflect.Float32:
		return "a number"
	}
	return t.String()
}

// bind reads and decodes the body of c into v.
func bind(c *echo.Context, v any) error {
	body, err := readBody(c)
	if err != nil {
		return err
	}
	return decodeJSON(c, body, v)
}

// decodeBase64 decodes standard, padded base64 (RFC 4648 §4).
func decodeBase64(field, s string, code string) ([]byte, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, signing.Errorf(code, "%s is not valid standard base64", field)
	}
	return b, nil
}
