package tests

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kyso-dev/kyso/server"
)

// problemOf sends a raw request and decodes the problem answer, checking its form.
func problemOf(t testing.TB, req *http.Request) (int, server.Problem) {
	t.Helper()
	resp, raw := do(t, nil, req)
	var p server.Problem
	if resp.StatusCode < 400 {
		return resp.StatusCode, p
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/problem+json" {
		t.Fatalf("%d answer with Content-Type %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	if err := json.Unmarshal(raw, &p); err != nil || p.Code == "" || p.Status != resp.StatusCode || p.Type != server.ProblemType(p.Code) || p.TraceID == "" || p.Title == "" {
		t.Fatalf("malformed problem %d: %s", resp.StatusCode, raw)
	}
	if p.TraceID != resp.Header.Get("X-Request-Id") {
		t.Fatalf("traceId %q is not the X-Request-Id %q", p.TraceID, resp.Header.Get("X-Request-Id"))
	}
	return resp.StatusCode, p
}

func TestBadInputGetsAClearProblem(t *testing.T) {
	e := startEnv(t)
	_, info := e.newRP("Portal")
	s := e.newSigner("001099012345", "EC-P256")
	h := base64.StdEncoding.EncodeToString(digests(1, "SHA-256")[0])
	valid := func(mutate func(m map[string]any)) string {
		m := map[string]any{"nationalId": s.nationalID, "hashAlgorithm": "SHA-256", "displayText": "Ký",
			"documents": []any{map[string]any{"label": "a.pdf", "hash": h}}}
		if mutate != nil {
			mutate(m)
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	docs := func(n int) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = map[string]any{"label": fmt.Sprint("doc ", i), "hash": h}
		}
		return out
	}
	type badBody struct {
		name, body string
		status     int
		code       string
	}
	cases := []badBody{
		{"empty body", "", 400, "INVALID_REQUEST"},
		{"malformed JSON", `{"nationalId":`, 400, "INVALID_REQUEST"},
		{"not an object", `[1,2]`, 400, "INVALID_REQUEST"},
		{"two values", valid(nil) + valid(nil), 400, "INVALID_REQUEST"},
		{"wrong type", valid(func(m map[string]any) { m["ttlSeconds"] = "300" }), 400, "INVALID_REQUEST"},
		{"unknown field (misspelt credentialId)", valid(func(m map[string]any) { m["credentialID"] = "cred_x" }), 400, "INVALID_REQUEST"},
		{"bad base64", valid(func(m map[string]any) { m["documents"] = []any{map[string]any{"label": "a", "hash": "%%%"}} }), 400, "INVALID_HASH"},
		{"unpadded base64", valid(func(m map[string]any) {
			m["documents"] = []any{map[string]any{"label": "a", "hash": strings.TrimRight(h, "=")}}
		}), 400, "INVALID_HASH"},
		{"wrong hash length", valid(func(m map[string]any) { m["hashAlgorithm"] = "SHA-512" }), 400, "INVALID_HASH"},
		{"no documents", valid(func(m map[string]any) { m["documents"] = []any{} }), 400, "INVALID_REQUEST"},
		{"51 documents", valid(func(m map[string]any) { m["documents"] = docs(51) }), 400, "TOO_MANY_DOCUMENTS"},
		{"unknown hash algorithm", valid(func(m map[string]any) { m["hashAlgorithm"] = "MD5" }), 400, "UNSUPPORTED_ALGORITHM"},
		{"unknown signature algorithm", valid(func(m map[string]any) { m["signatureAlgorithm"] = "DSA" }), 400, "UNSUPPORTED_ALGORITHM"},
		{"RSA scheme for an EC key", valid(func(m map[string]any) { m["signatureAlgorithm"] = "RSASSA-PSS" }), 400, "UNSUPPORTED_ALGORITHM"},
		{"huge displayText", valid(func(m map[string]any) { m["displayText"] = strings.Repeat("ệ", 201) }), 400, "INVALID_REQUEST"},
		{"empty displayText", valid(func(m map[string]any) { m["displayText"] = "" }), 400, "INVALID_REQUEST"},
		{"empty label", valid(func(m map[string]any) { m["documents"] = []any{map[string]any{"label": "", "hash": h}} }), 400, "INVALID_REQUEST"},
		{"ttl too short", valid(func(m map[string]any) { m["ttlSeconds"] = 10 }), 400, "INVALID_REQUEST"},
		{"ttl too long", valid(func(m map[string]any) { m["ttlSeconds"] = 901 }), 400, "INVALID_REQUEST"},
		{"both user ids", valid(func(m map[string]any) { m["userId"] = s.userID }), 400, "INVALID_REQUEST"},
		{"no user", valid(func(m map[string]any) { delete(m, "nationalId") }), 400, "INVALID_REQUEST"},
		{"unknown user", valid(func(m map[string]any) { m["nationalId"] = "999" }), 404, "USER_NOT_FOUND"},
		{"someone else's credential", valid(func(m map[string]any) { m["credentialId"] = "cred_OTHER" }), 409, "NO_ACTIVE_CREDENTIAL"},
		{"callback not http", valid(func(m map[string]any) { m["callbackUrl"] = "file:///etc/passwd" }), 400, "INVALID_REQUEST"},
		{"invalid UTF-8", strings.Replace(valid(nil), `"Ký"`, "\"K\xff\"", 1), 400, "INVALID_REQUEST"},
		{"oversized body", `{"displayText":"` + strings.Repeat("a", 2<<20) + `"}`, 413, "PAYLOAD_TOO_LARGE"},
	}
	// Bodies whose length the client does not declare (chunked), which the server reads up
	// to its limit instead of all at once.
	chunked := []badBody{
		{"oversized body", `{"displayText":"` + strings.Repeat("a", 2<<20) + `"}`, 413, "PAYLOAD_TOO_LARGE"},
		{"unknown field", valid(func(m map[string]any) { m["credentialID"] = "cred_x" }), 400, "INVALID_REQUEST"},
	}
	send := func(t *testing.T, c badBody, body io.Reader) {
		req, _ := http.NewRequest("POST", e.url+"/v1/signatures", body)
		req.Header.Set("Authorization", "Bearer "+info.APIKey)
		req.Header.Set("Content-Type", "application/json")
		status, p := problemOf(t, req)
		if status != c.status || p.Code != c.code {
			t.Fatalf("got %d %s (%s), want %d %s", status, p.Code, p.Detail, c.status, c.code)
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { send(t, c, strings.NewReader(c.body)) })
	}
	for _, c := range chunked {
		t.Run(c.name+" (chunked)", func(t *testing.T) { send(t, c, io.MultiReader(strings.NewReader(c.body))) })
	}
	if list, _ := s.dev.Sessions(context.Background()); len(list) != 0 {
		t.Fatalf("a refused request created %d sessions", len(list))
	}
}

func TestBadInputElsewhere(t *testing.T) {
	e := startEnv(t)
	_, info := e.newRP("Portal")
	s := e.newSigner("001", "EC-P256")
	cases := []struct {
		name, method, path, auth, ctype, body string
		status                                int
		code                                  string
	}{
		{"unknown route", "GET", "/nope", "", "", "", 404, "NOT_FOUND"},
		{"wrong method", "DELETE", "/v1/signatures", "rp", "", "", 405, "METHOD_NOT_ALLOWED"},
		{"waitSeconds too big", "GET", "/v1/signatures/ses_X?waitSeconds=61", "rp", "", "", 400, "INVALID_REQUEST"},
		{"waitSeconds not a number", "GET", "/v1/signatures/ses_X?waitSeconds=abc", "rp", "", "", 400, "INVALID_REQUEST"},
		{"credentials without nationalId", "GET", "/v1/credentials", "rp", "", "", 400, "INVALID_REQUEST"},
		{"text body", "POST", "/v1/signatures", "rp", "text/plain", "hi", 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"user without nationalId", "POST", "/admin/v1/users", "op", "application/json", `{"displayName":"A"}`, 400, "INVALID_REQUEST"},
		{"duplicate nationalId", "POST", "/admin/v1/users", "op", "application/json", `{"nationalId":"001","displayName":"A"}`, 409, "USER_EXISTS"},
		{"nationalId with symbols", "POST", "/admin/v1/users", "op", "application/json", `{"nationalId":"00 1;","displayName":"A"}`, 400, "INVALID_REQUEST"},
		{"unknown user", "GET", "/admin/v1/users/usr_NOPE", "op", "", "", 404, "USER_NOT_FOUND"},
		{"unknown key algorithm", "POST", "/admin/v1/users/" + s.userID + "/credentials", "op", "application/json", `{"keyAlgorithm":"RSA-1024"}`, 400, "UNSUPPORTED_ALGORITHM"},
		{"activation TTL too long", "POST", "/admin/v1/users/" + s.userID + "/activation-codes", "op", "application/json", `{"ttlSeconds":99999999}`, 400, "INVALID_REQUEST"},
		{"revoke unknown device", "POST", "/admin/v1/devices/dev_NOPE/revoke", "op", "", "", 404, "NOT_FOUND"},
		{"relying party without name", "POST", "/admin/v1/relying-parties", "op", "application/json", `{}`, 400, "INVALID_REQUEST"},
		{"activate with junk key", "POST", "/device/v1/activate", "", "application/json", `{"code":"AAAA-AAAA-AAAA-AAAA","publicKey":"AAAA","platform":"ios"}`, 400, "INVALID_REQUEST"},
		{"activate with bad platform", "POST", "/device/v1/activate", "", "application/json", `{"code":"x","publicKey":"AAAA","platform":"nokia"}`, 400, "ACTIVATION_CODE_INVALID"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, e.url+c.path, strings.NewReader(c.body))
			switch c.auth {
			case "rp":
				req.Header.Set("Authorization", "Bearer "+info.APIKey)
			case "op":
				req.Header.Set("Authorization", "Bearer "+e.opToken)
			}
			if c.ctype != "" {
				req.Header.Set("Content-Type", c.ctype)
			}
			status, p := problemOf(t, req)
			if status != c.status || p.Code != c.code {
				t.Fatalf("got %d %s (%s), want %d %s", status, p.Code, p.Detail, c.status, c.code)
			}
		})
	}

	t.Run("device decision with junk", func(t *testing.T) {
		for body, code := range map[string]string{
			`{"decision":"maybe","signature":"AAAA"}`: "INVALID_REQUEST",
			`{"decision":"approve"}`:                  "INVALID_REQUEST",
			`{"decision":"approve","signature":"!!"}`: "INVALID_REQUEST",
			`not json`: "INVALID_REQUEST",
		} {
			req, err := s.dev.NewSignedRequest(context.Background(), "POST", "/device/v1/sessions/ses_X/decision", []byte(body), e.clock.Now(), "")
			must(t, err)
			if _, p := problemOf(t, req); p.Code != code {
				t.Errorf("%s: got %s (%s), want %s", body, p.Code, p.Detail, code)
			}
		}
	})

	t.Run("X-Request-Id is echoed", func(t *testing.T) {
		req, _ := http.NewRequest("GET", e.url+"/healthz", nil)
		req.Header.Set("X-Request-Id", "portal-req-77")
		resp, _ := do(t, nil, req)
		if resp.Header.Get("X-Request-Id") != "portal-req-77" {
			t.Fatalf("X-Request-Id %q", resp.Header.Get("X-Request-Id"))
		}
	})
}

