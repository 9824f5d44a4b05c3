package doctor

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

func TestDoctorHuman(t *testing.T) {
	for d, want := range map[time.Duration]string{
		250 * time.Millisecond:          "250ms",
		45 * time.Second:                "45s",
		5*time.Minute + 10*time.Second:  "5m",
		59*time.Minute + 59*time.Second: "1h",
		time.Hour + time.Minute:         "1h 1m",
		23*time.Hour + 59*time.Minute:   "23h 59m",
		30 * 24 * time.Hour:             "30d",
		29*24*time.Hour + 23*time.Hour:  "29d 23h",
		-(90 * time.Minute):             "-1h 30m",
		2*24*time.Hour + 20*time.Minute: "2d",
		47*time.Hour + 59*time.Minute:   "47h 59m",
	} {
		if got := human(d); got != want {
			t.Errorf("human(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestDoctorReportOK(t *testing.T) {
	for _, tc := range []struct {
		statuses []Status
		ok       bool
	}{
		{nil, false},
		{[]Status{StatusPass}, true},
		{[]Status{StatusPass, StatusWarn, StatusSkip}, true},
		{[]Status{StatusPass, StatusFail, StatusWarn}, false},
	} {
		var r Report
		for _, s := range tc.statuses {
			r.Checks = append(r.Checks, Check{Name: "x", Status: s})
		}
		if r.OK() != tc.ok {
			t.Errorf("Report%v.OK() = %v, want %v", tc.statuses, r.OK(), tc.ok)
		}
	}
}

// TestDoctorProxyFor: the proxy is looked up the way gorilla's dialer does (ws→http,
// wss→https), and the DNS and TCP checks then aim at the proxy.
func TestDoctorProxyFor(t *testing.T) {
	proxy := func(req *http.Request) (*url.URL, error) {
		if req.URL.Scheme == "https" && req.URL.Hostname() != "direct.example.com" {
			return url.Parse("http://proxy.corp:3128")
		}
		return nil, nil
	}
	for raw, want := range map[string]string{
		"wss://relay.example.com:8443": "proxy.corp:3128",
		"wss://direct.example.com:443": "direct.example.com:443",
		"ws://relay.example.com:80":    "relay.example.com:80",
	} {
		u, _ := url.Parse(raw)
		p, err := proxyFor(proxy, u)
		if err != nil {
			t.Fatal(err)
		}
		ep := relayEndpoint{url: u, host: u.Hostname(), port: u.Port(), proxy: p}
		host, port, what := ep.dialTarget()
		if got := host + ":" + port; got != want {
			t.Errorf("%s: dial target %s, want %s", raw, got, want)
		}
		if (p != nil) != (what != "") {
			t.Errorf("%s: proxy %v but description %q", raw, p, what)
		}
	}
}
