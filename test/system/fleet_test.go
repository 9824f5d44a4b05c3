//go:build linux

package system

// The fault tests' deployment and probes: a fleet of relays (relay1, relay2, ... in the
// certificates' sort order, so the client prefers relay1) with one server registered with
// each and one client; roles that tests kill and start again on the same ports; and the
// numbers they watch: registrations and sessions from /status, go_goroutines from /metrics,
// RSS and open files from /proc.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

type fleetOptions struct {
	relays     int // default 1
	targetPort int // the server's resource and the client's target, on 127.0.0.1 (required)
	// Extra KEY=VALUE environment per role, after the fleet's own.
	relayEnv, serverEnv, clientEnv []string
}

// fleet is the running deployment. Each role keeps the environment it was started with, so a
// test can kill it and start it again the same way, on the same ports.
type fleet struct {
	t          *testing.T
	dir        string
	relays     []*role
	relayPorts []int // each relay's TLS port, in its certificate
	server     *role
	client     *role
	clientAddr string
	env        map[*role][]string // full environment overrides of each role

	http *http.Client // plain HTTP to the metrics listeners
	tls  *http.Client // HTTPS trusting the fleet's CA, to the relays' /healthz
}

// newFleet mints a CA and bundles, starts the relays, the server (registered with every
// relay) and the client, and returns once the client holds a session through relay1.
func newFleet(t *testing.T, opts fleetOptions) *fleet {
	t.Helper()
	if opts.targetPort == 0 {
		t.Fatal("fleetOptions.targetPort is required")
	}
	if opts.relays == 0 {
		opts.relays = 1
	}
	base := t.TempDir()
	var f *fleet
	retryAddrInUse(t, "fleet", func(attempt int) error {
		f = &fleet{t: t, dir: filepath.Join(base, fmt.Sprintf("try%d", attempt)), env: map[*role][]string{}}
		err := f.start(opts)
		if err != nil {
			f.stopAll()
		}
		return err
	})
	return f
}

func (f *fleet) start(opts fleetOptions) error {
	t := f.t
	n := opts.relays
	ports := freePorts(t, 2*n+3)
	newRole := func(name string, metricsPort int) *role {
		return &role{
			name:    name,
			bundle:  filepath.Join(f.dir, name),
			audit:   filepath.Join(f.dir, name+"-audit.jsonl"),
			metrics: net.JoinHostPort("127.0.0.1", strconv.Itoa(metricsPort)),
			log:     filepath.Join(f.dir, name+".log"),
		}
	}
	caDir := filepath.Join(f.dir, "ca")
	backendCLI(t, "ca", "init", "--dir", caDir, "--name", "Fault Test Root CA")
	var relayFlags []string
	for i := range n {
		r := newRole(fmt.Sprintf("relay%d", i+1), ports[n+i])
		f.relays = append(f.relays, r)
		f.relayPorts = append(f.relayPorts, ports[i])
		backendCLI(t, "ca", "issue", "relay", "--dir", caDir, "--name", r.name,
			"--addr", "127.0.0.1", "--port", strconv.Itoa(ports[i]), "--out", r.bundle)
		relayFlags = append(relayFlags, "--relay", r.name) // sort order: as listed
	}
	f.server = newRole("server1", ports[2*n])
	f.client = newRole("alice", ports[2*n+1])
	f.clientAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[2*n+2]))
	backendCLI(t, append(append([]string{"ca", "issue", "server", "--dir", caDir, "--name", f.server.name}, relayFlags...),
		"--resource", fmt.Sprintf("target=127.0.0.1/32:%d", opts.targetPort), "--out", f.server.bundle)...)
	backendCLI(t, append(append([]string{"ca", "issue", "client", "--dir", caDir, "--name", f.client.name,
		"--server", f.server.name}, relayFlags...),
		"--target", fmt.Sprintf("127.0.0.1:%d", opts.targetPort), "--port", strconv.Itoa(ports[2*n+2]),
		"--user", "alice@example.com", "--out", f.client.bundle)...)
	var err error
	if f.http, f.tls, err = httpClients(caDir); err != nil {
		return err
	}

	for i, r := range f.relays {
		f.setEnv(r, append([]string{"SENTINEL_RELAY_LISTEN=" + net.JoinHostPort("127.0.0.1", strconv.Itoa(f.relayPorts[i]))}, opts.relayEnv...))
		if _, err := f.startRelay(i); err != nil {
			return err
		}
	}
	f.setEnv(f.server, opts.serverEnv)
	if err := f.startRole(f.server); err != nil {
		return err
	}
	// Registered everywhere before the client starts, so its first session is through relay1.
	for i := range f.relays {
		if err := waitReady(readyTimeout, f.relays[i].name+" has server1", f.procs(), func() error { return f.registered(i) }); err != nil {
			return err
		}
	}
	f.setEnv(f.client, opts.clientEnv)
	if err := f.startRole(f.client); err != nil {
		return err
	}
	st, err := f.clientStatus()
	if err != nil {
		return err
	}
	if st.Session == nil || st.Session.Via != "relay1" {
		return fmt.Errorf("client's first session is %+v, want one via relay1", st.Session)
	}
	return nil
}