// FuzzCreateSession sends arbitrary bodies to POST /v1/signatures on a real server: the answer
// is never a 5xx, and an error is always well-formed problem JSON.
func FuzzCreateSession(f *testing.F) {
	f.Add(`{"nationalId":"001","hashAlgorithm":"SHA-256","displayText":"x","documents":[{"label":"a","hash":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}]}`)
	f.Add(`{"documents":[{"hash":null}],"ttlSeconds":1e99}`)
	f.Add("{\"displayText\":\"\xed\xa0\x80\"}")
	f.Add(`{"userId":{},"signatureAlgorithm":[]}`)
	e := startEnv(f)
	_, info := e.newRP("Fuzz")
	e.newSigner("001", "EC-P256")
	f.Fuzz(func(t *testing.T, body string) {
		req, _ := http.NewRequest("POST", e.url+"/v1/signatures", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+info.APIKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("%d for %q: %s", resp.StatusCode, body, raw)
		}
		if resp.StatusCode >= 400 {
			var p server.Problem
			if json.Unmarshal(raw, &p) != nil || p.Code == "" || !utf8.Valid(raw) || !bytes.Contains(raw, []byte(`"traceId"`)) {
				t.Fatalf("malformed problem for %q: %s", body, raw)
			}
		}
	})
}
