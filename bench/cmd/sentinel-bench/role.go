package main

import (
	"context"
	"errors"
	"flag"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"github.com/sentinel-zt/sentinel/pkg/app"
)

// cmdRole runs a role exactly as `backend -c config.toml` does (pkg/app.Run), with Go's
// profiling endpoints on -pprof: the roles themselves have no profiling flag.
//
//	go tool pprof http://127.0.0.1:6060/debug/pprof/profile?seconds=10
//	go tool pprof -sample_index=inuse_space http://127.0.0.1:6060/debug/pprof/heap
func cmdRole(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("role", flag.ExitOnError)
	cfg := fs.String("c", "", "config.toml")
	addr := fs.String("pprof", "127.0.0.1:6060", "profiling listener")
	_ = fs.Parse(args)
	if *cfg == "" {
		return errors.New("-c is required")
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	return app.Run(ctx, *cfg, os.Stderr)
}
