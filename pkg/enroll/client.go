package enroll

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// SignResponse is the online CA's answer to /1.0/sign and /1.0/renew: PEM certificates, the
// leaf first.
type SignResponse struct {
	ServerPEM    string   `json:"crt"`
	CaPEM        string   `json:"ca"`
	CertChainPEM []string `json:"certChain"`
}

// Leaf parses the response's leaf certificate.
func (r SignResponse) Leaf() (*x509.Certificate, []byte, error) {
	b, _ := pem.Decode([]byte(r.ServerPEM))
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, nil, errors.New("response holds no certificate")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("response certificate: %w", err)
	}
	return c, pem.EncodeToMemory(b), nil
}

// RefusedError is a refusal by the online CA: HTTP status, the reason code its message starts
// with ("token_used", "token_expired", "wrong_ca", "revoked", ...) and the message.
type RefusedError struct {
	Status  int
	Code    string
	Message string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("CA refused (%d): %s", e.Status, e.Message)
}

// Code returns the refusal code in err's chain, or "".
func Code(err error) string {
	var r *RefusedError
	if errors.As(err, &r) {
		return r.Code
	}
	return ""
}

// Endpoint is a parsed online CA URL: https, a host, no path beyond "/".
func Endpoint(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("ca url %q: %w", raw, err)
	}
	if u.Scheme != "https" {
		return nil, fmt.Errorf("ca url %q: want https://HOST[:PORT]", raw)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.Trim(u.Path, "/") != "" {
		return nil, fmt.Errorf("ca url %q: want https://HOST[:PORT] and nothing else", raw)
	}
	u.Path = ""
	return u, nil
}

// Client talks to the online CA over TLS trusting only its root.
type Client struct {
	base *url.URL
	http *http.Client
}

// DialFunc dials the CA (tests point it elsewhere); nil = net.Dialer.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

func newTransport(cfg *tls.Config, dial DialFunc) *http.Transport {
	if dial == nil {
		dial = (&net.Dialer{Timeout: 10 * time.Second}).DialContext
	}
	return &http.Transport{
		DialContext:         dial,
		TLSClientConfig:     cfg,
		TLSHandshakeTimeout: 10 * time.Second,
		ForceAttemptHTTP2:   true,
		// One request at a time, seldom: nothing to keep alive, no idle goroutines to own.
		DisableKeepAlives: true,
	}
}

// NewClient returns a client of the CA at base that trusts only root.
func NewClient(base *url.URL, root *x509.Certificate, dial DialFunc) *Client {
	pool := x509.NewCertPool()
	pool.AddCert(root)
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12, ServerName: base.Hostname()}
	return &Client{base: base, http: &http.Client{Timeout: 30 * time.Second, Transport: newTransport(cfg, dial)}}
}

// FetchRoot fetches the CA's root and checks it against the pinned SHA-256 fingerprint: the
// connection is not trusted until the root it returns hashes to fp, and everything after it
// runs on a connection that trusts only that root.
func FetchRoot(ctx context.Context, base *url.URL, fp string, dial DialFunc) (*x509.Certificate, error) {
	// Unverified on purpose, like step-ca's bootstrap: the answer is checked against the pin.
	cfg := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12} //nolint:gosec // pinned below
	hc := &http.Client{Timeout: 30 * time.Second, Transport: newTransport(cfg, dial)}
	var out struct {
		CA string `json:"ca"`
	}
	if err := do(ctx, hc, http.MethodGet, base.JoinPath("root", fp).String(), nil, nil, &out); err != nil {
		return nil, fmt.Errorf("fetch root %s: %w", shortFP(fp), err)
	}
	b, _ := pem.Decode([]byte(out.CA))
	if b == nil {
		return nil, fmt.Errorf("fetch root %s: no certificate in the answer", shortFP(fp))
	}
	sum := sha256.Sum256(b.Bytes)
	if got := hex.EncodeToString(sum[:]); got != fp {
		return nil, fmt.Errorf("%s answered with root %s, the token pins %s: not the CA the token is for",
			base.Host, shortFP(got), shortFP(fp))
	}
	root, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("root: %w", err)
	}
	if !root.IsCA {
		return nil, errors.New("root: not a CA certificate")
	}
	return root, nil
}

func shortFP(fp string) string {
	if len(fp) > 16 {
		return fp[:16] + "..."
	}
	return fp
}

// Sign posts a CSR with an enrollment token.
func (c *Client) Sign(ctx context.Context, csrPEM []byte, token string) (*SignResponse, error) {
	var out SignResponse
	body := map[string]string{"csr": string(csrPEM), "ott": token}
	if err := do(ctx, c.http, http.MethodPost, c.base.JoinPath("1.0", "sign").String(), body, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Renew posts a renewal with a Bearer token signed by the certificate's key.
func (c *Client) Renew(ctx context.Context, bearer string) (*SignResponse, error) {
	var out SignResponse
	h := http.Header{"Authorization": {"Bearer " + bearer}}
	if err := do(ctx, c.http, http.MethodPost, c.base.JoinPath("1.0", "renew").String(), nil, h, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CloseIdleConnections releases the transport.
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

func do(ctx context.Context, hc *http.Client, method, u string, body any, h http.Header, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, u, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Status  int    `json:"status"`
			Message string `json:"message"`
		}
		msg := strings.TrimSpace(string(data))
		if json.Unmarshal(data, &e) == nil && e.Message != "" {
			msg = e.Message
		}
		code, _, ok := strings.Cut(msg, ": ")
		if !ok || strings.ContainsAny(code, " .") {
			code = ""
		}
		return &RefusedError{Status: resp.StatusCode, Code: code, Message: msg}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: answer: %w", method, u, err)
	}
	return nil
}
