package secure

import "errors"

// Sentinel errors, tested with errors.Is. Returned errors wrap them with
// detail (file names, never file contents).
var (
	// ErrTLSConfig is returned for TLS settings that cannot work: a
	// certificate without its key, a CA file with no certificate, client
	// authentication without a CA, unreadable or malformed files.
	ErrTLSConfig = errors.New("secure: bad TLS configuration")
	// ErrSecret is returned when a secret file cannot be used: missing,
	// empty, or readable by other users.
	ErrSecret = errors.New("secure: bad secret")
)
