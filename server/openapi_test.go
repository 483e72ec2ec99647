package server

import (
	"bufio"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestOpenAPIMatchesRoutes checks docs/openapi.yaml against the server: every route is
// documented, every documented operation is served, and every problem code the server can
// produce is listed.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	f, err := os.Open("../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pathRe := regexp.MustCompile(`^  (/[^:]*):\s*$`)
	opRe := regexp.MustCompile(`^    (get|post|put|delete|patch):\s*$`)
	codeRe := regexp.MustCompile(`^        - ([A-Z_]+)\s*$`)
	documented := map[string]bool{}
	codes := map[string]bool{}
	var current string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if m := pathRe.FindStringSubmatch(line); m != nil {
			current = m[1]
		} else if m := opRe.FindStringSubmatch(line); m != nil && current != "" {
			documented[strings.ToUpper(m[1])+" "+current] = true
		} else if strings.HasPrefix(line, "components:") {
			current = ""
		} else if m := codeRe.FindStringSubmatch(line); m != nil {
			codes[m[1]] = true
		}
	}
	served := map[string]bool{}
	s := New(nil, Config{})
	for _, r := range s.echo.Router().Routes() {
		p := regexp.MustCompile(`:([a-zA-Z]+)`).ReplaceAllString(r.Path, "{$1}")
		served[r.Method+" "+p] = true
	}
	for op := range served {
		if !documented[op] {
			t.Errorf("%s is served but not in docs/openapi.yaml", op)
		}
	}
	for op := range documented {
		if !served[op] {
			t.Errorf("%s is in docs/openapi.yaml but not served", op)
		}
	}
	if len(documented) == 0 {
		t.Fatal("no operations found in docs/openapi.yaml")
	}
	var missing []string
	for code := range statusOf {
		if !codes[code] {
			missing = append(missing, code)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("problem codes missing from ProblemCode in docs/openapi.yaml: %v", missing)
	}
}
