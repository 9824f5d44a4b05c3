package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/config"
)

// Status is the outcome of one check.
type Status string

// The outcomes. Only StatusFail makes a report fail; a warning is worth acting on but does
// not stop the role from working, and a skipped check was not run (Detail says why).
const (
	StatusPass Status = "pass"
	StatusWarn Status = "warn"
	StatusFail Status = "fail"
	StatusSkip Status = "skip"
)

// Check is one step of a run.
type Check struct {
	Name   string // what was checked: "certificate and key match", "relay relay1 (wss://h:8443): accepts TCP"
	Status Status
	Detail string // what was found: the reason of a failure or warning, facts of a pass; may be ""
	Fix    string // what to do, for failures and warnings; "" when there is nothing to do
}

// Report lists the checks of a run in the order they ran.
type Report struct {
	Checks []Check
}

// OK reports whether no check failed. Warnings and skipped checks do not fail a report, but a
// report without any check (which Run never returns) is not OK.
func (r Report) OK() bool {
	if len(r.Checks) == 0 {
		return false
	}
	for _, c := range r.Checks {
		if c.Status == StatusFail {
			return false
		}
	}
	return true
}

// Resolver looks up a relay's addresses.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Defaults for Options.
const (
	DefaultStepTimeout = 5 * time.Second
	DefaultTimeout     = 30 * time.Second
)

// Options tune a run. The zero value is what `backend doctor` uses.
type Options struct {
	// Now is the time the certificate's validity is judged at; nil means time.Now. Peers
	// judge tokens and certificates by their own clocks.
	Now func() time.Time
	// LookupEnv supplies SENTINEL_* overrides to config.Load; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// StepTimeout bounds each network step (DNS, TCP, TLS, the WebSocket request, the
	// end-to-end handshake; reading the stream status gets twice as long, since the server
	// dials the target first). Zero means DefaultStepTimeout.
	StepTimeout time.Duration
	// Timeout bounds the whole run; checks not reached in time are skipped, and a last check,
	// "every check ran", fails. Zero means DefaultTimeout.
	Timeout time.Duration
	// Resolver resolves relay host names for the DNS and TCP checks; nil means
	// net.DefaultResolver. The WebSocket request itself resolves through the system, as the
	// roles do.
	Resolver Resolver
	// Progress, if not nil, is called with each check as it completes, in report order, so a
	// caller can print while slow network checks run.
	Progress func(Check)
}

func (o Options) withDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.LookupEnv == nil {
		o.LookupEnv = os.LookupEnv
	}
	if o.StepTimeout <= 0 {
		o.StepTimeout = DefaultStepTimeout
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	return o
}

// Run checks the configuration at cfgPath, in order:
//
//  1. the config loads (config.Load); nothing else runs when it does not;
//  2. the certificate and key match;
//  3. the certificate chains to the CA;
//  4. its role and attributes decode and validate (role, name and uuid are reported);
//  5. it is inside its validity period, with a warning in the last 20% of its lifetime;
//  6. for a client or a server, each relay of the certificate in sort order resolves, accepts
//     TCP, completes TLS, answers the WebSocket request and accepts our token (a client also
//     learns whether its server is registered there); for a relay, relay.listen can be bound
//     or is held by a running relay;
//  7. for a client, the pinned end-to-end TLS session to its server through the first relay
//     that accepted, and one stream to the target, whose status line the server answers.
//
// Every network step is bounded by Options.StepTimeout and the whole run by Options.Timeout
// (closing connections afterwards takes at most a few seconds more). A run that ran out of
// time or whose ctx ended ends with a failed "every check ran".
// Run only reads the configuration; the network checks are seen by the peers as a short
// session (client) or a short second registration (server).
func Run(ctx context.Context, cfgPath string, opts Options) Report {
	opts = opts.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	r := &runner{ctx: ctx, opts: opts}
	r.run(cfgPath)
	if r.incomplete {
		// Checks that did not run vouch for nothing: such a report must not pass.
		r.fail("every check ran", r.endReason(),
			"run the doctor again; if it runs out of time, raise --timeout (Options.Timeout)")
	}
	return r.report
}

