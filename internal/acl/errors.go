package acl

import (
	"errors"
	"fmt"
	"strings"

	"github.com/vasto-kv/vasto/wire"
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
	// ErrNoProto is answered (NOPROTO) to HELLO asking for a protocol
	// other than RESP2.
	ErrNoProto = errors.New("acl: unsupported protocol version: RESP2 only")
)

// codeNoProto is Redis's code for a HELLO version it does not speak.
const codeNoProto = "NOPROTO"

// authError is a failed AUTH. It matches ErrWrongPass and keeps what a log
// line may say of the user (see ACL.LogName).
type authError struct{ logName string }

func (authError) Error() string { return ErrWrongPass.Error() }

// Is makes errors.Is(err, ErrWrongPass) true.
func (authError) Is(target error) bool { return target == ErrWrongPass }

// FailedUser reports whether err is a failed authentication, and what a
// log line may say of its user: the name when the ACL knows it, "(unknown)"
// otherwise. Servers count and log these.
func FailedUser(err error) (string, bool) {
	var ae authError
	if errors.As(err, &ae) {
		return ae.logName, true
	}
	return "", false
}

// Reply returns the error reply (code and message) of an authentication or
// authorisation error, and false for any other error: NOAUTH, WRONGPASS,
// NOPERM, NOPROTO, and ERR for a malformed AUTH or HELLO. The store server
// and the gateway answer these alike.
func Reply(err error) (string, bool) {
	var code string
	switch {
	case errors.Is(err, ErrNoAuth):
		code = wire.CodeNoAuth
	case errors.Is(err, ErrWrongPass):
		code = wire.CodeWrongPass
	case errors.Is(err, ErrNoPerm):
		code = wire.CodeNoPerm
	case errors.Is(err, ErrNoProto):
		code = codeNoProto
	case errors.Is(err, ErrSyntax):
		code = wire.CodeErr
	default:
		return "", false
	}
	return code + " " + Message(err), true
}

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
