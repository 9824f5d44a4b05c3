// Package revoke keeps the set of revoked certificate serials from a signed CRL, read from a
// file (re-read on change) or an http(s) URL (polled), and tells subscribers when it changes.
package revoke

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Defaults and limits.
const (
	DefaultFileInterval = time.Second
	DefaultURLInterval  = 30 * time.Second
	HTTPTimeout         = 10 * time.Second // per fetch, when the HTTP client sets none
	MaxCRLSize          = 16 << 20         // bytes, for files and response bodies

	// racyWindow: a file whose mtime is this close to when we read it may change again
	// without its mtime or size changing (coarse timestamps), so it is re-hashed until it
	// has aged past the window (the "racy git" rule).
	racyWindow = 2 * time.Second
	// errorLogEvery rate-limits the log of a failure that keeps repeating.
	errorLogEvery = time.Minute
)

// ErrRollback is returned (wrapped) for a CRL whose number is lower than the current one's.
var ErrRollback = errors.New("crl number is lower than the current one")

// Options tune a List.
type Options struct {
	Interval   time.Duration // file check or URL poll interval; default 1s for files, 30s for URLs
	HTTPClient *http.Client  // nil = a client with a 10s timeout and no kept-alive connections
	Log        *zap.Logger   // nil = no logging
}

// List is the current revocation set. A nil *List revokes nothing: Revoked is false,
// Subscribe's channel never fires, Reload does nothing and Run just waits for ctx.
type List struct {
	source   string // as given, for reading
	display  string // for logs and errors: URL with any password redacted
	url      *url.URL
	issuer   func() *x509.Certificate
	interval time.Duration
	client   *http.Client
	log      *zap.Logger

	cur     atomic.Pointer[set] // never nil after New
	running atomic.Bool

	// loadMu serializes fetching and applying (Run's polls and Reload); it guards the
	// change-detection state below.
	loadMu  sync.Mutex
	stat    os.FileInfo // file: the file last read
	readAt  time.Time   // file: when it was read
	hash    [32]byte    // sha256 of the CRL bytes last processed, good or bad
	verdict error       // the outcome of processing them
	etag    string      // URL validators of that response
	lastMod string

	mu       sync.Mutex // guards subs and the failure state
	subs     map[*sub]struct{}
	lastErr  string
	errSince time.Time
	errLog   time.Time // when lastErr was last logged
}

type set struct {
	serials    map[string]struct{}
	number     *big.Int // nil when the CRL has none
	thisUpdate time.Time
	nextUpdate time.Time
	loadedAt   time.Time
}

type sub struct{ ch chan struct{} }

// New loads the CRL at source (a path or http(s) URL), checking its signature against
// issuer() (the CA, reloadable). A CRL that fails to load or verify is an error here; later
// failures keep the last good set and are logged.
func New(source string, issuer func() *x509.Certificate, opts Options) (*List, error) {
	if source == "" {
		return nil, errors.New("crl: no source")
	}
	if issuer == nil {
		return nil, fmt.Errorf("crl %s: no issuer", source)
	}
	l := &List{
		source:   source,
		display:  source,
		issuer:   issuer,
		interval: opts.Interval,
		client:   opts.HTTPClient,
		log:      opts.Log,
		subs:     make(map[*sub]struct{}),
	}
	if l.log == nil {
		l.log = zap.NewNop()
	}
	if u, err := url.Parse(source); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		if u.Host == "" {
			return nil, fmt.Errorf("crl %s: url has no host", u.Redacted())
		}
		l.url, l.display = u, u.Redacted()
	}
	if l.interval <= 0 {
		l.interval = DefaultFileInterval
		if l.url != nil {
			l.interval = DefaultURLInterval
		}
	}
	if l.url != nil && l.client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		// One request per interval: a kept-alive connection would only idle, and would
		// outlive Run as goroutines with no owner.
		tr.DisableKeepAlives = true
		l.client = &http.Client{Timeout: HTTPTimeout, Transport: tr}
	}
	l.log = l.log.With(zap.String("crl", l.display))
	l.cur.Store(&set{})
	if _, err := l.load(context.Background(), true); err != nil {
		return nil, err
	}
	return l, nil
}

// Run re-reads or polls the source every interval until ctx is done, then returns nil.
// Failures keep the last good set and are logged. Only one Run may be active at a time.
func (l *List) Run(ctx context.Context) error {
	if l == nil {
		<-ctx.Done()
		return nil
	}
	if !l.running.CompareAndSwap(false, true) {
		return fmt.Errorf("crl %s: already running", l.display)
	}
	defer l.running.Store(false)
	t := time.NewTicker(l.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		_, err := l.load(ctx, false)
		if ctx.Err() != nil {
			return nil // a fetch cut short by shutdown is not a failure
		}
		l.report(err)
	}
}

