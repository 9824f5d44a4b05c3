package ca

import (
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.step.sm/crypto/x509util"

	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/enrolltoken"
)

// onlineSetup puts a relay and a server in the inventory.
func onlineSetup(t *testing.T, c *CA) {
	t.Helper()
	mustIssue(t, c, relayReq("relay1", "relay.example.com", 8443))
	mustIssue(t, c, serverReq(t, "server1", nil, "10.0.0.0/24:3306"))
}

func clientToken(t *testing.T, c *CA, name string, mod func(*TokenRequest)) *Token {
	t.Helper()
	req := TokenRequest{Role: certattrs.RoleClient, Name: name, Spec: TokenSpec{Server: "server1", Target: "10.0.0.5:3306"}}
	if mod != nil {
		mod(&req)
	}
	tok, err := c.NewToken(req)
	if err != nil {
		t.Fatalf("NewToken: %v", err)
	}
	return tok
}

// signPlan signs a plan for a fresh key as the online CA would, and records it.
func signPlan(t *testing.T, c *CA, p *Plan, opts RecordOptions) *x509.Certificate {
	t.Helper()
	key, err := generateKey(KeyECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509util.CreateCertificate(p.template(key.Public()), c.root, key.Public(), c.key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Record(cert, opts); err != nil {
		t.Fatalf("Record: %v", err)
	}
	return cert
}

func TestOnlineInventory(t *testing.T) {
	for backend, open := range inventories {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			c := open(t, clk)
			onlineSetup(t, c)

			// Tokens: verifiable, recorded, single use unless said.
			tok := clientToken(t, c, "alice", nil)
			claims, err := enrolltoken.Verify(tok.JWT, mustEnrollKey(t, c).Public(), c.Fingerprint(), clk.Now())
			if err != nil || claims.ID != tok.Record.ID || claims.Role != certattrs.RoleClient || claims.Name != "alice" {
				t.Fatalf("token claims %+v %v", claims, err)
			}
			if _, err := c.UseToken(tok.Record.ID); err != nil {
				t.Fatalf("first use: %v", err)
			}
			if _, err := c.UseToken(tok.Record.ID); !errors.Is(err, ErrTokenUsed) {
				t.Errorf("second use: %v, want ErrTokenUsed", err)
			}
			if _, err := c.UseToken("nope"); !errors.Is(err, ErrTokenUnknown) {
				t.Errorf("unknown: %v", err)
			}
			short := clientToken(t, c, "bob", func(r *TokenRequest) { r.TTL = time.Minute })
			revoked := clientToken(t, c, "carol", nil)
			if _, err := c.RevokeToken(revoked.Record.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := c.UseToken(revoked.Record.ID); !errors.Is(err, ErrTokenRevoked) {
				t.Errorf("revoked: %v", err)
			}
			clk.Advance(2 * time.Minute)
			if _, err := c.UseToken(short.Record.ID); !errors.Is(err, ErrTokenExpired) {
				t.Errorf("expired: %v", err)
			}
			// A bad spec is refused when the token is made, not on the device.
			if _, err := c.NewToken(TokenRequest{Role: certattrs.RoleClient, Name: "dave", Spec: TokenSpec{Server: "nope", Target: "10.0.0.5:3306"}}); !errors.Is(err, ErrUnknownServer) {
				t.Errorf("token for an unknown server: %v", err)
			}
			toks, err := c.Tokens()
			if err != nil || len(toks) != 3 {
				t.Fatalf("Tokens: %d %v", len(toks), err)
			}
			for _, r := range toks {
				want := map[string]string{tok.Record.ID: "used", short.Record.ID: "expired", revoked.Record.ID: "revoked"}[r.ID]
				if s := r.Status(clk.Now()); s != want {
					t.Errorf("token %s status %q, want %q", r.Name, s, want)
				}
			}

			// N uses, taken concurrently: exactly N succeed.
			multi := clientToken(t, c, "fleet", func(r *TokenRequest) { r.Uses = 5 })
			var ok atomic.Int64
			var wg sync.WaitGroup
			for range 12 {
				wg.Go(func() {
					if _, err := c.UseToken(multi.Record.ID); err == nil {
						ok.Add(1)
					} else if !errors.Is(err, ErrTokenUsed) {
						t.Errorf("concurrent use: %v", err)
					}
				})
			}
			wg.Wait()
			if ok.Load() != 5 {
				t.Errorf("%d of 12 concurrent uses of a 5-use token succeeded", ok.Load())
			}

			// Plan resolves without recording; Record adds what the online CA signed.
			req, err := tok.Record.Spec.Request(certattrs.RoleClient, "alice")
			if err != nil {
				t.Fatal(err)
			}
			p, err := c.Plan(req, OnlineLifetime)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.NotAfter.Sub(clk.Now()); got != OnlineClientLifetime {
				t.Errorf("planned lifetime %v", got)
			}
			if recs, _ := c.List(Filter{Name: "alice"}); len(recs) != 0 {
				t.Fatalf("Plan recorded %d certificates", len(recs))
			}
			first := signPlan(t, c, p, RecordOptions{Token: tok.Record.ID, Ephemeral: true})
			p2, _ := c.Plan(req, OnlineLifetime)
			if p2.UUID != p.UUID || !p2.Reissued {
				t.Errorf("second plan for alice: uuid %s (was %s), reissued %v", p2.UUID, p.UUID, p2.Reissued)
			}
			// A renewal is linked to what it renews; revoking the old serial revokes both.
			renewed := signPlan(t, c, p2, RecordOptions{})
			if _, err := c.db.Exec(dialectQuery(c, `DELETE FROM certificates WHERE serial = ?`), SerialString(renewed)); err != nil {
				t.Fatal(err)
			}
			rec, err := c.RecordRenewal(first, renewed)
			if err != nil || rec.RenewedFrom != SerialString(first) || rec.Token != tok.Record.ID || !rec.Ephemeral {
				t.Fatalf("RecordRenewal %+v %v", rec, err)
			}
			revokedRecs, err := c.Revoke(SerialString(first), RevokeOptions{Reason: "key-compromise"})
			if err != nil || len(revokedRecs) != 2 {
				t.Fatalf("revoke by serial revoked %d: %v", len(revokedRecs), err)
			}
			if r, _ := c.Lookup(SerialString(renewed)); r.RevokedAt == nil {
				t.Error("the renewal of a revoked certificate is not revoked")
			}
			crl, err := c.CRL(CRLOptions{})
			if err != nil || len(crl.Entries) != 2 {
				t.Fatalf("CRL entries %d %v", len(crl.Entries), err)
			}
			state, err := c.RevocationState()
			if err != nil || state == "" {
				t.Fatal(state, err)
			}

			// Ephemeral records go once expired past the grace.
			clk.Advance(OnlineClientLifetime + 2*time.Hour)
			n, err := c.PruneEphemeral(time.Hour)
			if err != nil || n != 2 {
				t.Errorf("pruned %d ephemeral records: %v", n, err)
			}
			if recs, _ := c.List(Filter{Name: "alice"}); len(recs) != 0 {
				t.Errorf("alice still has %d records", len(recs))
			}
			if after, _ := c.RevocationState(); after == state {
				t.Error("revocation state unchanged after pruning revoked records")
			}

			// Admin certificates.
			adm, err := c.IssueAdmin("ops", 0)
			if err != nil {
				t.Fatal(err)
			}
			if name, err := c.CheckAdmin(adm.Cert); err != nil || name != "ops" {
				t.Errorf("CheckAdmin %q %v", name, err)
			}
			relayRec, _ := c.List(Filter{Role: certattrs.RoleRelay})
			relayCert, _ := x509.ParseCertificate(mustDER(t, c, relayRec[0].Serial))
			if _, err := c.CheckAdmin(relayCert); !errors.Is(err, ErrNotAdmin) {
				t.Errorf("a relay certificate as admin: %v", err)
			}
			if _, err := c.RevokeAdmin("ops"); err != nil {
				t.Fatal(err)
			}
			if _, err := c.CheckAdmin(adm.Cert); !errors.Is(err, ErrNotAdmin) {
				t.Errorf("revoked admin: %v", err)
			}
		})
	}
}

func dialectQuery(c *CA, q string) string { return c.dialect.rebind(q) }

func mustDER(t *testing.T, c *CA, serial string) []byte {
	t.Helper()
	var der []byte
	if err := c.q().QueryRow(`SELECT der FROM certificates WHERE serial = ?`, serial).Scan(&der); err != nil {
		t.Fatal(err)
	}
	return der
}

func mustEnrollKey(t *testing.T, c *CA) interface{ Public() any } {
	t.Helper()
	k, err := c.EnrollKey()
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(c.Dir(), EnrollKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v %v", EnrollKeyFile, fi, err)
	}
	return publicOf{k.Public()}
}

type publicOf struct{ pub any }

func (p publicOf) Public() any { return p.pub }

// TestPostgresInventory: a CA directory moved to PostgreSQL takes its SQLite records along,
// remembers the URL (mode 0600) for later commands, and refuses another URL.
func TestPostgresInventory(t *testing.T) {
	url := postgresURL(t)
	clk := newClock()
	c := newTestCA(t, clk, InitOptions{})
	onlineSetup(t, c)
	clientToken(t, c, "alice", nil)
	if _, err := c.Revoke("relay1", RevokeOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CRL(CRLOptions{}); err != nil {
		t.Fatal(err)
	}
	want, _ := c.List(Filter{})
	dir := c.Dir()
	c.Close()

	c, err := Open(dir, WithClock(clk.Now), WithInventory(url))
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.List(Filter{})
	if err != nil || len(got) != len(want) {
		t.Fatalf("records on postgres %d, sqlite had %d: %v", len(got), len(want), err)
	}
	for i := range want {
		if got[i].Serial != want[i].Serial || (got[i].RevokedAt == nil) != (want[i].RevokedAt == nil) {
			t.Errorf("record %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if toks, _ := c.Tokens(); len(toks) != 1 {
		t.Errorf("%d tokens copied", len(toks))
	}
	if crl, err := c.CRL(CRLOptions{}); err != nil || crl.Number != 2 {
		t.Errorf("CRL number on postgres %v %v, want 2", crl, err)
	}
	c.Close()
	if fi, err := os.Stat(filepath.Join(dir, InventoryURLFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v %v", InventoryURLFile, fi, err)
	}
	// Later commands need no URL; a different one is refused.
	c, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.dialect != dialectPostgres || c.Inventory() == filepath.Join(dir, InventoryFile) {
		t.Errorf("reopened on %s", c.Inventory())
	}
	c.Close()
	if _, err := Open(dir, WithInventory(url+"&application_name=other")); err == nil {
		t.Error("a second URL was accepted")
	}
}
