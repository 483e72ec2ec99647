package tests

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-dev/kyso/apiclient"
	"github.com/kyso-dev/kyso/cmd/kyso/app"
	"github.com/kyso-dev/kyso/signing"
	boltstore "github.com/kyso-dev/kyso/store/bbolt"
	bolt "go.etcd.io/bbolt"
)

// licensedCA is a CA made with the openssl command line, standing in for a licensed CA.
type licensedCA struct {
	dir, cert, key string
}

func newLicensedCA(t *testing.T, name string) *licensedCA {
	t.Helper()
	openssl := requireTool(t, "openssl", "openssl")
	dir := t.TempDir()
	ca := &licensedCA{dir: dir, cert: filepath.Join(dir, "ca.pem"), key: filepath.Join(dir, "ca.key")}
	out, err := exec.Command(openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", ca.key, "-out", ca.cert, "-days", "3650", "-subj", "/CN="+name+"/O=Test CA/C=VN",
		"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl CA: %v\n%s", err, out)
	}
	return ca
}

// issue has the CA sign a DER CSR (after openssl checks the CSR's own signature) and
// returns the PEM certificate file.
func (ca *licensedCA) issue(t *testing.T, csrDER []byte, name string) string {
	t.Helper()
	openssl := requireTool(t, "openssl", "openssl")
	csr := filepath.Join(ca.dir, name+".csr")
	cert := filepath.Join(ca.dir, name+".pem")
	must(t, os.WriteFile(csr, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER}), 0o600))
	if out, err := exec.Command(openssl, "req", "-verify", "-in", csr, "-noout").CombinedOutput(); err != nil ||
		!strings.Contains(string(out), "verify OK") {
		t.Fatalf("openssl req -verify: %v\n%s", err, out)
	}
	ext := filepath.Join(ca.dir, "ext.cnf")
	must(t, os.WriteFile(ext, []byte("keyUsage=critical,digitalSignature,nonRepudiation\n"), 0o600))
	if out, err := exec.Command(openssl, "x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial",
		"-days", "365", "-extfile", ext, "-out", cert).CombinedOutput(); err != nil {
		t.Fatalf("openssl x509 -req: %v\n%s", err, out)
	}
	if out, err := exec.Command(openssl, "verify", "-CAfile", ca.cert, cert).CombinedOutput(); err != nil {
		t.Fatalf("openssl verify: %v\n%s", err, out)
	}
	return cert
}

func pemDER(t *testing.T, file string) []byte {
	raw, err := os.ReadFile(file)
	must(t, err)
	b, _ := pem.Decode(raw)
	return b.Bytes
}

