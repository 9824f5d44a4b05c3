package wsconn

import (
	"context"
	"fmt"
	"io"
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
