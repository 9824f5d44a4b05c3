package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/sentinel-zt/sentinel/bench/fwd"
	"github.com/sentinel-zt/sentinel/bench/load"
	"github.com/sentinel-zt/sentinel/bench/wan"
)

func cmdTarget(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("target", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	_ = fs.Parse(args)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr().String())
	var t load.Target
	context.AfterFunc(ctx, func() { ln.Close() })
	err = t.Serve(ln)
	if n := t.Errors.Load(); n > 0 {
		return fmt.Errorf("%d connections failed verification or the protocol", n)
	}
	return err
}

func cmdFwd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("fwd", flag.ExitOnError)
	role := fs.String("role", "", "entry, hop or exit")
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	next := fs.String("next", "", "next hop (entry, hop) or target (exit), host:port")
	pki := fs.String("pki", "", "directory written by `sentinel-bench pki`")
	_ = fs.Parse(args)
	r := fwd.Role(*role)
	if r != fwd.Entry && r != fwd.Hop && r != fwd.Exit {
		return fmt.Errorf("-role must be entry, hop or exit")
	}
	if *next == "" {
		return errors.New("-next is required")
	}
	t, err := fwd.LoadTLS(*pki)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	f := &fwd.Forwarder{Role: r, Next: *next, TLS: t}
	return f.Serve(ctx, ln)
}

func cmdPKI(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("pki", flag.ExitOnError)
	out := fs.String("out", "", "directory to write into")
	ips := fs.String("ips", "", "extra IP SANs, comma-separated")
	_ = fs.Parse(args)
	var extra []net.IP
	for _, s := range strings.Split(*ips, ",") {
		if s = strings.TrimSpace(s); s != "" {
			ip := net.ParseIP(s)
			if ip == nil {
				return fmt.Errorf("bad IP %q", s)
			}
			extra = append(extra, ip)
		}
	}
	return fwd.WritePKI(*out, extra...)
}

func cmdWAN(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("wan", flag.ExitOnError)
	a := fs.String("a", "", "first TUN device name")
	b := fs.String("b", "", "second TUN device name")
	delay := fs.Duration("delay", 25*time.Millisecond, "one-way delay")
	limit := fs.Int("limit", 100000, "queue limit per direction, packets")
	_ = fs.Parse(args)
	fa, err := wan.OpenTUN(*a)
	if err != nil {
		return err
	}
	fb, err := wan.OpenTUN(*b)
	if err != nil {
		return err
	}
	fmt.Println("ready")
	os.Stdout.Sync()
	l := &wan.Line{Delay: *delay, QueueLimit: *limit}
	err = l.Run(ctx, fa, fb)
	fmt.Fprintf(os.Stderr, "wan: %d packets, %d dropped\n", l.Packets.Load(), l.Dropped.Load())
	return err
}

func cmdWait(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("wait", flag.ExitOnError)
	addr := fs.String("addr", "", "host:port")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after")
	_ = fs.Parse(args)
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req := make([]byte, load.RequestSize)
	req[0] = load.ModeRequest
	resp := make([]byte, load.RequestSize)
	dial := load.TCP(*addr)
	var last error
	for {
		rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
		_, last = load.RoundTrip(rctx, dial, req, resp)
		rcancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: no round trip within %s: %w", *addr, *timeout, last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
