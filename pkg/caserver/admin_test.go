package caserver_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sentinel-zt/sentinel/pkg/ca"
	"github.com/sentinel-zt/sentinel/pkg/caserver"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
)

// httpsClient trusts the fixture's root and presents cert, if any.
func (f *fixture) httpsClient(cert *tls.Certificate) *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(f.ca.Root())
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}}
}

func call(t *testing.T, c *http.Client, method, url string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

func TestAdminEndpoints(t *testing.T) {
	f := newFixture(t, nil)
	adm, err := f.ca.IssueAdmin("ops", 0)
	if err != nil {
		t.Fatal(err)
	}
	admCert, err := tls.X509KeyPair(adm.CertPEM, adm.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	admin := f.httpsClient(&admCert)

	// The good path: inventory, a token, a revocation.
	code, body := call(t, admin, "GET", f.url+"/sentinel/v1/inventory?role=server", nil)
	var recs []ca.Record
	if code != 200 || json.Unmarshal(body, &recs) != nil || len(recs) != 1 || recs[0].Name != "server1" {
		t.Fatalf("inventory: %d %s", code, body)
	}
	code, body = call(t, admin, "POST", f.url+"/sentinel/v1/tokens", caserver.TokenRequest{
		Role: certattrs.RoleClient, Name: "alice", Spec: ca.TokenSpec{Server: "server1", Target: "10.0.0.5:3306"}, Uses: 2})
	var tr caserver.TokenResponse
	if code != 201 || json.Unmarshal(body, &tr) != nil || tr.Record.MaxUses != 2 {
		t.Fatalf("new token: %d %s", code, body)
	}
	if _, err := f.sign(tr.Token, newCSR(t, p256(t), nil)); err != nil {
		t.Fatalf("token made over the admin API: %v", err)
	}
	code, body = call(t, admin, "GET", f.url+"/sentinel/v1/tokens", nil)
	if code != 200 || !strings.Contains(string(body), tr.Record.ID) {
		t.Errorf("tokens: %d %s", code, body)
	}
	code, body = call(t, admin, "POST", f.url+"/sentinel/v1/revoke", caserver.RevokeRequest{Ref: "alice", Reason: "superseded"})
	if code != 200 || !strings.Contains(string(body), `"reason":"superseded"`) {
		t.Errorf("revoke: %d %s", code, body)
	}
	if code, body = call(t, admin, "POST", f.url+"/sentinel/v1/revoke", caserver.RevokeRequest{Ref: "nobody"}); code != 404 {
		t.Errorf("revoke unknown: %d %s", code, body)
	}

	// Refusals: no certificate, a revoked admin (role certificates: below).
	if code, body := call(t, f.httpsClient(nil), "GET", f.url+"/sentinel/v1/inventory", nil); code != 401 || !strings.Contains(string(body), caserver.CodeNotAdmin) {
		t.Errorf("no certificate: %d %s", code, body)
	}
	if _, err := f.ca.RevokeAdmin("ops"); err != nil {
		t.Fatal(err)
	}
	if code, body := call(t, admin, "GET", f.url+"/sentinel/v1/inventory", nil); code != 403 || !strings.Contains(string(body), "revoked") {
		t.Errorf("revoked admin: %d %s", code, body)
	}
}

func mustLeaf(t *testing.T, r interface {
	Leaf() (*x509.Certificate, []byte, error)
}) *x509.Certificate {
	t.Helper()
	l, _, err := r.Leaf()
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestAdminRefusesRoleCertificates: a client certificate of this CA (it may do mTLS: clientAuth)
// is not an admin certificate.
func TestAdminRefusesRoleCertificates(t *testing.T) {
	f := newFixture(t, nil)
	key := p256(t)
	resp, err := f.sign(f.clientToken("alice", nil), newCSR(t, key, nil))
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{mustLeaf(t, resp).Raw}, PrivateKey: key}
	code, body := call(t, f.httpsClient(&cert), "GET", f.url+"/sentinel/v1/inventory", nil)
	if code != 403 || !strings.Contains(string(body), caserver.CodeNotAdmin) {
		t.Errorf("client certificate as admin: %d %s", code, body)
	}
	// The same certificate may renew itself over mTLS, step-ca style.
	code, body = call(t, f.httpsClient(&cert), "POST", f.url+"/1.0/renew", nil)
	if code != 201 {
		t.Errorf("mTLS renewal: %d %s", code, body)
	}
}

// TestCRLOverPlainHTTP: the CRL answers plain HTTP on the TLS port, follows revocations, and
// honours If-None-Match; nothing else answers plain HTTP.
func TestCRLOverPlainHTTP(t *testing.T) {
	f := newFixture(t, nil)
	plain := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	base := "http://" + strings.TrimPrefix(f.url, "https://")
	get := func(etag string) (*http.Response, *x509.RevocationList) {
		req, _ := http.NewRequest("GET", base+"/crl", nil)
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		resp, err := plain.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			return resp, nil
		}
		crl, err := x509.ParseRevocationList(data)
		if err != nil {
			t.Fatal(err)
		}
		if err := crl.CheckSignatureFrom(f.ca.Root()); err != nil {
			t.Fatal(err)
		}
		return resp, crl
	}
	resp, crl := get("")
	if len(crl.RevokedCertificateEntries) != 0 {
		t.Fatalf("fresh CRL has %d entries", len(crl.RevokedCertificateEntries))
	}
	if again, _ := get(resp.Header.Get("ETag")); again.StatusCode != http.StatusNotModified {
		t.Errorf("unchanged CRL: %d, want 304", again.StatusCode)
	}
	if _, err := f.ca.Revoke("relay1", ca.RevokeOptions{}); err != nil {
		t.Fatal(err)
	}
	resp2, crl2 := get(resp.Header.Get("ETag"))
	if resp2.StatusCode != 200 || len(crl2.RevokedCertificateEntries) != 1 || crl2.Number.Cmp(crl.Number) <= 0 {
		t.Errorf("CRL after a revocation: %d", resp2.StatusCode)
	}
	if code, body := call(t, plain, "POST", base+"/1.0/sign", map[string]string{}); code != 403 || !strings.Contains(string(body), "https_required") {
		t.Errorf("plain-HTTP sign: %d %s", code, body)
	}
}
