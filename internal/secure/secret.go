package secure

import (
	"crypto/subtle"
	"fmt"
	"os"
	"strings"
)

// Secret is a password, token or key. It formats as "[redacted]" with every
// fmt verb, so a Secret that reaches a log line, an error or a struct dump
// shows nothing. Reveal returns the value for the one place that needs it.
type Secret struct{ v string }

// NewSecret wraps s.
func NewSecret(s string) Secret { return Secret{v: s} }

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return s.v }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.v == "" }

// Equal compares in constant time.
func (s Secret) Equal(o Secret) bool {
	return subtle.ConstantTimeCompare([]byte(s.v), []byte(o.v)) == 1
}

const redacted = "[redacted]"

// String implements fmt.Stringer.
func (Secret) String() string { return redacted }

// GoString implements fmt.GoStringer (%#v).
func (Secret) GoString() string { return redacted }

// Format implements fmt.Formatter, so %x, %q and %d reveal nothing either.
func (Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// MarshalText keeps a Secret out of JSON and other text encodings.
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// ReadSecret reads a secret from a file: its content with surrounding white
// space trimmed. It refuses an empty file and a file other users may read
// or write (as ssh does with keys), so a secret is never silently exposed.
func ReadSecret(path string) (Secret, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return Secret{}, fmt.Errorf("%w: %w", ErrSecret, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return Secret{}, fmt.Errorf("%w: %s is accessible to other users (mode %v); chmod 600 it", ErrSecret, path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Secret{}, fmt.Errorf("%w: %w", ErrSecret, err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return Secret{}, fmt.Errorf("%w: %s is empty", ErrSecret, path)
	}
	return Secret{v: v}, nil
}

// WriteSecret writes a secret to a new file only its owner can read.
func WriteSecret(path string, s Secret) error {
	return os.WriteFile(path, []byte(s.v+"\n"), 0o600)
}
