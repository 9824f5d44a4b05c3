package tunnel_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/sentinel-zt/sentinel/pkg/tunnel"
	"github.com/sentinel-zt/sentinel/pkg/wsconn"
)

// layers are the stacks a session's multiplexer can run on, from the bare TLS session to the
// tunnel's (end-to-end TLS over a WebSocket), with and without gathering each multiplexer
// frame into one WebSocket message.
var layers = []string{"tls", "tls-ws", "tls-ws-corked"}

// muxPair returns client and server sessions (tunnel.MuxConfig) over 127.0.0.1 with layer.
func muxPair(b *testing.B, layer string) (client, server *yamux.Session) {
	b.Helper()
	certSrv := httptest.NewUnstartedServer(nil)
	certSrv.StartTLS() // for a certificate and a pool that trusts it
	serverTLS := certSrv.TLS.Clone()
	clientTLS := &tls.Config{RootCAs: certSrv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs, ServerName: "example.com"}
	certSrv.Close()

	var cc, sc net.Conn
	var cws, sws *wsconn.Conn
	if layer == "tls" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		accepted := make(chan net.Conn, 1)
		go func() {
			c, _ := ln.Accept()
			accepted <- c
		}()
		if cc, err = net.Dial("tcp", ln.Addr().String()); err != nil {
			b.Fatal(err)
		}
		sc = <-accepted
	} else {
		up := wsconn.Upgrader()
		conns := make(chan *wsconn.Conn, 1)
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ws, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			conns <- wsconn.New(ws, wsconn.Options{})
		}))
		b.Cleanup(hs.Close)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ws, _, err := wsconn.Dial(ctx, "ws"+strings.TrimPrefix(hs.URL, "http"), nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		cws, sws = wsconn.New(ws, wsconn.Options{}), <-conns
		cc, sc = cws, sws
	}
	ct, st := tls.Client(cc, clientTLS), tls.Server(sc, serverTLS)
	errc := make(chan error, 1)
	go func() { errc <- st.Handshake() }()
	if err := ct.Handshake(); err != nil {
		b.Fatal(err)
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	var cm, sm net.Conn = ct, st
	if layer == "tls-ws-corked" {
		cm, sm = tunnel.MuxTransport(ct, cws), tunnel.MuxTransport(st, sws)
	}
	var err error
	if client, err = yamux.Client(cm, tunnel.MuxConfig()); err != nil {
		b.Fatal(err)
	}
	if server, err = yamux.Server(sm, tunnel.MuxConfig()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// BenchmarkMuxThroughput is one stream carrying 128 KiB writes.
func BenchmarkMuxThroughput(b *testing.B) {
	for _, layer := range layers {
		b.Run(layer, func(b *testing.B) {
			client, server := muxPair(b, layer)
			done := make(chan error, 1)
			go func() {
				st, err := server.AcceptStream()
				if err != nil {
					done <- err
					return
				}
				_, err = io.Copy(io.Discard, st)
				done <- err
			}()
			st, err := client.OpenStream()
			if err != nil {
				b.Fatal(err)
			}
			chunk := make([]byte, 128<<10)
			b.SetBytes(int64(len(chunk)))
			for b.Loop() {
				if _, err := st.Write(chunk); err != nil {
					b.Fatal(err)
				}
			}
			st.Close()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkMuxRoundTrip is a 32-byte request and its echo on one stream.
func BenchmarkMuxRoundTrip(b *testing.B) {
	for _, layer := range layers {
		b.Run(layer, func(b *testing.B) {
			client, server := muxPair(b, layer)
			go func() {
				st, err := server.AcceptStream()
				if err != nil {
					return
				}
				_, _ = io.Copy(st, st)
				st.Close()
			}()
			st, err := client.OpenStream()
			if err != nil {
				b.Fatal(err)
			}
			msg := make([]byte, 32)
			for b.Loop() {
				if _, err := st.Write(msg); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(st, msg); err != nil {
					b.Fatal(err)
				}
			}
			st.Close()
		})
	}
}

// BenchmarkStreamOpen is what a new connection over a warm session costs the multiplexer: open
// a stream, the server accepts it and answers the status line, the client reads it.
func BenchmarkStreamOpen(b *testing.B) {
	for _, layer := range layers {
		b.Run(layer, func(b *testing.B) {
			client, server := muxPair(b, layer)
			go func() {
				for {
					st, err := server.AcceptStream()
					if err != nil {
						return
					}
					go func() {
						_ = tunnel.WriteStatus(st, nil)
						_, _ = io.Copy(io.Discard, st)
						st.Close()
					}()
				}
			}()
			for b.Loop() {
				st, err := client.OpenStream()
				if err != nil {
					b.Fatal(err)
				}
				if err := tunnel.ReadStatus(st); err != nil {
					b.Fatal(err)
				}
				st.Close()
			}
		})
	}
}

// BenchmarkStatusLine writes and parses the server's answer to a new stream.
func BenchmarkStatusLine(b *testing.B) {
	deny := tunnel.Deny(http.StatusForbidden, tunnel.CodeNotAllowed, "target 10.0.0.9:22 is outside this server's resources")
	for _, c := range []struct {
		name string
		d    *tunnel.DenyError
	}{{"ok", nil}, {"deny", deny}} {
		b.Run(c.name, func(b *testing.B) {
			var buf bytes.Buffer
			b.ReportAllocs()
			for b.Loop() {
				buf.Reset()
				if err := tunnel.WriteStatus(&buf, c.d); err != nil {
					b.Fatal(err)
				}
				if err := tunnel.ReadStatus(&buf); (err == nil) != (c.d == nil) {
					b.Fatal(err)
				}
			}
		})
	}
}
