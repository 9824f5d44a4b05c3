//go:build linux

package system

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestAuditCorrelation: one MySQL connection leaves the same session id in the relay's, the
// server's and the client's audit trails, and the server's stream.open/stream.close count the
// bytes the client's stream.close counts, mirrored.
func TestAuditCorrelation(t *testing.T) {
	requireSystem(t)
	db := startMariaDB(t)
	d := newDeployment(t, deployOptions{targetPort: db.port})
	sid, err := d.clientSession()
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sqlDB := openMySQL(t, d.clientAddr, "")
	var got string
	if err := sqlDB.QueryRowContext(ctx, "SELECT REPEAT('x', 10000)").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != strings.Repeat("x", 10000) {
		t.Fatalf("SELECT REPEAT: got %d bytes", len(got))
	}
	// Closing the pool ends the connection (COM_QUIT), so both ends close the stream.
	if err := sqlDB.Close(); err != nil {
		t.Fatal(err)
	}

	var relayEvs, serverEvs, clientEvs []auditEvent
	eventually(t, 10*time.Second, "stream.close at server and client", func() error {
		var err error
		if serverEvs, err = readAudit(d.server.audit); err != nil {
			return err
		}
		if clientEvs, err = readAudit(d.client.audit); err != nil {
			return err
		}
		if len(findEvents(serverEvs, "stream.close", sid)) == 0 || len(findEvents(clientEvs, "stream.close", sid)) == 0 {
			return fmt.Errorf("no stream.close for session %s yet", sid)
		}
		return nil
	})
	if relayEvs, err = readAudit(d.relay.audit); err != nil {
		t.Fatal(err)
	}

	one := func(who string, evs []auditEvent, event string) auditEvent {
		t.Helper()
		found := findEvents(evs, event, sid)
		if len(found) != 1 {
			t.Fatalf("%s audit: %d %s events for session %s, want 1", who, len(found), event, sid)
		}
		return found[0]
	}
	want := func(who string, e auditEvent, fields map[string]string) {
		t.Helper()
		for k, v := range fields {
			if got := e.str(k); got != v {
				t.Errorf("%s %s: %s = %q, want %q", who, e.str("event"), k, got, v)
			}
		}
	}

	// The same session id at all three, each naming its peer.
	relayOpen := one("relay", relayEvs, "session.open")
	want("relay", relayOpen, map[string]string{
		"role": "relay", "name": "relay1", "peer_role": "client", "peer_name": "alice",
		"user": "alice@example.com", "server_name": "server1", "decision": "allow",
	})
	serverOpen := one("server", serverEvs, "session.open")
	want("server", serverOpen, map[string]string{
		"role": "server", "name": "server1", "peer_role": "client", "peer_name": "alice",
		"user": "alice@example.com", "via": "relay1", "decision": "allow",
	})
	clientOpen := one("client", clientEvs, "session.open")
	want("client", clientOpen, map[string]string{"role": "client", "name": "alice", "peer_name": "server1", "via": "relay1"})
	for who, e := range map[string]auditEvent{"relay": relayOpen, "server": serverOpen} {
		if e.str("peer_uuid") != clientOpen.str("uuid") {
			t.Errorf("%s session.open peer_uuid = %q, want the client's uuid %q", who, e.str("peer_uuid"), clientOpen.str("uuid"))
		}
	}

	// The stream at the server: opened to the target, closed with bytes both ways.
	target := fmt.Sprintf("127.0.0.1:%d", db.port)
	streamOpen := one("server", serverEvs, "stream.open")
	want("server", streamOpen, map[string]string{"target": target, "decision": "allow"})
	serverClose := one("server", serverEvs, "stream.close")
	clientClose := one("client", clientEvs, "stream.close")
	if streamOpen.num("stream") != serverClose.num("stream") || serverClose.num("stream") != clientClose.num("stream") {
		t.Errorf("stream numbers differ: server open %v, server close %v, client close %v",
			streamOpen["stream"], serverClose["stream"], clientClose["stream"])
	}
	in, out := serverClose.num("bytes_in"), serverClose.num("bytes_out")
	if in <= 0 || out < 10000 {
		t.Errorf("server stream.close bytes_in = %v, bytes_out = %v; want > 0 and >= 10000 (the SELECT's result)", in, out)
	}
	// What went into the tunnel at one end came out at the other.
	if clientClose.num("bytes_out") != in || clientClose.num("bytes_in") != out {
		t.Errorf("client stream.close bytes_in/out = %v/%v, server's bytes_out/in = %v/%v; want equal",
			clientClose.num("bytes_in"), clientClose.num("bytes_out"), out, in)
	}
	if serverClose.num("duration") <= 0 {
		t.Errorf("server stream.close duration = %v, want > 0", serverClose["duration"])
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("timed out")
	}
}

// TestAuditReopenOnSIGHUP: logrotate moves the server's audit file away and sends SIGHUP; the
// server writes the next events to a new file at the configured path, and the rotated file
// keeps what came before. Nothing is lost in between.
func TestAuditReopenOnSIGHUP(t *testing.T) {
	requireSystem(t)
	tg := startTarget(t)
	d := newDeployment(t, deployOptions{targetPort: tg.port()})
	if err := echoOnce(d.clientAddr, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	// The stream before the rotation is closed (and logged) before the file moves.
	eventually(t, 10*time.Second, "stream.close before the rotation", func() error {
		evs, err := readAudit(d.server.audit)
		if err != nil {
			return err
		}
		if len(findEvents(evs, "stream.close", "")) == 0 {
			return errors.New("no stream.close yet")
		}
		return nil
	})
	rotated := d.server.audit + ".1"
	if err := os.Rename(d.server.audit, rotated); err != nil {
		t.Fatal(err)
	}
	if err := d.server.proc.signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the server's new audit file", func() error {
		_, err := os.Stat(d.server.audit)
		return err
	})
	if err := echoOnce(d.clientAddr, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "stream events in the new file", func() error {
		evs, err := readAudit(d.server.audit)
		if err != nil {
			return err
		}
		if len(findEvents(evs, "stream.open", "")) != 1 || len(findEvents(evs, "stream.close", "")) != 1 {
			return fmt.Errorf("new file has %d events: want the second connection's stream.open and stream.close", len(evs))
		}
		return nil
	})
	old, err := readAudit(rotated)
	if err != nil {
		t.Fatal(err)
	}
	if len(findEvents(old, "session.open", "")) != 1 || len(findEvents(old, "stream.open", "")) != 1 || len(findEvents(old, "stream.close", "")) != 1 {
		t.Fatalf("rotated file: %d events, want the session's open and the first stream's open and close", len(old))
	}
}