func (f *fleet) setEnv(r *role, extra []string) {
	f.env[r] = append([]string{"SENTINEL_AUDIT_PATH=" + r.audit, "SENTINEL_METRICS_LISTEN=" + r.metrics}, extra...)
}

// run starts r's process with its environment; its log and audit file are appended to.
func (f *fleet) run(r *role) error {
	p, err := startProc(f.t, r.name, childEnv(f.env[r]...), []string{r.log, r.audit}, backendBin, "-c", r.config())
	if err != nil {
		return err
	}
	r.proc = p
	return nil
}

// startRole starts r and waits until its /readyz answers 200.
func (f *fleet) startRole(r *role) error {
	if err := f.run(r); err != nil {
		return err
	}
	readyz := "http://" + r.metrics + "/readyz"
	return waitReady(readyTimeout, r.name+" "+readyz, f.procs(), func() error { return httpOK(f.http, readyz) })
}

// startRelay starts relay i and returns when its public /healthz first answered: the moment
// from which the fault tests measure how long the others take to come back.
func (f *fleet) startRelay(i int) (time.Time, error) {
	r := f.relays[i]
	if err := f.run(r); err != nil {
		return time.Time{}, err
	}
	healthz := fmt.Sprintf("https://127.0.0.1:%d/healthz", f.relayPorts[i])
	if err := waitReady(readyTimeout, r.name+" "+healthz, []*proc{r.proc}, func() error { return httpOK(f.tls, healthz) }); err != nil {
		return time.Time{}, err
	}
	return time.Now(), nil
}

// kill sends SIGKILL to r and waits for it to be gone (its sockets closed by the kernel).
func (f *fleet) kill(r *role) {
	f.t.Helper()
	if err := r.proc.signal(syscall.SIGKILL); err != nil {
		f.t.Fatalf("kill -9 %s: %v", r.name, err)
	}
	if !r.proc.waitExit(stopTimeout) {
		f.t.Fatalf("%s still running %v after SIGKILL", r.name, stopTimeout)
	}
}

// terminate sends SIGTERM to r and waits up to bound for it to exit with status 0.
func (f *fleet) terminate(r *role, bound time.Duration) {
	f.t.Helper()
	if err := r.proc.signal(syscall.SIGTERM); err != nil {
		f.t.Fatalf("SIGTERM %s: %v", r.name, err)
	}
	if !r.proc.waitExit(bound) {
		f.t.Fatalf("%s still running %v after SIGTERM", r.name, bound)
	}
	if err := r.proc.exitErr(); err != nil {
		f.t.Fatalf("%s exited with %v after SIGTERM, want status 0", r.name, err)
	}
}

func (f *fleet) procs() []*proc {
	var ps []*proc
	for _, r := range append(append([]*role(nil), f.relays...), f.server, f.client) {
		if r != nil && r.proc != nil && !r.proc.exited() {
			ps = append(ps, r.proc)
		}
	}
	return ps
}

func (f *fleet) stopAll() {
	for _, r := range append([]*role{f.client, f.server}, f.relays...) {
		if r != nil && r.proc != nil {
			_ = r.proc.stop()
		}
	}
}

// registered is nil when relay i lists server1 among its registered servers.
func (f *fleet) registered(i int) error {
	return relayHas(f.http, f.relays[i].metrics, f.server.name)
}

// relayHas is nil when the relay whose metrics listener is at metrics lists server with at
// least one control channel in its /status.
func relayHas(c *http.Client, metrics, server string) error {
	var st struct {
		Servers []struct {
			Name     string `json:"name"`
			Channels int    `json:"channels"`
		} `json:"servers"`
	}
	if err := getJSON(c, "http://"+metrics+"/status", &st); err != nil {
		return err
	}
	for _, s := range st.Servers {
		if s.Name == server && s.Channels > 0 {
			return nil
		}
	}
	return fmt.Errorf("%s is not registered (status lists %+v)", server, st.Servers)
}

