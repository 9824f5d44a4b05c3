// Package doctor checks a Sentinel configuration end to end, step by step, and says how to fix
// each step that fails: the config, the certificate set, and the network path the role named
// by the certificate depends on.
package doctor
