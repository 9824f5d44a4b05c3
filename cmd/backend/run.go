package main

import (
	"context"
	"os"

	"github.com/sentinel-zt/sentinel/pkg/app"
)

// runRole loads the config and runs the role named by its certificate.
func runRole(ctx context.Context, configPath string) error {
	return app.Run(ctx, configPath, os.Stderr)
}
