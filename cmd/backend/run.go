package main

import (
	"context"
	"errors"
)

// runRole loads the config and runs the role named by its certificate.
// PLACEHOLDER: the lead replaces this once the roles exist.
func runRole(ctx context.Context, configPath string) error {
	return errors.New("running a role is not built yet")
}