func TestExternalCA(t *testing.T) {
	ca := newLicensedCA(t, "Licensed CA")
	e := startEnv(t, func(c *app.Config) { c.CATrustFile = ca.cert })
	rp, _ := e.newRP("Portal")
	ctx := context.Background()
	token := filepath.Join(e.dir, app.OperatorTokenFile)
	admin := []string{"admin", "--server", e.url, "--token-file", token}
	uid := e.newUser("079088001234", "Phạm Thị C")

	// 1. A CSR for a server-held key, with CN and serialNumber from the user, C=VN.
	var cred credential
	var pending struct {
		ID, Status string
		CSR        []byte
	}
	kyso(t, &pending, append(admin, "credentials", "create", uid, "--key-algorithm", "RSA-2048", "--issuer", "external")...)
	if pending.Status != "pending_certificate" || len(pending.CSR) == 0 {
		t.Fatalf("pending credential: %+v", pending)
	}
	csr, err := x509.ParseCertificateRequest(pending.CSR)
	must(t, err)
	if csr.Subject.CommonName != "Phạm Thị C" || csr.Subject.SerialNumber != "079088001234" || csr.Subject.Country[0] != "VN" {
		t.Fatalf("CSR subject %s", csr.Subject)
	}
	dev := e.enroll(uid, "android")
	req := request(signer{nationalID: "079088001234"}, "SHA-256", "", digests(1, "SHA-256"))
	_, err = rp.CreateSignature(ctx, req, "")
	wantCode(t, err, "NO_ACTIVE_CREDENTIAL") // no certificate yet

	// 2. The CA issues; refused imports first.
	other := newLicensedCA(t, "Unknown CA")
	var second struct {
		ID  string
		CSR []byte
	}
	kyso(t, &second, append(admin, "credentials", "create", uid, "--issuer", "external")...)
	goodCert := ca.issue(t, pending.CSR, "good")
	importCert := func(id string, der []byte) error {
		return e.op.Do(ctx, "POST", "/admin/v1/credentials/"+id+"/certificate", map[string]any{"certificate": der, "chain": [][]byte{}}, nil, nil)
	}
	if err := importCert(second.ID, pemDER(t, goodCert)); apiCode(err) != "CERTIFICATE_REJECTED" || !strings.Contains(err.Error(), "another key") {
		t.Fatalf("mismatched key: %v", err)
	}
	if err := importCert(second.ID, pemDER(t, other.issue(t, second.CSR, "untrusted"))); apiCode(err) != "CERTIFICATE_REJECTED" || !strings.Contains(err.Error(), "chain") {
		t.Fatalf("untrusted chain: %v", err)
	}
	if err := importCert(second.ID, expiredCert(t, ca, second.CSR)); apiCode(err) != "CERTIFICATE_REJECTED" || !strings.Contains(err.Error(), "not valid now") {
		t.Fatalf("expired certificate: %v", err)
	}

	// 3. The right import activates the credential; signatures verify against the CA's certificate.
	kyso(t, &cred, append(admin, "credentials", "import-certificate", pending.ID, "--certificate", goodCert)...)
	if cred.Status != "active" {
		t.Fatalf("after import: %+v", cred)
	}
	hashes := digests(1, "SHA-256")
	req.Documents[0].Hash = hashes[0]
	sess, err := rp.CreateSignature(ctx, req, "")
	must(t, err)
	_, err = dev.Decide(ctx, sess.ID, true, "")
	must(t, err)
	got, err := rp.Signature(ctx, sess.ID, 0)
	must(t, err)
	if got.State != "signed" || !bytes.Equal(got.Certificate, pemDER(t, goodCert)) {
		t.Fatalf("signed with %s", got.State)
	}
	verifyOpenSSL(t, got.Certificate, "RSASSA-PSS", "SHA-256", hashes[0], got.Documents[0].Signature)

	// 4. Suspended and expired credentials refuse to sign, with clear codes.
	kyso(t, nil, append(admin, "credentials", "suspend", pending.ID, "--reason", "investigation")...)
	_, err = rp.CreateSignature(ctx, req, "")
	wantCode(t, err, "NO_ACTIVE_CREDENTIAL")
	req.CredentialID = pending.ID
	_, err = rp.CreateSignature(ctx, req, "")
	wantCode(t, err, "CREDENTIAL_SUSPENDED")
	kyso(t, nil, append(admin, "credentials", "resume", pending.ID)...)
	_, err = rp.CreateSignature(ctx, req, "")
	must(t, err)                          // usable again
	e.clock.Advance(366 * 24 * time.Hour) // past the certificate's notAfter
	_, err = rp.CreateSignature(ctx, req, "")
	wantCode(t, err, "CREDENTIAL_EXPIRED")
}