type clientStatus struct {
	Session *struct {
		ID      string `json:"id"`
		Via     string `json:"via"`
		Streams int    `json:"streams"`
	} `json:"session"`
	LastError string `json:"last_error"`
}

func (f *fleet) clientStatus() (clientStatus, error) {
	var st clientStatus
	err := getJSON(f.http, "http://"+f.client.metrics+"/status", &st)
	return st, err
}

// waitVia waits until the client's session goes through via and a new connection echoes,
// and returns how long that took.
func (f *fleet) waitVia(via string, bound time.Duration) (time.Duration, error) {
	start := time.Now()
	err := waitReady(bound, "client session via "+via, f.procs(), func() error {
		st, err := f.clientStatus()
		if err != nil {
			return err
		}
		if st.Session == nil || st.Session.Via != via {
			return fmt.Errorf("client session %+v, last error %q", st.Session, st.LastError)
		}
		return nil
	})
	return time.Since(start), err
}

// watchRegistrations polls relay i's /status every pollInterval until the returned stop is
// called, which reports the number of polls and every poll that did not find server1.
func (f *fleet) watchRegistrations(i int) (stop func() (polls int, misses []string)) {
	quit := make(chan struct{})
	done := make(chan struct{})
	var polls int
	var misses []string
	go func() {
		defer close(done)
		tick := time.NewTicker(pollInterval)
		defer tick.Stop()
		for {
			polls++
			if err := f.registered(i); err != nil {
				misses = append(misses, time.Now().Format("15:04:05.000")+": "+err.Error())
			}
			select {
			case <-quit:
				return
			case <-tick.C:
			}
		}
	}()
	return func() (int, []string) {
		close(quit)
		<-done
		return polls, misses
	}
}

// ---- connections through the client

// echoOnce opens a connection to addr and checks one echo round trip, within timeout.
func echoOnce(addr string, timeout time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	msg := []byte("E echo through the tunnel 0123456789")
	if _, err := c.Write(msg); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if !bytes.Equal(got, msg) {
		return fmt.Errorf("echo: got %q, want %q", got, msg)
	}
	return nil
}

// waitEcho retries echoOnce until one succeeds, for at most bound, and returns how long it
// took. An attempt may wait for the client's next session (client.wait_session).
func waitEcho(addr string, bound time.Duration) (time.Duration, error) {
	start := time.Now()
	for {
		left := bound - time.Since(start)
		err := echoOnce(addr, max(left, pollInterval))
		if err == nil {
			return time.Since(start), nil
		}
		if time.Since(start) >= bound {
			return time.Since(start), fmt.Errorf("no echo within %v: %w", bound, err)
		}
		time.Sleep(pollInterval)
	}
}

// genPattern holds genByte(0...) long enough that any chunk of up to 1 MiB at any offset is
// one slice of it.
var genPattern = func() []byte {
	p := make([]byte, 1<<20+251)
	for i := range p {
		p[i] = genByte(int64(i))
	}
	return p
}()

// source is a connection to the target's source ('G'), read through the tunnel, whose bytes
// are checked against the pattern as they arrive.
type source struct {
	net.Conn
	off int64 // bytes read and checked so far
	buf []byte
}

func dialSource(addr string) (*source, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	if _, err := c.Write([]byte{'G'}); err != nil {
		_ = c.Close()
		return nil, err
	}
	return &source{Conn: c, buf: make([]byte, 256<<10)}, nil
}

// readN reads and checks n more bytes, within timeout.
func (s *source) readN(n int64, timeout time.Duration) error {
	_ = s.SetReadDeadline(time.Now().Add(timeout))
	end := s.off + n
	for s.off < end {
		if err := s.readSome(int(min(int64(len(s.buf)), end-s.off))); err != nil {
			return err
		}
	}
	return nil
}

// readSome does one Read of up to n bytes and checks what it got.
func (s *source) readSome(n int) error {
	k, err := s.Read(s.buf[:n])
	if k > 0 {
		if bad := checkGen(s.buf[:k], s.off); bad >= 0 {
			return fmt.Errorf("byte %d of the stream is %d, want %d: data lost, repeated or reordered", s.off+int64(bad), s.buf[bad], genByte(s.off+int64(bad)))
		}
		s.off += int64(k)
	}
	return err
}

// readToEnd reads and checks until the connection ends or timeout passes, and returns why it
// ended: io.EOF for a clean end.
func (s *source) readToEnd(timeout time.Duration) error {
	_ = s.SetReadDeadline(time.Now().Add(timeout))
	for {
		if err := s.readSome(len(s.buf)); err != nil {
			return err
		}
	}
}

