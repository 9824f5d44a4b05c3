// Package system holds end-to-end tests that run the built backend binary as relay, server
// and client processes against a real MariaDB and a real nginx (harness in harness_test.go).
//
// `make test` installs MariaDB and nginx when missing (scripts/deps.sh mariadb nginx) and runs
// them with SENTINEL_SYSTEM_TESTS=1, which turns missing tools into a failure; without it they
// skip. On their own: go test -race ./test/system. SENTINEL_REPORT=1 go test -v -run
// TestReportNumbers ./test/system measures throughput and latency through the tunnel.
package system
