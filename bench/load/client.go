package load

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"time"
)

// DialFunc opens a connection to the path under test.
type DialFunc func(ctx context.Context) (net.Conn, error)

// TCP dials addr over TCP.
func TCP(addr string) DialFunc {
	d := &net.Dialer{Timeout: 10 * time.Second}
	return func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
}

// Direction of a throughput run.
type Direction string

const (
	Upload   Direction = "up"   // client → target, verified by the target
	Download Direction = "down" // target → client, verified by the client
)

// Transfer is the outcome of one throughput run.
type Transfer struct {
	Bytes   int64         // verified payload bytes, all streams
	Elapsed time.Duration // first byte sent to last byte verified
}

// Gbps is the run's throughput in Gbit/s.
func (t Transfer) Gbps() float64 {
	if t.Elapsed <= 0 {
		return 0
	}
	return float64(t.Bytes) * 8 / t.Elapsed.Seconds() / 1e9
}

// writeChunk is the size of each write of an upload: iperf3's default for TCP.
const writeChunk = 128 << 10

// Throughput runs streams parallel connections for d in direction dir and returns what the
// receiving ends verified. Any lost, extra or altered byte is an error.
func Throughput(ctx context.Context, dial DialFunc, dir Direction, streams int, d time.Duration) (Transfer, error) {
	conns := make([]net.Conn, streams)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	for i := range conns {
		c, err := dial(ctx)
		if err != nil {
			return Transfer{}, fmt.Errorf("dial stream %d: %w", i, err)
		}
		conns[i] = c
	}
	start := time.Now()
	end := start.Add(d)
	type result struct {
		n   int64
		at  time.Time
		err error
	}
	results := make([]result, streams)
	var wg sync.WaitGroup
	for i, c := range conns {
		seed := rand.Uint64()
		wg.Go(func() {
			var r result
			if dir == Download {
				r.n, r.err = download(c, seed, end)
			} else {
				r.n, r.err = upload(c, seed, end)
			}
			r.at = time.Now()
			results[i] = r
		})
	}
	wg.Wait()
	var t Transfer
	for i, r := range results {
		if r.err != nil {
			return Transfer{}, fmt.Errorf("stream %d: %w", i, r.err)
		}
		t.Bytes += r.n
		t.Elapsed = max(t.Elapsed, r.at.Sub(start))
	}
	return t, nil
}

// upload sends the pattern until end, half-closes, and returns the count the target verified
// (which must equal what was sent).
func upload(c net.Conn, seed uint64, end time.Time) (int64, error) {
	p := NewPattern(seed)
	if err := writeHeader(c, ModeUpload, seed); err != nil {
		return 0, err
	}
	var sent int64
	for i := 0; ; i++ {
		// Checking the clock every 16 writes (2 MiB) costs nothing and overshoots by < 1 ms.
		if i%16 == 0 && !time.Now().Before(end) {
			break
		}
		n, err := c.Write(p.At(sent, writeChunk))
		sent += int64(n)
		if err != nil {
			return sent, fmt.Errorf("write after %d bytes: %w", sent, err)
		}
	}
	cw, ok := c.(interface{ CloseWrite() error })
	if !ok {
		return sent, errors.New("connection cannot half-close")
	}
	if err := cw.CloseWrite(); err != nil {
		return sent, err
	}
	var res [resultSize]byte
	_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
	if _, err := io.ReadFull(c, res[:]); err != nil {
		return sent, fmt.Errorf("read result after sending %d bytes: %w", sent, err)
	}
	got := int64(binary.LittleEndian.Uint64(res[:]))
	switch {
	case res[8] != 0:
		return got, fmt.Errorf("target: %w", ErrMismatch)
	case got != sent:
		return got, fmt.Errorf("target verified %d bytes, %d were sent", got, sent)
	}
	return got, nil
}

// download reads and verifies the pattern until end.
func download(c net.Conn, seed uint64, end time.Time) (int64, error) {
	p := NewPattern(seed)
	if err := writeHeader(c, ModeDownload, seed); err != nil {
		return 0, err
	}
	_ = c.SetReadDeadline(end)
	buf := make([]byte, MaxChunk)
	var off int64
	for {
		n, err := c.Read(buf)
		if !p.Check(off, buf[:n]) {
			return off, fmt.Errorf("at byte %d: %w", off, ErrMismatch)
		}
		off += int64(n)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
				return off, nil
			}
			return off, err
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Latencies are the round trips of a latency run, sorted.
type Latencies []time.Duration

// Quantile returns the q-quantile (nearest rank).
func (l Latencies) Quantile(q float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	i := int(q*float64(len(l))+0.5) - 1
	return l[min(max(i, 0), len(l)-1)]
}

// Mean is the average round trip.
func (l Latencies) Mean() time.Duration {
	var sum time.Duration
	for _, d := range l {
		sum += d
	}
	if len(l) == 0 {
		return 0
	}
	return sum / time.Duration(len(l))
}

// NewConnRoundTrips opens n connections one after another (after warmup unmeasured ones), and
// on each sends one 32-byte request and reads the 32-byte answer; each latency runs from the
// start of the dial to the last byte of the answer.
func NewConnRoundTrips(ctx context.Context, dial DialFunc, n, warmup int) (Latencies, error) {
	out := make(Latencies, 0, n)
	req := make([]byte, RequestSize)
	resp := make([]byte, RequestSize)
	for i := range n + warmup {
		for j := range req {
			req[j] = byte(rand.Uint32())
		}
		req[0] = ModeRequest
		start := time.Now()
		d, err := RoundTrip(ctx, dial, req, resp)
		if err != nil {
			return nil, fmt.Errorf("connection %d: %w", i, err)
		}
		if i >= warmup {
			out = append(out, d)
		}
		_ = start
	}
	slices.Sort(out)
	return out, nil
}

// RoundTrip dials, sends req (RequestSize bytes, starting with ModeRequest), reads the answer
// into resp and closes; it returns the time from the dial to the answer's last byte.
func RoundTrip(ctx context.Context, dial DialFunc, req, resp []byte) (time.Duration, error) {
	start := time.Now()
	c, err := dial(ctx)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(req); err != nil {
		return 0, err
	}
	if _, err := io.ReadFull(c, resp); err != nil {
		return 0, err
	}
	d := time.Since(start)
	return d, checkResponse(req, resp)
}
