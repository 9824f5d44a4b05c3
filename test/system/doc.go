// Package system holds end-to-end tests that run the built backend binary as relay, server
// and client processes against a real MariaDB and a real nginx (harness in harness_test.go).
//
// `make test` installs MariaDB and nginx when missing (scripts/deps.sh mariadb nginx) and runs
// them with SENTINEL_SYSTEM_TESTS=1, which turns missing tools into a failure; without it they
// skip. On their own: go test -race ./test/system. SENTINEL_REPORT=1 go test -v -run
// TestReportNumbers ./test/system measures throughput and latency through the tunnel.
//
// The fault tests (fault_test.go, deployment in fleet_test.go) kill, freeze and restart
// relays and the server, reload nginx and stall a reader, and log what they measure with -v.
// `make soak` runs TestSoak (SENTINEL_SOAK=1, not in `make test`): thousands of short
// connections over minutes, with goroutines, open files and RSS back to their baseline after.
package system