// checkGen returns the index of the first byte of p that is not the pattern at offset off,
// or -1.
func checkGen(p []byte, off int64) int {
	for done := 0; done < len(p); {
		k := min(len(p)-done, 1<<20)
		start := int((off + int64(done)) % 251)
		want := genPattern[start : start+k]
		if !bytes.Equal(p[done:done+k], want) {
			for i := range k {
				if p[done+i] != want[i] {
					return done + i
				}
			}
		}
		done += k
	}
	return -1
}

// sinkRate sends size bytes to the target's sink at addr and returns the rate in MiB/s,
// checked against the count the sink answers.
func sinkRate(addr string, size int) (float64, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	chunk := genPattern[:1<<20]
	start := time.Now()
	if _, err := c.Write([]byte{'S'}); err != nil {
		return 0, err
	}
	for sent := 0; sent < size; {
		n, err := c.Write(chunk[:min(len(chunk), size-sent)])
		sent += n
		if err != nil {
			return 0, err
		}
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return 0, err
	}
	var got [8]byte
	if _, err := io.ReadFull(c, got[:]); err != nil {
		return 0, fmt.Errorf("sink count: %w", err)
	}
	if n := int64(got[0])<<56 | int64(got[1])<<48 | int64(got[2])<<40 | int64(got[3])<<32 |
		int64(got[4])<<24 | int64(got[5])<<16 | int64(got[6])<<8 | int64(got[7]); n != int64(size) {
		return 0, fmt.Errorf("sink counted %d bytes, sent %d", n, size)
	}
	return float64(size) / (1 << 20) / time.Since(start).Seconds(), nil
}

// ---- process numbers

// procStatus reads one "Key:  value kB" field of /proc/PID/status, in bytes.
func procStatus(pid int, key string) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != key {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			break
		}
		n, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/status %s: %w", pid, key, err)
		}
		if len(fields) > 1 && fields[1] == "kB" {
			n <<= 10
		}
		return n, nil
	}
	return 0, fmt.Errorf("/proc/%d/status has no %s", pid, key)
}

// rss is the resident set size of p.
func rss(p *proc) (int64, error) { return procStatus(p.cmd.Process.Pid, "VmRSS") }

// openFiles counts p's file descriptors.
func openFiles(p *proc) (int, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.cmd.Process.Pid))
	return len(ents), err
}

// metric reads one unlabelled sample (go_goroutines, ...) from the /metrics of the listener
// at metrics.
func metric(c *http.Client, metrics, name string) (float64, error) {
	resp, err := c.Get("http://" + metrics + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 4<<20))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("/metrics has no %s", name)
}

// usage is one role's numbers at one moment.
type usage struct {
	goroutines int
	heap       int64 // go_memstats_heap_inuse_bytes: what a leak grows, without RSS's slack
	rss        int64
	fds        int
}

func (u usage) String() string {
	return fmt.Sprintf("%4d gor %5.1f MiB heap %5.1f MiB RSS %3d fds", u.goroutines, mib(u.heap), mib(u.rss), u.fds)
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// usageOf measures r (its metrics listener and /proc).
func usageOf(c *http.Client, r *role) (usage, error) {
	var u usage
	g, err := metric(c, r.metrics, "go_goroutines")
	if err != nil {
		return u, fmt.Errorf("%s: %w", r.name, err)
	}
	u.goroutines = int(g)
	h, err := metric(c, r.metrics, "go_memstats_heap_inuse_bytes")
	if err != nil {
		return u, fmt.Errorf("%s: %w", r.name, err)
	}
	u.heap = int64(h)
	if u.rss, err = rss(r.proc); err != nil {
		return u, fmt.Errorf("%s: %w", r.name, err)
	}
	if u.fds, err = openFiles(r.proc); err != nil {
		return u, fmt.Errorf("%s: %w", r.name, err)
	}
	return u, nil
}

// rssSampler records the peak RSS of processes every interval until stopped.
type rssSampler struct {
	mu   sync.Mutex
	peak map[*proc]int64
	quit chan struct{}
	done chan struct{}
}

func sampleRSS(interval time.Duration, procs ...*proc) *rssSampler {
	s := &rssSampler{peak: map[*proc]int64{}, quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			for _, p := range procs {
				if v, err := rss(p); err == nil {
					s.mu.Lock()
					s.peak[p] = max(s.peak[p], v)
					s.mu.Unlock()
				}
			}
			select {
			case <-s.quit:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// stop ends the sampling and returns the peaks.
func (s *rssSampler) stop() map[*proc]int64 {
	close(s.quit)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}

// isReset reports whether err is the reset the client gives a local connection whose
// stream failed.
func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }
