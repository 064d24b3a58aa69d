package acl

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// PBKDF2 parameters of the hashes HashPassword writes and Parse accepts.
const (
	// DefaultIterations is what HashPassword uses: about 1.6 ms to check
	// on one core, paid once per connection.
	DefaultIterations = 10000
	// MinIterations and MaxIterations bound what an ACL file may ask for:
	// fewer is too cheap to guess, more makes every AUTH a CPU burden.
	MinIterations = 1000
	MaxIterations = 1000000
	saltLen       = 16
	keyLen        = 32
	pbkdf2Prefix  = "$pbkdf2-sha256$"
)

var b64 = base64.RawStdEncoding

// hash is one stored password hash.
type hash struct {
	// iter is 0 for a plain SHA-256 ("#hex").
	iter int
	salt []byte
	key  []byte
}

// matches reports whether password hashes to h, in constant time for a
// given h.
func (h hash) matches(password []byte) bool {
	var got []byte
	if h.iter == 0 {
		sum := sha256.Sum256(password)
		got = sum[:]
	} else {
		k, err := pbkdf2.Key(sha256.New, string(password), h.salt, h.iter, keyLen)
		if err != nil {
			return false
		}
		got = k
	}
	return subtle.ConstantTimeCompare(got, h.key) == 1
}

// parseHash parses "#hex" or "$pbkdf2-sha256$...". Its errors never quote
// the token.
func parseHash(tok string) (hash, error) {
	if hexs, ok := strings.CutPrefix(tok, "#"); ok {
		k, err := hex.DecodeString(hexs)
		if err != nil || len(k) != sha256.Size {
			return hash{}, fmt.Errorf("a #hash must be 64 hex digits (the SHA-256 of the password)")
		}
		return hash{key: k}, nil
	}
	parts := strings.Split(strings.TrimPrefix(tok, pbkdf2Prefix), "$")
	if len(parts) != 3 {
		return hash{}, fmt.Errorf("a $pbkdf2-sha256$ hash has the form $pbkdf2-sha256$ITER$SALT$KEY")
	}
	iter, err := strconv.Atoi(parts[0])
	if err != nil || iter < MinIterations || iter > MaxIterations {
		return hash{}, fmt.Errorf("$pbkdf2-sha256$ iterations must be %d to %d", MinIterations, MaxIterations)
	}
	salt, err1 := b64.DecodeString(parts[1])
	key, err2 := b64.DecodeString(parts[2])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) != keyLen {
		return hash{}, fmt.Errorf("$pbkdf2-sha256$ salt (8 bytes or more) and key (%d bytes) must be unpadded base64", keyLen)
	}
	return hash{iter: iter, salt: salt, key: key}, nil
}

// isHash reports whether tok is meant as a password hash.
func isHash(tok string) bool {
	return strings.HasPrefix(tok, "#") || strings.HasPrefix(tok, pbkdf2Prefix)
}

// HashPassword returns the salted hash of password for an ACL file:
// "$pbkdf2-sha256$10000$SALT$KEY" with a fresh random salt.
func HashPassword(password string) (string, error) {
	if password == "" {
		return "", fmt.Errorf("%w: empty password", ErrSyntax)
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("acl: salt: %w", err)
	}
	key, err := pbkdf2.Key(sha256.New, password, salt, DefaultIterations, keyLen)
	if err != nil {
		return "", fmt.Errorf("acl: hash: %w", err)
	}
	return fmt.Sprintf("%s%d$%s$%s", pbkdf2Prefix, DefaultIterations, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// SHA256Hash returns the Redis form of password's hash, "#<sha256 hex>":
// only for long random passwords (see the package documentation).
func SHA256Hash(password string) string {
	sum := sha256.Sum256([]byte(password))
	return "#" + hex.EncodeToString(sum[:])
}

// dummy is checked against for an unknown user, so that the reply takes
// as long as for a known one.
var dummy = hash{iter: DefaultIterations, salt: make([]byte, saltLen), key: make([]byte, keyLen)}
