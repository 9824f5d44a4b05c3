package e2e

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/hashicorp/yamux"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/sentinel-zt/sentinel/internal/testnet"
	"github.com/sentinel-zt/sentinel/internal/testpki"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/identity"
	"github.com/sentinel-zt/sentinel/pkg/server"
	"github.com/sentinel-zt/sentinel/pkg/tunnel"
	"github.com/sentinel-zt/sentinel/pkg/wsconn"
)

// rogueRelay is a relay a server registers with (its certificate lists it) that does what
// it likes with the control channel: the test sends opens by hand and gets the binds.
type rogueRelay struct {
	ref      certattrs.RelayRef
	controls chan *websocket.Conn
	binds    chan *websocket.Conn
}

func startRogueRelay(t *testing.T, e *env) *rogueRelay {
	t.Helper()
	ln := testnet.Listen(t)
	port := ln.Addr().(*net.TCPAddr).Port
	attrs := &certattrs.Relay{UUID: uuid.NewString(), Name: "relay-rogue", Address: "127.0.0.1", Port: port}
	leaf := e.ca.Issue(t, certattrs.Attrs{Relay: attrs}, testpki.Opts{IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})
	r := &rogueRelay{
		ref:      certattrs.RelayRef{UUID: attrs.UUID, Name: attrs.Name, Addr: "127.0.0.1", Port: port, Sort: 1},
		controls: make(chan *websocket.Conn, 4),
		binds:    make(chan *websocket.Conn, 4),
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	up := websocket.Upgrader{}
	hold := func(ch chan *websocket.Conn) http.HandlerFunc {
		return func(w http.ResponseWriter, req *http.Request) {
			ws, err := up.Upgrade(w, req, nil)
			if err != nil {
				return
			}
			ch <- ws
			<-ctx.Done() // the test owns the connection until the end
			_ = ws.Close()
		}
	}
	mux := http.NewServeMux()
	mux.Handle(tunnel.PathServer, hold(r.controls))
	mux.Handle(tunnel.PathBind, hold(r.binds))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx },
		ErrorLog: log.New(io.Discard, "", 0)}
	wg.Go(func() {
		_ = srv.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{leaf.TLS}, NextProtos: []string{"http/1.1"}}))
	})
	t.Cleanup(func() {
		cancel()
		_ = srv.Close()
		wg.Wait()
	})
	return r
}

func recvConn(t *testing.T, ch chan *websocket.Conn, what string) *websocket.Conn {
	t.Helper()
	select {
	case ws := <-ch:
		return ws
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s", what)
		return nil
	}
}

// TestAttackRelayReusesSessionID: a rogue relay (valid relay certificate, listed by the
// server) opens the same session id twice. The server refuses the second, which would
// otherwise replace the first in its registry and hide it from revocation: the first
// session is still closed when its client is revoked.
func TestAttackRelayReusesSessionID(t *testing.T) {
	e := newEnv(t, envOptions{})
	rogue := startRogueRelay(t, e)
	crl := fileCRL(t, e)
	srvLeaf := e.issueServer(t, func(s *certattrs.Server) { s.Relays = []certattrs.RelayRef{rogue.ref} }, testpki.Opts{})
	srvAttrs := srvLeaf.Attrs.Server
	id, err := identity.Parse(srvLeaf.CertPEM, srvLeaf.KeyPEM, e.ca.PEM)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{
		Identity: identity.NewStore(id), Revoked: crl.list(t, e),
		Log:   zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)),
		Audit: e.auditLogger("server", srvAttrs.UUID, srvAttrs.Name), Registry: prometheus.NewRegistry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, nil) }()
	t.Cleanup(func() {
		cancel()
		_ = srv.Close()
		if err := <-done; err != nil {
			t.Errorf("server serve: %v", err)
		}
	})
	victim := e.issueClient(t, func(c *certattrs.Client) {
		c.Server = certattrs.ServerRef{UUID: srvAttrs.UUID, Name: srvAttrs.Name}
		c.Relays = []certattrs.RelayRef{rogue.ref}
	}, testpki.Opts{})

	ctl := recvConn(t, rogue.controls, "registration")
	sid := tunnel.NewSessionID()
	// open sends the open for sid and plays the client over the bind.
	open := func() (*rawSession, error) {
		msg := append(tunnel.Control{Type: tunnel.MsgOpen, Session: sid, Client: victim.Attrs.Client.UUID}.Marshal(), '\n')
		if err := ctl.WriteMessage(websocket.BinaryMessage, msg); err != nil {
			t.Fatal(err)
		}
		bind := recvConn(t, rogue.binds, "bind")
		s := &rawSession{id: sid, conn: wsconn.New(bind, wsconn.Options{})}
		tc := tls.Client(s.conn, e.clientTLSFor(victim, srvAttrs.UUID))
		if err := tc.HandshakeContext(ctx); err != nil {
			s.Close()
			return nil, err
		}
		mux, err := yamux.Client(tc, tunnelMuxConfig())
		if err != nil {
			t.Fatal(err)
		}
		s.conn, s.mux = tc, mux
		if _, err := mux.Ping(); err != nil {
			s.Close()
			return nil, err
		}
		return s, nil
	}

	first, err := open()
	if err != nil {
		t.Fatalf("first session: %v", err)
	}
	defer first.Close()
	st, err := first.stream([]byte("first"))
	if err != nil {
		t.Fatalf("first session's stream: %v", err)
	}
	defer st.Close()

	mark := e.auditMark()
	if second, err := open(); err == nil {
		// The handshake may complete before the server drops the session: what counts is
		// that no stream gets through it.
		if st, err := second.stream([]byte("second")); err == nil {
			_ = st.Close()
			t.Error("the server carried a stream on a second session under a live session id")
		}
		second.Close()
	}
	want := denyEvent("server", tunnel.CodeBadSession)
	want["session"] = sid
	e.waitAudit(t, mark, want)

	since := time.Now()
	crl.publish(t, victim.Cert)
	waitClosed(t, st, since)
	e.waitAudit(t, mark, map[string]string{"event": "revoked.kill", "role": "server", "uuid": srvAttrs.UUID, "session": sid})
}
