// Package softhsmtest gives tests a fresh SoftHSM2 token in a temporary directory, so the
// PKCS#11 code runs against a real PKCS#11 module. Without SoftHSM2 the test skips with a
// message saying what to install; under KYSO_REQUIRE_ALL=1 (CI) it fails instead.
package softhsmtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Module paths where Debian and others install SoftHSM2.
var modules = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/local/lib/softhsm/libsofthsm2.so",
}

// Token is an initialised SoftHSM2 token.
type Token struct {
	Module string
	Label  string
	PIN    string
	Conf   string // the SOFTHSM2_CONF file
}

// New initialises a token labelled "kyso" with PIN 123456 in t's temp dir and points
// SOFTHSM2_CONF at it for the rest of the test (so the test cannot be parallel).
func New(t testing.TB) *Token {
	t.Helper()
	util, err := exec.LookPath("softhsm2-util")
	module := ""
	for _, m := range modules {
		if _, err := os.Stat(m); err == nil {
			module = m
			break
		}
	}
	if err != nil || module == "" {
		if os.Getenv("KYSO_REQUIRE_ALL") != "" {
			t.Fatal("SoftHSM2 is required (KYSO_REQUIRE_ALL is set): apt-get install softhsm2")
		}
		t.Skip("SoftHSM2 not found; install it to run the HSM tests: apt-get install softhsm2")
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "softhsm2.conf")
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	tok := &Token{Module: module, Label: "kyso", PIN: "123456", Conf: conf}
	out, err := exec.Command(util, "--init-token", "--free", "--label", tok.Label, "--pin", tok.PIN, "--so-pin", "654321").CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
	}
	return tok
}
