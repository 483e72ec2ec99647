package bridge_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	bridge "github.com/kyso-dev/kyso/mobile-bridge"
)

func answer(status int, body string, length int64) *http.Response {
	return &http.Response{StatusCode: status, Body: io.NopCloser(strings.NewReader(body)), ContentLength: length}
}

// TestDecodeResponse: answers of known and unknown length decode, a problem answer becomes
// an *APIError with its code, and an answer cut short of its length is an error.
func TestDecodeResponse(t *testing.T) {
	body := `{"state":"signed"}`
	for _, length := range []int64{int64(len(body)), -1} {
		var out struct{ State string }
		if err := bridge.DecodeResponse(answer(200, body, length), &out); err != nil || out.State != "signed" {
			t.Errorf("length %d: %+v %v", length, out, err)
		}
	}
	var apiErr *bridge.APIError
	err := bridge.DecodeResponse(answer(409, `{"type":"x","code":"NOT_PENDING","detail":"d"}`, -1), nil)
	if !errors.As(err, &apiErr) || apiErr.Code != "NOT_PENDING" || apiErr.Status != 409 {
		t.Errorf("problem answer: %v", err)
	}
	var out struct{ State string }
	if err := bridge.DecodeResponse(answer(200, body, int64(len(body))+10), &out); err == nil {
		t.Error("an answer shorter than its Content-Length decoded")
	}
}