// Reload reads the source now (SIGHUP), even if it looks unchanged, and verifies it against
// the current issuer(). On error the last good set stays, and the error is logged as Run's
// failures are and returned.
func (l *List) Reload() error {
	if l == nil {
		return nil
	}
	_, err := l.load(context.Background(), true)
	l.report(err)
	return err
}

// Revoked reports whether cert's serial is on the list.
func (l *List) Revoked(cert *x509.Certificate) bool {
	if cert == nil {
		return false
	}
	return l.RevokedSerial(cert.SerialNumber)
}

// RevokedSerial reports whether serial is on the list, for holders of many live sessions that
// keep the serial rather than the whole parsed certificate.
func (l *List) RevokedSerial(serial *big.Int) bool {
	if l == nil || serial == nil {
		return false
	}
	_, ok := l.cur.Load().serials[serialKey(serial)]
	return ok
}

// Subscribe returns a channel that receives (without blocking the list) after every change
// of the set, and a function to stop the subscription. Notifications coalesce: the channel
// holds at most one, so a subscriber re-checks its live sessions against Revoked on each
// receive. The stop function may be called more than once; it does not close the channel.
func (l *List) Subscribe() (<-chan struct{}, func()) {
	if l == nil {
		return nil, func() {}
	}
	s := &sub{ch: make(chan struct{}, 1)}
	l.mu.Lock()
	l.subs[s] = struct{}{}
	l.mu.Unlock()
	return s.ch, func() {
		l.mu.Lock()
		delete(l.subs, s)
		l.mu.Unlock()
	}
}

// Status describes the list for /status pages.
type Status struct {
	Source     string    `json:"source"`
	Number     string    `json:"number,omitempty"` // CRL number, decimal
	Revoked    int       `json:"revoked"`          // serials on the list
	ThisUpdate time.Time `json:"this_update"`
	NextUpdate time.Time `json:"next_update,omitzero"`
	LoadedAt   time.Time `json:"loaded_at"`            // when this set was applied
	Error      string    `json:"error,omitempty"`      // the failure since ErrorSince, if any
	ErrorSince time.Time `json:"error_since,omitzero"` // first of the current run of failures
}

// Status returns the current state. A nil List has the zero Status.
func (l *List) Status() Status {
	if l == nil {
		return Status{}
	}
	cur := l.cur.Load()
	st := Status{
		Source:     l.display,
		Revoked:    len(cur.serials),
		ThisUpdate: cur.thisUpdate,
		NextUpdate: cur.nextUpdate,
		LoadedAt:   cur.loadedAt,
	}
	if cur.number != nil {
		st.Number = cur.number.String()
	}
	l.mu.Lock()
	st.Error, st.ErrorSince = l.lastErr, l.errSince
	l.mu.Unlock()
	return st
}

// load fetches the source (when changed, or always if force), verifies it and applies it.
// It reports whether the set changed.
func (l *List) load(ctx context.Context, force bool) (bool, error) {
	l.loadMu.Lock()
	defer l.loadMu.Unlock()
	var (
		data []byte
		err  error
	)
	if l.url != nil {
		data, err = l.fetchURL(ctx, force)
	} else {
		data, err = l.readFile(force)
	}
	if err != nil {
		return false, fmt.Errorf("crl %s: %w", l.display, err)
	}
	if data != nil {
		if h := sha256.Sum256(data); force || h != l.hash {
			// A bad CRL is not re-examined until its bytes change or Reload is called.
			l.hash = h
			changed, err := l.apply(data)
			if err != nil {
				err = fmt.Errorf("crl %s: %w", l.display, err)
			}
			l.verdict = err
			return changed, err
		}
	}
	// Unchanged: the verdict on these bytes stands, so a bad CRL left in place keeps being
	// reported (rate-limited) instead of reading as recovered.
	return false, l.verdict
}

// readFile returns the file's contents, or nil if it looks unchanged since the last read.
func (l *List) readFile(force bool) ([]byte, error) {
	if !force && l.stat != nil {
		fi, err := os.Stat(l.source)
		if err != nil {
			return nil, err // missing for now, e.g. between unlink and rename
		}
		if os.SameFile(fi, l.stat) && fi.Size() == l.stat.Size() && fi.ModTime().Equal(l.stat.ModTime()) &&
			l.readAt.Sub(fi.ModTime()) > racyWindow {
			return nil, nil
		}
	}
	f, err := os.Open(l.source)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// Stat the open file, so the recorded identity is that of the bytes read even when the
	// path is replaced meanwhile.
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	data, err := readLimited(f)
	if err != nil {
		return nil, err
	}
	l.stat, l.readAt = fi, time.Now()
	return data, nil
}

