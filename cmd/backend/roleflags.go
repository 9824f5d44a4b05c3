package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sentinel-zt/sentinel/pkg/ca"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
)

// relayFlags, serverFlags and clientFlags are the certificate attributes that `ca issue` and
// `ca token` both take: declared and checked once, so the two commands cannot drift apart.
// relaysDefault ends the --relay help: where the relays come from when none is named.

type relayFlags struct {
	addr string
	port int
}

func (r *relayFlags) bind(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&r.addr, "addr", "", "public address: host name, IP, or ws:// / wss:// URL when behind a proxy or CDN (required)")
	f.IntVar(&r.port, "port", 8443, "port the relay listens on")
	_ = cmd.MarkFlagRequired("addr")
}

type serverFlags struct {
	relays, resources []string
	host              string
	port, outPort     int
}

func (s *serverFlags) bind(cmd *cobra.Command, relaysDefault string) {
	f := cmd.Flags()
	f.StringArrayVar(&s.relays, "relay", nil, "relay to register with, repeatable, tried in this order (default: "+relaysDefault+")")
	f.StringArrayVar(&s.resources, "resource", nil, "allowed destination, repeatable (at least one): [NAME=]CIDR:PORT or [NAME=]CIDR:FIRST-LAST; unnamed ones are res1, res2, ... by position")
	f.StringVar(&s.host, "host", "", "direct mode: host name or IP clients dial (needs --port)")
	f.IntVar(&s.port, "port", 0, "direct mode: port of the direct listener (default none)")
	f.IntVar(&s.outPort, "out-port", 0, "direct mode: externally reachable port (default --port)")
	_ = cmd.MarkFlagRequired("resource")
}

// parse checks the flags and returns the resources.
func (s *serverFlags) parse(cmd *cobra.Command) ([]certattrs.Resource, error) {
	var out []certattrs.Resource
	for _, v := range s.resources {
		r, err := ca.ParseResourceFlag(v)
		if err != nil {
			return nil, fmt.Errorf("--resource: %w", err)
		}
		out = append(out, r)
	}
	if cmd.Flags().Changed("port") && s.port == 0 {
		return nil, errors.New("--port: 0 out of range 1-65535 (leave --port out for no direct mode)")
	}
	return out, nil
}

type clientFlags struct {
	server, target, user, schedule string
	relays, groups                 []string
	port                           int
}

func (c *clientFlags) bind(cmd *cobra.Command, relaysDefault string) {
	f := cmd.Flags()
	f.StringVar(&c.server, "server", "", "name of the server the client may reach (required)")
	f.StringVar(&c.target, "target", "", "HOST:PORT the client's connections go to, an IP inside the server's resources or a DNS name (required)")
	f.IntVar(&c.port, "port", ca.DefaultClientPort, "local port the client listens on")
	f.StringArrayVar(&c.relays, "relay", nil, "relay to use, repeatable, tried in this order (default: "+relaysDefault+")")
	f.StringVar(&c.user, "user", "", "user the certificate belongs to, e.g. alice@example.com")
	f.StringArrayVar(&c.groups, "group", nil, "group of the user, repeatable")
	f.StringVar(&c.schedule, "schedule", "", `when the client may connect: "DAYS HH:MM-HH:MM ZONE", e.g. "mon-fri 08:00-18:00 Europe/Paris" (DAYS: daily, or days and ranges joined by commas)`)
	for _, n := range []string{"server", "target"} {
		_ = cmd.MarkFlagRequired(n)
	}
}

// parse checks the flags and returns the target and the schedule (nil: any time).
func (c *clientFlags) parse() (certattrs.Target, *certattrs.Schedule, error) {
	t, err := ca.ParseTarget(c.target)
	if err != nil {
		return t, nil, fmt.Errorf("--target: %w", err)
	}
	if c.schedule == "" {
		return t, nil, nil
	}
	s, err := ca.ParseSchedule(c.schedule)
	if err != nil {
		return t, nil, fmt.Errorf("--schedule: %w", err)
	}
	return t, s, nil
}
