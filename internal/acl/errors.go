package acl

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors, tested with errors.Is. Returned errors wrap them with
// detail (file names, line numbers, user and command names; never a
// password or a token that may be one).
var (
	// ErrBadFile is returned for an ACL file that cannot be used: a line
	// that does not parse, a duplicate user, a bad hash or pattern.
	ErrBadFile = errors.New("acl: bad ACL file")
	// ErrNoAuth is answered (NOAUTH) to a command on a connection that
	// has not authenticated, or whose user was deleted or disabled since.
	ErrNoAuth = errors.New("acl: authentication required")
	// ErrWrongPass is answered (WRONGPASS) to AUTH with an unknown user, a
	// disabled user or a wrong password: the reply does not tell which.
	ErrWrongPass = errors.New("acl: invalid username-password pair or user is disabled")
	// ErrNoPerm is answered (NOPERM) to a command the user may not run on
	// the connection's keyspace; PermError carries the detail.
	ErrNoPerm = errors.New("acl: no permission")
	// ErrSyntax is returned for a malformed AUTH or HELLO.
	ErrSyntax = errors.New("acl: syntax error")
)

// Replies as Redis words them, after the code, for NOAUTH and WRONGPASS.
const (
	MsgNoAuth    = "Authentication required."
	MsgWrongPass = "invalid username-password pair or user is disabled."
	// MsgHelloNoAuth answers HELLO without AUTH on a connection that has
	// not authenticated.
	MsgHelloNoAuth = "HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"
)

// PermError is a command refused for lack of rights. It matches ErrNoPerm.
type PermError struct {
	// User is the connection's user.
	User string
	// Command is the command's name, upper case.
	Command string
	// Keyspace is the keyspace it was checked on ("" for server-wide
	// commands).
	Keyspace string
	// Need is the rights it needs.
	Need Rights
}

func (e *PermError) Error() string {
	on := "on keyspace '" + e.Keyspace + "'"
	if e.Keyspace == "" {
		on = "on every keyspace"
	}
	need := "a class"
	if e.Need != 0 {
		need = e.Need.String()
	}
	return fmt.Sprintf("acl: User %s has no permissions to run the '%s' command %s (it needs %s)",
		e.User, strings.ToLower(e.Command), on, need)
}

// Is makes errors.Is(err, ErrNoPerm) true.
func (e *PermError) Is(target error) bool { return target == ErrNoPerm }

// lineError is an error of one line of an ACL file.
func lineError(file string, line int, format string, args ...any) error {
	return fmt.Errorf("%w: %s:%d: %s", ErrBadFile, file, line, fmt.Sprintf(format, args...))
}

// Message returns the text of the error reply for err after its code:
// Redis' words for NOAUTH and WRONGPASS (or the detail a NOAUTH carries,
// as for HELLO), the PermError's text for NOPERM, and err's text without
// the package prefix otherwise.
func Message(err error) string {
	var pe *PermError
	switch {
	case errors.As(err, &pe):
		return strings.TrimPrefix(pe.Error(), "acl: ")
	case errors.Is(err, ErrWrongPass):
		return MsgWrongPass
	case errors.Is(err, ErrNoAuth):
		if detail, ok := strings.CutPrefix(err.Error(), ErrNoAuth.Error()+": "); ok {
			return detail
		}
		return MsgNoAuth
	}
	return strings.TrimPrefix(err.Error(), "acl: ")
}