// runner carries one run's state.
type runner struct {
	ctx        context.Context // the whole run's budget
	opts       Options
	report     Report
	incomplete bool // some check was skipped because the run ran out of time or was interrupted
}

func (r *runner) add(c Check) {
	c.Detail = oneLine(c.Detail)
	c.Fix = oneLine(c.Fix)
	r.report.Checks = append(r.report.Checks, c)
	if r.opts.Progress != nil {
		r.opts.Progress(c)
	}
}

func (r *runner) pass(name, detail string) {
	r.add(Check{Name: name, Status: StatusPass, Detail: detail})
}
func (r *runner) skip(name, detail string) {
	r.add(Check{Name: name, Status: StatusSkip, Detail: detail})
}
func (r *runner) fail(name, detail, fix string) {
	r.add(Check{Name: name, Status: StatusFail, Detail: detail, Fix: fix})
}
func (r *runner) warn(name, detail, fix string) {
	r.add(Check{Name: name, Status: StatusWarn, Detail: detail, Fix: fix})
}

// step returns the context of one network step.
func (r *runner) step() (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.ctx, r.opts.StepTimeout)
}

// outOfTime reports whether the run's budget is spent.
func (r *runner) outOfTime() bool { return r.ctx.Err() != nil }

// skipNotReached skips a check the run has no time left for, or was interrupted before.
func (r *runner) skipNotReached(name string) {
	r.incomplete = true
	r.skip(name, r.notReached())
}

// notReached is the detail of a check skipped because the run's budget is spent or the run
// was interrupted.
func (r *runner) notReached() string { return "not checked: " + r.endReason() }

// endReason says why the run ended early.
func (r *runner) endReason() string {
	if errors.Is(r.ctx.Err(), context.Canceled) {
		return "the run was interrupted"
	}
	return fmt.Sprintf("the doctor's %s time limit ran out", human(r.opts.Timeout))
}

func (r *runner) run(cfgPath string) {
	const name = "config parses"
	cfg, err := config.Load(cfgPath, r.opts.LookupEnv)
	if err != nil {
		r.fail(name, err.Error(), "correct the config file (the error names the key); every key is also the variable SENTINEL_<SECTION>_<KEY>")
		return
	}
	r.pass(name, cfgPath)
	id, usable := r.checkIdentity(cfg)
	if !usable {
		r.skip("network checks", "not run until the certificate problems above are fixed")
		return
	}
	switch id.Attrs.Role() {
	case certattrs.RoleClient:
		r.checkClient(cfg, id)
	case certattrs.RoleServer:
		r.checkServer(id)
	case certattrs.RoleRelay:
		r.checkListen(cfg, id)
	}
}

// describe words a network error, naming a timeout as one.
func (r *runner) describe(err error) string {
	switch {
	case errors.Is(r.ctx.Err(), context.Canceled) && errors.Is(err, context.Canceled):
		return "interrupted"
	case r.outOfTime() && errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("timed out: the doctor's %s time limit ran out", human(r.opts.Timeout))
	case isTimeout(err):
		return fmt.Sprintf("no answer within %s (%v)", human(r.opts.StepTimeout), err)
	}
	return err.Error()
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// human formats a duration for people: "29d 23h", "23h 59m", "5m", "45s".
func human(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	switch {
	case d < time.Second:
		return sign + d.Round(time.Millisecond).String()
	case d < time.Minute:
		return sign + d.Round(time.Second).String()
	case d < 48*time.Hour:
		d = d.Round(time.Minute)
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		switch {
		case h == 0:
			return fmt.Sprintf("%s%dm", sign, m)
		case m == 0:
			return fmt.Sprintf("%s%dh", sign, h)
		}
		return fmt.Sprintf("%s%dh %dm", sign, h, m)
	}
	d = d.Round(time.Hour)
	days, h := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
	if h == 0 {
		return fmt.Sprintf("%s%dd", sign, days)
	}
	return fmt.Sprintf("%s%dd %dh", sign, days, h)
}

// oneLine keeps a detail on one line for the report's line-per-check form.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if !strings.ContainsAny(s, "\r\n\t") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}
