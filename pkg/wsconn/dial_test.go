package wsconn

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sentinel-zt/sentinel/pkg/tunnel"
)

func TestDialRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(tunnel.HeaderDeny, "not_allowed")
		http.Error(w, "forbidden: not_allowed", http.StatusForbidden)
	}))
	defer srv.Close()

	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/v1/client?server=secret-query"
	ws, resp, err := Dial(context.Background(), url, nil, nil)
	if ws != nil {
		ws.Close()
		t.Fatal("Dial returned a conn on refusal")
	}
	var re *RefusedError
	if !errors.As(err, &re) || re.StatusCode != http.StatusForbidden || re.Deny != "not_allowed" {
		t.Fatalf("Dial err = %v, want *RefusedError{403, not_allowed}", err)
	}
	if !errors.Is(err, websocket.ErrBadHandshake) {
		t.Fatalf("Dial err = %v, want it to wrap websocket.ErrBadHandshake", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "403") || !strings.Contains(msg, "not_allowed") || strings.Contains(msg, "secret-query") {
		t.Fatalf("Dial err = %q, want the status and deny code and no query", msg)
	}
	if resp == nil || resp.StatusCode != http.StatusForbidden || resp.Header.Get(tunnel.HeaderDeny) != "not_allowed" {
		t.Fatalf("resp = %+v, want the 403 with its Sentinel-Deny header", resp)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil || string(body) != "forbidden: not_allowed\n" {
		t.Fatalf("body = %q, %v", body, err)
	}
	resp.Body.Close()
}

func TestDialUnreachableAndCanceled(t *testing.T) {
	// A listener that accepts and never answers: the handshake waits until ctx ends.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	defer func() {
		ln.Close()
		for c := range accepted {
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, resp, err := Dial(ctx, "ws://"+ln.Addr().String()+"/", nil, nil)
	if err == nil || resp != nil {
		t.Fatalf("Dial = %v, %v; want an error and no response", resp, err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Fatalf("Dial took %v despite ctx", elapsed)
	}
}

func TestUpgraderOrigin(t *testing.T) {
	s := newWSServer(t)
	for _, tc := range []struct {
		name   string
		origin []string // nil: no header
		ok     bool
	}{
		{"no origin (our peers)", nil, true},
		{"cross-site browser", []string{"https://evil.example"}, false},
		{"same-origin browser", []string{s.URL}, false},
		{"opaque origin", []string{"null"}, false},
		{"empty origin header", []string{""}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.origin != nil {
				h["Origin"] = tc.origin
			}
			ws, resp, err := Dial(context.Background(), s.wsURL(), h, nil)
			if tc.ok {
				if err != nil {
					t.Fatalf("Dial = %v, want success", err)
				}
				ws.Close()
				(<-s.conns).Close()
				return
			}
			if err == nil {
				ws.Close()
				(<-s.conns).Close()
				t.Fatal("Dial succeeded, want 403")
			}
			if resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Fatalf("Dial = %v, want 403", err)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"wss://relay.example:8443/v1/bind?session=abc": "wss://relay.example:8443/v1/bind",
		"ws://user:pw@host/x#frag":                     "ws://host/x",
		"::bad":                                        "websocket url",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
