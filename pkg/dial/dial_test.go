package dial

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/sentinel-zt/sentinel/internal/testpki"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/identity"
	"github.com/sentinel-zt/sentinel/pkg/token"
	"github.com/sentinel-zt/sentinel/pkg/tunnel"
	"github.com/sentinel-zt/sentinel/pkg/wsconn"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestWebSocketSendsAVerifiableToken: the request carries a token the receiving side accepts
// for exactly the audience, server and session asked for.
func TestWebSocketSendsAVerifiableToken(t *testing.T) {
	ca := testpki.NewCA(t, "dial unit")
	server := uuid.NewString()
	leaf := ca.Issue(t, certattrs.Attrs{Client: &certattrs.Client{
		Port: 48080, Server: certattrs.ServerRef{UUID: server, Name: "s"}, Target: certattrs.Target{Host: "10.0.0.1", Port: 1},
	}}, testpki.Opts{})
	id, err := identity.Parse(leaf.CertPEM, leaf.KeyPEM, ca.PEM)
	if err != nil {
		t.Fatal(err)
	}
	aud := uuid.NewString()
	verified := make(chan *token.Verified, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := &token.Verifier{Roots: ca.Pool, Audience: aud, Replay: token.NewReplayCache(8)}
		got, err := v.Verify(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), certattrs.RoleClient)
		if err != nil || r.URL.Path != tunnel.PathClient || r.URL.Query().Get(tunnel.QueryServer) != server {
			http.Error(w, "refused", http.StatusForbidden)
			return
		}
		verified <- got
		ws, err := wsconn.Upgrader().Upgrade(w, r, http.Header{tunnel.HeaderSession: {"s1"}})
		if err == nil {
			_ = ws.Close()
		}
	}))
	defer srv.Close()

	req := Request{
		Addr: strings.Replace(srv.URL, "http://", "ws://", 1), Path: tunnel.PathClient,
		Query: url.Values{tunnel.QueryServer: {server}}, Audience: aud, Server: server,
		Identity: id, Roots: func() *x509.CertPool { return ca.Pool },
	}
	conn, resp, err := WebSocket(context.Background(), req, wsconn.Options{})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	_ = conn.Close()
	if resp.Header.Get(tunnel.HeaderSession) != "s1" {
		t.Fatal("the upgrade response is not returned to the caller")
	}
	v := <-verified
	if v.Claims.Audience != aud || v.Claims.Server != server || v.Claims.Session != "" {
		t.Fatalf("claims %+v", v.Claims)
	}

	// A refusal comes back with its response, so callers can tell refused from unreachable.
	req.Audience = uuid.NewString()
	_, resp, err = WebSocket(context.Background(), req, wsconn.Options{})
	var refused *wsconn.RefusedError
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden || !errors.As(err, &refused) {
		t.Fatalf("refused dial: resp %v, err %v", resp, err)
	}
}
