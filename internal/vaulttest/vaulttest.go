// Package vaulttest is a fake of HashiCorp Vault's (and OpenBao's) transit secrets engine on
// loopback, for tests: encrypt and decrypt with AES-256-GCM keys it keeps in memory, honouring
// associated data and the X-Vault-Token header, answering in Vault's JSON shapes.
package vaulttest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
)

// Server is the fake Vault.
type Server struct {
	URL   string
	Token string
	srv   *httptest.Server
	mu    sync.Mutex
	keys  map[string]cipher.AEAD
	calls int
}

// New starts a fake Vault that accepts token.
func New(token string) *Server {
	s := &Server{Token: token, keys: map[string]cipher.AEAD{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// Close stops it.
func (s *Server) Close() { s.srv.Close() }

// Calls returns how many encrypt/decrypt calls it answered.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func fail(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string][]string{"errors": {msg}})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Vault-Token") != s.Token {
		fail(w, http.StatusForbidden, "permission denied")
		return
	}
	// /v1/{mount}/{encrypt|decrypt}/{name}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/v1/"), "/")
	if len(parts) != 3 || (parts[1] != "encrypt" && parts[1] != "decrypt") {
		fail(w, http.StatusNotFound, "no handler for route")
		return
	}
	var in map[string]string
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		fail(w, http.StatusBadRequest, "bad body")
		return
	}
	ad, _ := base64.StdEncoding.DecodeString(in["associated_data"])
	s.mu.Lock()
	s.calls++
	name := parts[0] + "/" + parts[2]
	key := s.keys[name]
	if key == nil {
		k := make([]byte, 32)
		rand.Read(k)
		block, _ := aes.NewCipher(k)
		key, _ = cipher.NewGCM(block)
		s.keys[name] = key
	}
	s.mu.Unlock()
	out := map[string]string{}
	if parts[1] == "encrypt" {
		pt, err := base64.StdEncoding.DecodeString(in["plaintext"])
		if err != nil {
			fail(w, http.StatusBadRequest, "plaintext is not base64")
			return
		}
		nonce := make([]byte, key.NonceSize())
		rand.Read(nonce)
		out["ciphertext"] = "vault:v1:" + base64.StdEncoding.EncodeToString(key.Seal(nonce, nonce, pt, ad))
	} else {
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(in["ciphertext"], "vault:v1:"))
		if err != nil || len(raw) < key.NonceSize() {
			fail(w, http.StatusBadRequest, "invalid ciphertext")
			return
		}
		pt, err := key.Open(nil, raw[:key.NonceSize()], raw[key.NonceSize():], ad)
		if err != nil {
			fail(w, http.StatusBadRequest, "cipher: message authentication failed")
			return
		}
		out["plaintext"] = base64.StdEncoding.EncodeToString(pt)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"data": out})
}
