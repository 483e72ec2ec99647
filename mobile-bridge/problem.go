package bridge

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	json "github.com/go-json-experiment/json"
)

// answers decodes server answers like encoding/json did (callers decode into their own
// structs, often with untagged fields), through encoding/json/v2's faster implementation.
var answers = json.MatchCaseInsensitiveNames(true)

// APIError is an RFC 9457 problem answered by a Kyso server.
type APIError struct {
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Title   string `json:"title"`
	Detail  string `json:"detail"`
	TraceID string `json:"traceId"`
}

func (e *APIError) Error() string {
	return fmt.Sprintf("kyso: %d %s: %s", e.Status, e.Code, e.Detail)
}

// maxAnswer bounds what DecodeResponse reads of an answer.
const maxAnswer = 8 << 20

// readBody reads an answer of up to maxAnswer bytes, in one allocation when its length is
// known (io.ReadAll grows its buffer from 512 bytes).
func readBody(resp *http.Response) ([]byte, error) {
	if n := resp.ContentLength; n > 0 && n <= maxAnswer {
		raw := make([]byte, n)
		if _, err := io.ReadFull(resp.Body, raw); err != nil {
			return nil, err
		}
		return raw, nil
	}
	return io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
}

// DecodeResponse decodes a successful JSON answer into out (if not nil), or returns the
// *APIError of a problem answer.
func DecodeResponse(resp *http.Response, out any) error {
	raw, err := readBody(resp)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		apiErr := &APIError{Status: resp.StatusCode}
		if json.Unmarshal(raw, apiErr, answers) != nil || apiErr.Code == "" {
			apiErr.Code, apiErr.Detail = fmt.Sprintf("HTTP_%d", resp.StatusCode), strings.TrimSpace(string(raw))
		}
		return apiErr
	}
	if out == nil || len(raw) == 0 {
		return nil
	}
	return json.Unmarshal(raw, out, answers)
}
