package app

import (
	"os/exec"
	"strings"
	"testing"
)

// TestRolesDoNotImportEachOther keeps the roles apart: each may use the shared packages, never
// another role (or the composition root).
func TestRolesDoNotImportEachOther(t *testing.T) {
	const mod = "github.com/sentinel-zt/sentinel/pkg/"
	roles := []string{"relay", "server", "client"}
	// doctor is a tool beside the roles: it may not borrow their internals either.
	for _, role := range append(roles, "doctor") {
		out, err := exec.Command("go", "list", "-deps", "./../"+role).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", role, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, other := range append(roles, "app", "doctor") {
				if other != role && dep == mod+other {
					t.Errorf("pkg/%s imports %s", role, dep)
				}
			}
		}
	}
}
