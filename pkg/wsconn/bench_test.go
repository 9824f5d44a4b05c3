package wsconn

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// drain reads r to its end with a 64 KiB buffer; io.EOF is not an error.
func drain(r io.Reader) error {
	buf := make([]byte, 64<<10)
	for {
		if _, err := r.Read(buf); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

// BenchmarkConnWrite measures Conn throughput over loopback: one Write per message.
func BenchmarkConnWrite(b *testing.B) {
	unlimited := Options{ReadLimit: -1}
	for _, dir := range []string{"client-server", "server-client"} {
		for _, size := range []int{16 << 10, 64 << 10, 256 << 10} {
			b.Run(fmt.Sprintf("%s/%dKiB", dir, size>>10), func(b *testing.B) {
				w, r := connPair(b, unlimited, unlimited)
				if dir == "server-client" {
					w, r = r, w
				}
				errc := make(chan error, 1)
				go func() { errc <- drain(r) }()
				msg := make([]byte, size)
				b.SetBytes(int64(size))
				for b.Loop() {
					if _, err := w.Write(msg); err != nil {
						b.Fatal(err)
					}
				}
				w.Close()
				if err := <-errc; err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}

// BenchmarkSplice measures a relay splice: Conn a writes messages, the splice copies them,
// Conn b reads them.
func BenchmarkSplice(b *testing.B) {
	unlimited := Options{ReadLimit: -1}
	for _, size := range []int{16 << 10, 64 << 10, 256 << 10} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			wa, wb, res := spliceSetup(b, context.Background(), unlimited)
			a, c := New(wa, unlimited), New(wb, unlimited)
			errc := make(chan error, 1)
			go func() { errc <- drain(c) }()
			msg := make([]byte, size)
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, err := a.Write(msg); err != nil {
					b.Fatal(err)
				}
			}
			a.Close()
			if err := <-errc; err != nil {
				b.Fatal(err)
			}
			c.Close()
			if r := <-res; r.err != nil {
				b.Fatal(r.err)
			}
		})
	}
}

// BenchmarkConnRoundTrip is a 32-byte message and its echo over a Conn pair.
func BenchmarkConnRoundTrip(b *testing.B) {
	c, s := connPair(b, Options{}, Options{})
	go func() { _, _ = io.Copy(s, s) }()
	msg := make([]byte, 32)
	for b.Loop() {
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTLSWrite is one Write of a TLS client over loopback TCP: crypto/tls writes each
// record with its own syscall, BatchedTLS gathers them into one. 16,413 bytes is a WebSocket
// frame carrying one full end-to-end TLS record (two outer records: 16,384 + 29 bytes);
// 32,826 a frame carrying two (Coalesce), 64 KiB four full records.
func BenchmarkTLSWrite(b *testing.B) {
	for _, size := range []int{16413, 32826, 64 << 10} {
		for _, batched := range []bool{false, true} {
			name := "tls"
			if batched {
				name = "batched"
			}
			b.Run(fmt.Sprintf("%d/%s", size, name), func(b *testing.B) {
				certSrv := httptest.NewUnstartedServer(nil)
				certSrv.StartTLS()
				serverCfg := certSrv.TLS.Clone()
				clientCfg := &tls.Config{RootCAs: certSrv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs, ServerName: "example.com"}
				certSrv.Close()
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					b.Fatal(err)
				}
				defer ln.Close()
				done := make(chan error, 1)
				go func() {
					c, err := ln.Accept()
					if err != nil {
						done <- err
						return
					}
					defer c.Close()
					_, err = io.Copy(io.Discard, tls.Server(c, serverCfg))
					done <- err
				}()
				raw, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				var c net.Conn = tls.Client(raw, clientCfg)
				if batched {
					c = newBatchedTLSClient(raw, clientCfg)
				}
				msg := make([]byte, size)
				b.SetBytes(int64(len(msg)))
				for b.Loop() {
					if _, err := c.Write(msg); err != nil {
						b.Fatal(err)
					}
				}
				c.Close()
				if err := <-done; err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}
