package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/kyso-dev/kyso/audit"
	"github.com/kyso-dev/kyso/signing"
)

// runAudit implements "kyso audit verify": it reads the whole audit log through the operator
// API, page by page, and checks the hash chain.
func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		return usagef("audit: the only command is: kyso audit verify --server URL --token-file FILE")
	}
	fs := newFlags("audit verify", stderr)
	server := fs.String("server", "http://127.0.0.1:8080", "Kyso server URL")
	tokenFile := fs.String("token-file", "", "file holding an operator token")
	if err := flagsOnly(fs, args[1:]); err != nil {
		return err
	}
	if err := required(fs, "token-file"); err != nil {
		return err
	}
	c, err := operatorClient(*server, *tokenFile)
	if err != nil {
		return err
	}
	var v audit.Verifier
	for {
		seq, _ := v.Head()
		var page struct{ Records []signing.AuditRecord }
		if err := c.Do(ctx, http.MethodGet, fmt.Sprintf("/admin/v1/audit?after=%d&limit=1000", seq), nil, &page, nil); err != nil {
			return err
		}
		if err := v.Add(page.Records); err != nil {
			return err
		}
		if len(page.Records) < 1000 {
			break
		}
	}
	seq, head := v.Head()
	return printJSON(stdout, map[string]any{"verified": v.Count(), "lastSeq": seq, "headHash": fmt.Sprintf("%x", head)})
}
