package tunnel

import (
	"net/url"
	"testing"
)

func TestRelayURL(t *testing.T) {
	q := url.Values{QueryServer: {"abc"}}
	tests := map[string]struct {
		addr string
		port int
		want string
	}{
		"ok/host-implies-wss":     {"relay.example.com", 8443, "wss://relay.example.com:8443/v1/client?server=abc"},
		"ok/ipv4":                 {"127.0.0.1", 18443, "wss://127.0.0.1:18443/v1/client?server=abc"},
		"ok/ipv6":                 {"::1", 8443, "wss://[::1]:8443/v1/client?server=abc"},
		"ok/ws-url-takes-port":    {"ws://127.0.0.1", 8080, "ws://127.0.0.1:8080/v1/client?server=abc"},
		"ok/url-port-wins":        {"wss://cdn.example.com:443", 8443, "wss://cdn.example.com:443/v1/client?server=abc"},
		"ok/url-path-prefix":      {"wss://cdn.example.com/sentinel/", 443, "wss://cdn.example.com:443/sentinel/v1/client?server=abc"},
		"ok/url-without-any-port": {"wss://cdn.example.com", 0, "wss://cdn.example.com/v1/client?server=abc"},
		"fail/http-scheme":        {"http://relay", 80, ""},
		"fail/url-without-host":   {"wss://:443", 0, ""},
		"fail/unparsable-url":     {"wss://[::1", 0, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := RelayURL(tc.addr, tc.port, PathClient, q)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("RelayURL(%q) = %q, want an error", tc.addr, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("RelayURL(%q, %d) = %q, %v; want %q", tc.addr, tc.port, got, err, tc.want)
			}
		})
	}
}