// TestRevokedCredentialIsShredded: revoking destroys the key — no trace of its wrapped blob
// remains in the store file — and a session already waiting fails instead of signing.
func TestRevokedCredentialIsShredded(t *testing.T) {
	e := startEnv(t)
	rp, _ := e.newRP("Portal")
	s := e.newSigner("001", "EC-P256")
	ctx := context.Background()
	sess, err := rp.CreateSignature(ctx, request(s, "SHA-256", "", digests(1, "SHA-256")), "")
	must(t, err)
	blob := storedWrappedKey(t, e, s.cred.ID)
	forms := [][]byte{blob, []byte(base64.StdEncoding.EncodeToString(blob))} // binary records, and JSON ones of older files
	if file, err := os.ReadFile(filepath.Join(e.dir, app.StoreFile)); err != nil || !bytes.Contains(file, blob) {
		t.Fatalf("before revocation the wrapped blob is not found in the store file (%v): the search below proves nothing", err)
	}

	var revoked struct{ Status string }
	must(t, e.op.Do(ctx, "POST", "/admin/v1/credentials/"+s.cred.ID+"/revoke", map[string]string{"reason": "key compromise"}, &revoked, nil))
	if revoked.Status != "revoked" {
		t.Fatalf("revoke: %+v", revoked)
	}
	// Look at the file at once, before later writes could reuse the freed pages by chance.
	e.stop()
	file, err := os.ReadFile(filepath.Join(e.dir, app.StoreFile))
	must(t, err)
	// Any 48-byte run of the blob, raw or in base64.
	for _, form := range forms {
		for i := 0; i+48 <= len(form); i += 48 {
			if bytes.Contains(file, form[i:i+48]) {
				t.Fatal("the destroyed key's wrapped blob is still in the store file")
			}
		}
	}
	e.start()
	st, err := s.dev.Decide(ctx, sess.ID, true, "")
	must(t, err)
	got, _ := rp.Signature(ctx, sess.ID, 0)
	if st != "failed" || got.Error == nil || got.Error.Code != "CREDENTIAL_REVOKED" || got.Documents[0].Signature != nil {
		t.Fatalf("a waiting session after revocation: %s %+v", st, got.Error)
	}
	_, err = rp.CreateSignature(ctx, apiclient.SignatureRequest{NationalID: "001", CredentialID: s.cred.ID, HashAlgorithm: "SHA-256",
		Documents: []apiclient.Document{{Label: "a", Hash: digests(1, "SHA-256")[0]}}, DisplayText: "x"}, "")
	wantCode(t, err, "CREDENTIAL_REVOKED")

	e.stop()
	var audit bytes.Buffer
	db, err := bolt.Open(filepath.Join(e.dir, app.StoreFile), 0o600, &bolt.Options{ReadOnly: true})
	must(t, err)
	db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("audit")).ForEach(func(_, v []byte) error { audit.Write(v); return nil })
	})
	db.Close()
	if !strings.Contains(audit.String(), "credential.revoked_key_destroyed") {
		t.Fatal("the audit log does not keep the destruction")
	}
}

// storedWrappedKey reads a credential's wrapped key from the store file (stopping and
// restarting the server around it).
func storedWrappedKey(t *testing.T, e *env, credID string) []byte {
	t.Helper()
	e.stop()
	c := storedCredential(t, e, credID)
	e.start()
	if len(c.WrappedKey) < 64 {
		t.Fatalf("no wrapped key stored for %s", credID)
	}
	return c.WrappedKey
}

// storedCredential reads a credential as it is in the store file of the stopped server.
func storedCredential(t *testing.T, e *env, credID string) *signing.Credential {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(e.dir, app.StoreFile), boltstore.Options{})
	must(t, err)
	defer st.Close()
	c, err := st.Credential(context.Background(), credID)
	must(t, err)
	return c
}

// expiredCert has the CA sign the CSR's key with a validity that ended yesterday.
func expiredCert(t *testing.T, ca *licensedCA, csrDER []byte) []byte {
	t.Helper()
	csr, err := x509.ParseCertificateRequest(csrDER)
	must(t, err)
	caCert, err := x509.ParseCertificate(pemDER(t, ca.cert))
	must(t, err)
	key, err := x509.ParsePKCS8PrivateKey(pemDER(t, ca.key))
	must(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(42), Subject: pkix.Name{CommonName: csr.Subject.CommonName},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, csr.PublicKey, key)
	must(t, err)
	return der
}