// fetchURL GETs the URL, conditionally unless force; it returns nil on 304 Not Modified.
func (l *List) fetchURL(ctx context.Context, force bool) ([]byte, error) {
	if l.client.Timeout == 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, HTTPTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.source, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/pkix-crl, application/x-pem-file, */*")
	if !force {
		if l.etag != "" {
			req.Header.Set("If-None-Match", l.etag)
		}
		if l.lastMod != "" {
			req.Header.Set("If-Modified-Since", l.lastMod)
		}
	}
	resp, err := l.client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // url.Error repeats the (unredacted) URL
		}
		return nil, fmt.Errorf("fetch: %w", err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && !force:
		return nil, nil
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("fetch: status %s", resp.Status)
	}
	data, err := readLimited(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	l.etag, l.lastMod = resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	return data, nil
}

func readLimited(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxCRLSize+1))
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if len(data) > MaxCRLSize {
		return nil, fmt.Errorf("larger than %d bytes", MaxCRLSize)
	}
	return data, nil
}

// apply parses and verifies data and makes it the current set, unless it rolls back.
func (l *List) apply(data []byte) (bool, error) {
	crl, err := parse(data)
	if err != nil {
		return false, err
	}
	ca := l.issuer()
	if ca == nil {
		return false, errors.New("no issuer certificate")
	}
	if !bytes.Equal(crl.RawIssuer, ca.RawSubject) {
		return false, fmt.Errorf("issued by %q, not by the ca %q", crl.Issuer, ca.Subject)
	}
	if err := crl.CheckSignatureFrom(ca); err != nil {
		return false, fmt.Errorf("verify signature: %w", err)
	}
	old := l.cur.Load()
	if !old.loadedAt.IsZero() && lower(crl.Number, old.number) {
		return false, fmt.Errorf("number %v: %w (%v)", crl.Number, ErrRollback, old.number)
	}
	next := &set{
		serials:    make(map[string]struct{}, len(crl.RevokedCertificateEntries)),
		number:     crl.Number,
		thisUpdate: crl.ThisUpdate,
		nextUpdate: crl.NextUpdate,
		loadedAt:   time.Now(),
	}
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber != nil {
			next.serials[serialKey(e.SerialNumber)] = struct{}{}
		}
	}
	added, removed := diff(old.serials, next.serials)
	l.cur.Store(next)
	changed := added+removed > 0
	l.log.Info("crl loaded", zap.Stringer("number", crl.Number), zap.Int("revoked", len(next.serials)),
		zap.Int("added", added), zap.Int("removed", removed))
	if !crl.NextUpdate.IsZero() && next.loadedAt.After(crl.NextUpdate) {
		l.log.Warn("crl is past its next update; is `ca crl` being run?", zap.Time("next_update", crl.NextUpdate))
	}
	if changed {
		l.notify()
	}
	return changed, nil
}

// parse accepts a DER CRL or PEM holding an "X509 CRL" block (other blocks and text around
// it are skipped).
func parse(data []byte) (*x509.RevocationList, error) {
	if len(data) == 0 {
		return nil, errors.New("empty")
	}
	der := data
	if data[0] != 0x30 { // every DER CRL starts with a SEQUENCE tag; anything else may be PEM
		der = nil
		for rest := data; der == nil; {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				return nil, errors.New("no X509 CRL block in pem")
			}
			if b.Type == "X509 CRL" {
				der = b.Bytes
			}
		}
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	return crl, nil
}

// lower reports a < b, with a missing number lower than any.
func lower(a, b *big.Int) bool {
	switch {
	case a == nil:
		return b != nil
	case b == nil:
		return false
	}
	return a.Cmp(b) < 0
}

func diff(old, next map[string]struct{}) (added, removed int) {
	for k := range next {
		if _, ok := old[k]; !ok {
			added++
		}
	}
	for k := range old {
		if _, ok := next[k]; !ok {
			removed++
		}
	}
	return added, removed
}

func serialKey(n *big.Int) string { return n.Text(16) }

func (l *List) notify() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for s := range l.subs {
		select {
		case s.ch <- struct{}{}:
		default: // one pending notification is enough
		}
	}
}

// report logs a background failure: a new one at once, a repeat at most every minute, and
// the recovery.
func (l *List) report(err error) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil {
		if l.lastErr != "" {
			l.log.Info("crl source ok again", zap.Duration("failing_for", now.Sub(l.errSince)))
			l.lastErr, l.errSince, l.errLog = "", time.Time{}, time.Time{}
		}
		return
	}
	msg := err.Error()
	if msg == l.lastErr && now.Sub(l.errLog) < errorLogEvery {
		return
	}
	if l.lastErr == "" {
		l.errSince = now
	}
	l.lastErr, l.errLog = msg, now
	l.log.Warn("crl update failed, keeping the last good list", zap.Error(err))
}
