// Package load is the traffic side of `make bench`: a target that sinks, sources and answers
// verified byte streams, and the clients that drive it and measure throughput and latency.
package load

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Period is the length of a stream's repeating pattern. It is odd, so no power-of-two write or
// read size lines up with it: a byte lost, duplicated or reordered shifts every later byte off
// the pattern, and a stream carrying another stream's bytes (another seed) fails at once. Exact
// byte counts at both ends catch a loss of a whole period.
const Period = 1<<20 + 4093

// MaxChunk is the largest slice At returns.
const MaxChunk = 256 << 10

// Pattern is the byte stream of one seed: byte o of the stream is buf[o % Period]. Producing it
// costs nothing per byte (writers send slices of buf) and checking it is one memcmp per read, so
// the load tool spends its CPU on the path under test, not on making or checking data.
type Pattern struct {
	buf []byte // Period bytes of xorshift64* output, then the first MaxChunk bytes again
}

// NewPattern fills the pattern of seed.
func NewPattern(seed uint64) *Pattern {
	buf := make([]byte, Period+MaxChunk)
	x := seed*0x9E3779B97F4A7C15 | 1
	for i := 0; i+8 <= Period; i += 8 {
		x ^= x >> 12
		x ^= x << 25
		x ^= x >> 27
		binary.LittleEndian.PutUint64(buf[i:], x*0x2545F4914F6CDD1D)
	}
	for i := Period &^ 7; i < Period; i++ {
		buf[i] = byte(seed >> (8 * (i & 7)))
	}
	copy(buf[Period:], buf[:MaxChunk])
	return &Pattern{buf: buf}
}

// At returns the n bytes of the stream at offset off (n <= MaxChunk). The caller must not
// modify them.
func (p *Pattern) At(off int64, n int) []byte {
	i := int(off % Period)
	return p.buf[i : i+n : i+n]
}

// Check reports whether b is the stream's content at offset off.
func (p *Pattern) Check(off int64, b []byte) bool {
	for len(b) > 0 {
		n := min(len(b), MaxChunk)
		if string(b[:n]) != string(p.At(off, n)) { // compiles to memequal, no allocation
			return false
		}
		b, off = b[n:], off+int64(n)
	}
	return true
}

// Modes, the first byte a client sends on a connection to the target.
const (
	ModeUpload   = 'U' // client sends the pattern; target verifies, answers count and status at EOF
	ModeDownload = 'D' // target sends the pattern until the client goes away; client verifies
	ModeRequest  = 'R' // 32-byte requests, each answered with 32 bytes, until EOF
)

// headerSize is the size of the U and D headers: mode, 7 reserved bytes, seed (little endian).
const headerSize = 16

// RequestSize is the size of a request and of its response in ModeRequest.
const RequestSize = 32

// resultSize is the upload result: bytes verified (little endian uint64) and a status byte.
const resultSize = 9

// ErrMismatch reports content that is not the expected pattern.
var ErrMismatch = errors.New("content mismatch")

func writeHeader(w io.Writer, mode byte, seed uint64) error {
	var h [headerSize]byte
	h[0] = mode
	binary.LittleEndian.PutUint64(h[8:], seed)
	_, err := w.Write(h[:])
	return err
}

// Response returns the answer to a ModeRequest request: every byte flipped, so an echo of the
// request (a loop somewhere) does not pass.
func Response(req []byte) []byte {
	out := make([]byte, len(req))
	for i, b := range req {
		out[i] = ^b
	}
	return out
}

func checkResponse(req, resp []byte) error {
	for i := range req {
		if resp[i] != ^req[i] {
			return fmt.Errorf("response byte %d: %w", i, ErrMismatch)
		}
	}
	return nil
}
