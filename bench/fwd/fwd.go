// Package fwd is the baseline `make bench` compares Sentinel with: a minimal TLS 1.3
// forwarder, client → forwarder → server, with two mutually authenticated TLS hops
// (ECDSA P-256, AES-GCM) and nothing else: no WebSocket, no multiplexer, no inner session.
// Its throughput is what the cryptography of two hops costs on this machine.
//
// Three processes play the three parts: Entry takes plain TCP (the load tool) and opens a TLS
// connection to the hop; Hop terminates that TLS and opens a second one to the exit; Exit
// terminates it and dials the target. Every connection is a fresh full handshake (no session
// resumption), as every Sentinel session is.
package fwd

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sentinel-zt/sentinel/pkg/pipe"
)

// Files written by WritePKI and read by LoadTLS, in one directory.
const (
	caFile   = "fwd-ca.crt"
	certFile = "fwd.crt"
	keyFile  = "fwd.key"
)

// WritePKI mints a throwaway CA and one leaf certificate (server and client usage, SANs
// 127.0.0.1 plus ips) into dir.
func WritePKI(dir string, ips ...net.IP) error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sentinel-bench fwd CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(7 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "fwd"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(7 * 24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:    []string{"fwd.bench"},
		IPAddresses: append([]net.IP{net.IPv4(127, 0, 0, 1)}, ips...),
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, key.Public(), caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for name, block := range map[string]*pem.Block{
		caFile:   {Type: "CERTIFICATE", Bytes: caDER},
		certFile: {Type: "CERTIFICATE", Bytes: leafDER},
		keyFile:  {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(block), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// TLS holds the configurations of both ends of a hop.
type TLS struct {
	Server, Client *tls.Config
}

// LoadTLS reads the files WritePKI wrote: TLS 1.3 only, client certificates required and
// verified, no session tickets.
func LoadTLS(dir string) (*TLS, error) {
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, certFile), filepath.Join(dir, keyFile))
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, caFile))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("fwd: no CA certificate")
	}
	return &TLS{
		Server: &tls.Config{
			MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert},
			ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, SessionTicketsDisabled: true,
		},
		Client: &tls.Config{
			MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert}, RootCAs: pool,
			ServerName: "fwd.bench",
		},
	}, nil
}

// Role is the part a forwarder process plays.
type Role string

const (
	Entry Role = "entry" // plain TCP in, TLS out
	Hop   Role = "hop"   // TLS in, TLS out
	Exit  Role = "exit"  // TLS in, plain TCP out
)

// Forwarder accepts on a listener and joins each connection to a new one to Next.
type Forwarder struct {
	Role Role
	Next string // host:port of the next hop or of the target
	TLS  *TLS
}

// Serve accepts until ctx ends.
func (f *Forwarder) Serve(ctx context.Context, ln net.Listener) error {
	if f.Role != Entry {
		ln = tls.NewListener(ln, f.TLS.Server)
	}
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("accept: %w", err)
		}
		wg.Go(func() { f.handle(ctx, c) })
	}
}

func (f *Forwarder) handle(ctx context.Context, in net.Conn) {
	defer in.Close()
	if tc, ok := in.(*tls.Conn); ok {
		hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			return
		}
	}
	d := net.Dialer{Timeout: 10 * time.Second}
	var out net.Conn
	var err error
	if f.Role == Exit {
		out, err = d.DialContext(ctx, "tcp", f.Next)
	} else {
		td := tls.Dialer{NetDialer: &d, Config: f.TLS.Client}
		out, err = td.DialContext(ctx, "tcp", f.Next)
	}
	if err != nil {
		return
	}
	_, _, _ = pipe.Join(ctx, in, out)
}
