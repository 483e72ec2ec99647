package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/kyso-dev/kyso/signing"
	"github.com/labstack/echo/v5"
)

// maxBody is the largest request body accepted (50 documents need well under 64 KiB).
const maxBody = 1 << 20

func jsonEncode(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// readBody reads the request body up to maxBody.
func readBody(c *echo.Context) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), c.Request().Body, maxBody))
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

// decodeBody decodes exactly one JSON object from body into v, refusing unknown fields and
// invalid UTF-8 (which encoding/json would silently replace).
func decodeBody(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return signing.Errorf(signing.EINVALID, "the request body is empty; a JSON object is required")
	}
	if !utf8.Valid(body) {
		return signing.Errorf(signing.EINVALID, "the request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return signing.Errorf(signing.EINVALID, "malformed JSON body: %s", jsonErrorText(err))
	}
	if dec.More() {
		return signing.Errorf(signing.EINVALID, "malformed JSON body: more than one JSON value")
	}
	// encoding/json matches field names without regard to case; a misspelt "credentialID"
	// would otherwise count as "credentialId". Names must match exactly.
	return exactFieldNames(body, reflect.TypeOf(v), "")
}

// exactFieldNames checks that every object key in raw is, letter for letter, a JSON field
// name of t (recursing into nested structs and slices of structs).
func exactFieldNames(raw []byte, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		if t.Kind() == reflect.Slice {
			if t.Elem().Kind() == reflect.Uint8 { // []byte is base64 text
				return nil
			}
			var items []json.RawMessage
			if json.Unmarshal(raw, &items) != nil {
				return nil
			}
			for i, it := range items {
				if err := exactFieldNames(it, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
			return nil
		}
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return nil
	}
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			name = f.Name
		}
		fields[name] = f.Type
	}
	for k, v := range obj {
		ft, ok := fields[k]
		if !ok {
			return signing.Errorf(signing.EINVALID, "malformed JSON body: unknown field %q%s (names are case-sensitive)", k, inPath(path))
		}
		if err := exactFieldNames(v, ft, path+"."+k); err != nil {
			return err
		}
	}
	return nil
}

func inPath(path string) string {
	if path == "" {
		return ""
	}
	return " in " + strings.TrimPrefix(path, ".")
}

func jsonErrorText(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return fmt.Sprintf("field %q must be %s", te.Field, te.Type)
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of input"
	}
	return err.Error()
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
