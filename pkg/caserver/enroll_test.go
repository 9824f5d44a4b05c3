package caserver_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sentinel-zt/sentinel/pkg/ca"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/config"
	"github.com/sentinel-zt/sentinel/pkg/enroll"
	"github.com/sentinel-zt/sentinel/pkg/identity"
)

func TestEnrollClient(t *testing.T) {
	f := newFixture(t, nil)
	out := filepath.Join(t.TempDir(), "alice")
	res, err := enroll.Enroll(context.Background(), enroll.Options{CA: f.url, Token: f.clientToken("alice", nil), Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if res.Role != certattrs.RoleClient || res.Name != "alice" {
		t.Errorf("enrolled %s %q", res.Role, res.Name)
	}
	fi, err := os.Stat(filepath.Join(out, "alice.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v %v", fi, err)
	}
	cfg, err := config.Load(res.Config, nil)
	if err != nil {
		t.Fatalf("bundle config: %v", err)
	}
	id, err := identity.Parse(cfg.Cert, cfg.Key, cfg.CA)
	if err != nil {
		t.Fatal(err)
	}
	cl := id.Attrs.Client
	if cl == nil || cl.Server.Name != "server1" || cl.Target.Host != "10.0.0.5" || len(cl.Relays) != 1 || cl.Relays[0].Name != "relay1" {
		t.Errorf("attrs %+v", id.Attrs)
	}
	if life := id.Leaf.NotAfter.Sub(id.Leaf.NotBefore); life > ca.OnlineClientLifetime+time.Minute || life < ca.OnlineClientLifetime {
		t.Errorf("lifetime %v, want %v", life, ca.OnlineClientLifetime)
	}
	recs, err := f.ca.List(ca.Filter{Role: certattrs.RoleClient, Name: "alice"})
	if err != nil || len(recs) != 1 || recs[0].Serial != res.Serial || recs[0].Token == "" {
		t.Fatalf("inventory %+v %v", recs, err)
	}
}
