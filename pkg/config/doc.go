// Package config loads a role's TOML configuration: defaults, then the file, then
// SENTINEL_<SECTION>_<KEY> environment overrides, then validation.
//
// One table of keys, derived from the struct tags of Config by Keys, drives the TOML
// decoding, the environment names and the documentation, so a key added to Config is
// a file key and an environment variable at once.
package config
