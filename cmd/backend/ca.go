package main

import "github.com/spf13/cobra"

// PLACEHOLDER: the CA helper replaces this file with the `ca` command tree.
func newCACmd() *cobra.Command {
	return &cobra.Command{Use: "ca", Short: "Offline certificate authority"}
}
