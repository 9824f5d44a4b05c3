// Package identity holds a component's certificate, key, CA and decoded attributes, checked
// once when loaded and swapped atomically on reload.
package identity
