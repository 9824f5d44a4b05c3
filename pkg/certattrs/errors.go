package certattrs

import (
	"errors"
	"strconv"
)

// ErrNoExtension is returned (wrapped) by Decode when a certificate carries no Sentinel
// attributes extension.
var ErrNoExtension = errors.New("no sentinel attributes extension (" + OIDString + ")")

// FieldError is a decoding or validation error about one field of the document. Field is
// its path from the document root, e.g. "attrs.resources[1].host".
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field, msg string) error {
	return &FieldError{Field: field, Err: errors.New(msg)}
}

// join returns the path of key inside the object at path.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// index returns the path of element i of the array at path.
func index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}
