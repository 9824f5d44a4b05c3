package ca

import (
	"errors"
	"fmt"
)

// Errors callers decide on with errors.Is; the returned errors wrap them with the details.
var (
	// ErrNotInitialised: the CA directory has no root (run Init first).
	ErrNotInitialised = errors.New("not initialised")
	// ErrExists: Init over an existing CA, or a bundle file that would be overwritten.
	ErrExists = errors.New("already exists")
	// ErrUnknownServer: a server name not in the inventory.
	ErrUnknownServer = errors.New("unknown server")
	// ErrUnknownRelay: a relay name not in the inventory.
	ErrUnknownRelay = errors.New("unknown relay")
	// ErrNotLive: the named certificate exists but every certificate of it is revoked or expired.
	ErrNotLive = errors.New("no valid certificate")
	// ErrDuplicateRelay: a relay named twice in one request.
	ErrDuplicateRelay = errors.New("duplicate relay")
	// ErrTargetOutside: a client's IP target is outside every resource of its server.
	ErrTargetOutside = errors.New("outside every resource")
	// ErrNotFound: Revoke was given a name or serial the inventory does not hold.
	ErrNotFound = errors.New("not in the inventory")
	// ErrAlreadyRevoked: Revoke found only certificates that are already revoked.
	ErrAlreadyRevoked = errors.New("already revoked")
	// ErrRootExpired: the root certificate is no longer valid, so nothing can be issued.
	ErrRootExpired = errors.New("root certificate expired")
	// ErrTokenUnknown: an enrollment token id the inventory does not hold.
	ErrTokenUnknown = errors.New("unknown enrollment token")
	// ErrTokenUsed: an enrollment token with no use left.
	ErrTokenUsed = errors.New("enrollment token already used")
	// ErrTokenExpired: an enrollment token past its expiry.
	ErrTokenExpired = errors.New("enrollment token expired")
	// ErrTokenRevoked: an enrollment token an admin revoked.
	ErrTokenRevoked = errors.New("enrollment token revoked")
	// ErrNotAdmin: a certificate that is not a live admin certificate of this CA.
	ErrNotAdmin = errors.New("not an admin certificate")
)

// FieldError is a bad value in a request; Field names it in the request's own terms
// ("name", "addr", "port", "out_port", "relays", "resources", "target", "ttl", "key_type",
// "groups", "schedule", "reason", "next_update", "token_ttl", "uses", "role"), so a CLI can
// map it to its flag.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field string, err error) error { return &FieldError{Field: field, Err: err} }

func fieldErrorf(field, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}
