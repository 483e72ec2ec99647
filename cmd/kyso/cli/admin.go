package cli

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
)

const adminUsage = `kyso admin --server URL --token-file FILE <resource> <verb> [flags]

  users create --national-id ID --display-name NAME [--phone P] [--email E] [--organization O]
  users get USER_ID
  users find --national-id ID
  credentials create USER_ID [--key-algorithm EC-P256|EC-P384|RSA-2048|RSA-3072] [--issuer external]
  credentials get CREDENTIAL_ID
  credentials import-certificate CREDENTIAL_ID --certificate FILE [--chain FILE]   (PEM or DER)
  credentials suspend|resume|revoke CREDENTIAL_ID [--reason TEXT]   (revoke destroys the key)
  activation-codes create USER_ID [--ttl-seconds N]
  devices list USER_ID
  devices revoke DEVICE_ID [--reason TEXT]
  relying-parties create --name NAME

Each prints the server's JSON answer.
`

func runAdmin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("admin", stderr)
	fs.Usage = func() { fmt.Fprint(stderr, adminUsage) }
	server := fs.String("server", "http://127.0.0.1:8080", "Kyso server URL")
	tokenFile := fs.String("token-file", "", "file holding the operator token (DATA/operator-token)")
	// Sub-command flags share the set; each verb checks the ones it needs.
	nid := fs.String("national-id", "", "national id")
	name := fs.String("display-name", "", "display name")
	phone := fs.String("phone", "", "phone number")
	email := fs.String("email", "", "e-mail address")
	org := fs.String("organization", "", "organization")
	keyAlg := fs.String("key-algorithm", "", "EC-P256 (default), EC-P384, RSA-2048 or RSA-3072")
	issuer := fs.String("issuer", "", "development (default) or external (a CSR for a licensed CA)")
	certFile := fs.String("certificate", "", "issued certificate, PEM or DER")
	chainFile := fs.String("chain", "", "issuing chain, PEM bundle (issuer first)")
	ttl := fs.Int("ttl-seconds", 0, "activation code lifetime in seconds (default 600)")
	reason := fs.String("reason", "", "why the device is revoked")
	rpName := fs.String("name", "", "relying party name")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := required(fs, "token-file"); err != nil {
		return err
	}
	if len(pos) < 2 {
		fs.Usage()
		return usagef("admin: give a resource and a verb")
	}
	c, err := operatorClient(*server, *tokenFile)
	if err != nil {
		return err
	}
	takes := 2 // resource and verb; arg adds the id
	arg := func() (string, error) {
		takes = 3
		if len(pos) < 3 || pos[2] == "" {
			return "", usagef("admin %s %s: give the id", pos[0], pos[1])
		}
		return url.PathEscape(pos[2]), nil
	}
	var method, path string
	var body any
	switch pos[0] + " " + pos[1] {
	case "users create":
		if err := required(fs, "national-id", "display-name"); err != nil {
			return err
		}
		method, path = http.MethodPost, "/admin/v1/users"
		body = map[string]string{"nationalId": *nid, "displayName": *name, "phone": *phone, "email": *email, "organization": *org}
	case "users get":
		id, err := arg()
		if err != nil {
			return err
		}
		method, path = http.MethodGet, "/admin/v1/users/"+id
	case "users find":
		if err := required(fs, "national-id"); err != nil {
			return err
		}
		method, path = http.MethodGet, "/admin/v1/users?nationalId="+url.QueryEscape(*nid)
	case "credentials create":
		id, err := arg()
		if err != nil {
			return err
		}
		method, path, body = http.MethodPost, "/admin/v1/users/"+id+"/credentials", map[string]string{"keyAlgorithm": *keyAlg, "issuer": *issuer}
	case "credentials get":
		id, err := arg()
		if err != nil {
			return err
		}
		method, path = http.MethodGet, "/admin/v1/credentials/"+id
	case "credentials import-certificate":
		id, err := arg()
		if err != nil {
			return err
		}
		if err := required(fs, "certificate"); err != nil {
			return err
		}
		in, err := readCertificates(*certFile, *chainFile)
		if err != nil {
			return err
		}
		method, path, body = http.MethodPost, "/admin/v1/credentials/"+id+"/certificate", in
	case "credentials suspend", "credentials resume", "credentials revoke":
		id, err := arg()
		if err != nil {
			return err
		}
		method, path, body = http.MethodPost, "/admin/v1/credentials/"+id+"/"+pos[1], map[string]string{"reason": *reason}
	case "activation-codes create":
		id, err := arg()
		if err != nil {
			return err
		}
		method, path, body = http.MethodPost, "/admin/v1/users/"+id+"/activation-codes", map[string]int{"ttlSeconds": *ttl}
	case "devices list":
		id, err := arg()
		if err != nil {
			return err
		}
		method, path = http.MethodGet, "/admin/v1/users/"+id+"/devices"
	case "devices revoke":
		id, err := arg()
		if err != nil {
			return err
		}
		method, path, body = http.MethodPost, "/admin/v1/devices/"+id+"/revoke", map[string]string{"reason": *reason}
	case "relying-parties create":
		if err := required(fs, "name"); err != nil {
			return err
		}
		method, path, body = http.MethodPost, "/admin/v1/relying-parties", map[string]string{"name": *rpName}
	default:
		fs.Usage()
		return usagef("admin: unknown command %q", pos[0]+" "+pos[1])
	}
	if err := noMoreThan("admin "+pos[0]+" "+pos[1], pos, takes); err != nil {
		return err
	}
	var out any
	if err := c.Do(ctx, method, path, body, &out, nil); err != nil {
		return err
	}
	return printJSON(stdout, out)
}

// readCertificates reads the leaf (PEM or DER) and the chain (PEM bundle) for import.
func readCertificates(certFile, chainFile string) (map[string]any, error) {
	ders := func(file string) ([][]byte, error) {
		raw, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		var out [][]byte
		for block, rest := pem.Decode(raw); block != nil; block, rest = pem.Decode(rest) {
			if block.Type == "CERTIFICATE" {
				out = append(out, block.Bytes)
			}
		}
		if len(out) == 0 {
			out = [][]byte{raw} // DER
		}
		return out, nil
	}
	leaf, err := ders(certFile)
	if err != nil {
		return nil, fmt.Errorf("read certificate: %w", err)
	}
	chain := [][]byte{}
	if chainFile != "" {
		if chain, err = ders(chainFile); err != nil {
			return nil, fmt.Errorf("read chain: %w", err)
		}
	}
	enc := func(list [][]byte) []string {
		out := make([]string, len(list))
		for i, d := range list {
			out[i] = base64.StdEncoding.EncodeToString(d)
		}
		return out
	}
	return map[string]any{"certificate": enc(leaf[:1])[0], "chain": enc(chain)}, nil
}
