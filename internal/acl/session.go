package acl

import (
	"fmt"
	"strings"
)

// Session is one connection's authentication state: the user it
// authenticated as. It keeps the user's name, not the user: each command
// is checked against the ACL in force then, so a user deleted or disabled
// by a reload loses access at once, and changed rights apply to the next
// command. A Session belongs to one connection's goroutine.
type Session struct {
	user   string
	authed bool
	// Cache of the user's rights on keyspace, valid for acl.
	acl      *ACL
	keyspace string
	rights   Rights
	global   Rights
}

// User returns the name the session authenticated as ("" before).
func (s *Session) User() string { return s.user }

// Authenticated reports whether AUTH succeeded (the user may have been
// deleted since: Gate tells).
func (s *Session) Authenticated() bool { return s.authed }

// Auth runs AUTH's arguments (without the command name): "password" for
// the default user, or "user password". On failure the session keeps its
// previous user, as Redis does. A nil ACL accepts any credentials (a
// store without an ACL, so clients can be given credentials before the
// stores require them).
func (s *Session) Auth(a *ACL, args [][]byte) error {
	var user string
	var pass []byte
	switch len(args) {
	case 1:
		user, pass = DefaultUser, args[0]
	case 2:
		user, pass = string(args[0]), args[1]
	default:
		return fmt.Errorf("%w: AUTH [user] password", ErrSyntax)
	}
	if a == nil {
		return nil
	}
	u, err := a.Authenticate(user, pass)
	if err != nil {
		return authError{logName: a.LogName(user)}
	}
	s.user, s.authed, s.acl = u.name, true, nil
	return nil
}

// LogName returns what a log line may say of a user that failed to
// authenticate: its name when the ACL knows it, "(unknown)" otherwise (an
// unknown name may be a password typed in the wrong place).
func (a *ACL) LogName(user string) string {
	if a != nil && a.Has(user) {
		return user
	}
	return "(unknown)"
}

// Gate lets a command through authentication: with no ACL, or once the
// session's user is authenticated and still enabled, or for the commands
// allowed before (AUTH, HELLO, QUIT). name is the command's name as the
// table spells it ("" for a command the server does not know). A session
// whose user is gone is logged out and gets ErrNoAuth.
func (s *Session) Gate(a *ACL, t Table, name string) error {
	if a == nil {
		return nil
	}
	if t[name].PreAuth && name != "" {
		return nil
	}
	if !s.authed {
		return ErrNoAuth
	}
	if a.User(s.user) == nil {
		s.user, s.authed, s.acl = "", false, nil
		return ErrNoAuth
	}
	return nil
}

// Permit checks that the session's user may run the command name (in
// table t) on keyspace. It fails closed: a command missing from the table
// is refused. Call it after Gate.
func (s *Session) Permit(a *ACL, t Table, name, keyspace string) error {
	if a == nil {
		return nil
	}
	c, ok := t[name]
	if !ok {
		return &PermError{User: s.user, Command: name, Keyspace: keyspace}
	}
	if c.Need == 0 {
		return nil
	}
	if s.acl != a || s.keyspace != keyspace {
		u := a.User(s.user)
		if u == nil {
			return ErrNoAuth
		}
		s.acl, s.keyspace, s.rights, s.global = a, keyspace, u.Rights(keyspace), u.Rights("")
	}
	have, ks := s.rights, keyspace
	if c.Global {
		have, ks = s.global, ""
	}
	if have&c.Need != c.Need {
		return &PermError{User: s.user, Command: name, Keyspace: ks, Need: c.Need}
	}
	return nil
}

// Hello holds what HELLO asked for.
type Hello struct {
	// Proto is the protocol version asked for ("" when none was).
	Proto string
	// Auth is set when HELLO carried AUTH user password.
	Auth       bool
	User, Pass []byte
}

// ParseHello parses HELLO's arguments (without the command name):
// [protover [AUTH user password] [SETNAME name]].
func ParseHello(args [][]byte) (Hello, error) {
	var h Hello
	if len(args) == 0 {
		return h, nil
	}
	h.Proto = string(args[0])
	for i := 1; i < len(args); i++ {
		switch strings.ToUpper(string(args[i])) {
		case "AUTH":
			if i+2 >= len(args) {
				return h, fmt.Errorf("%w: HELLO AUTH needs a user and a password", ErrSyntax)
			}
			h.Auth, h.User, h.Pass = true, args[i+1], args[i+2]
			i += 2
		case "SETNAME":
			if i+1 >= len(args) {
				return h, fmt.Errorf("%w: HELLO SETNAME needs a name", ErrSyntax)
			}
			i++
		default:
			return h, fmt.Errorf("%w: HELLO [protover [AUTH user password] [SETNAME name]]", ErrSyntax)
		}
	}
	return h, nil
}

// authArgs are HELLO's AUTH arguments as AUTH takes them.
func (h Hello) authArgs() [][]byte { return [][]byte{h.User, h.Pass} }

// Hello runs HELLO's arguments (without the command name): it refuses a
// protocol other than RESP2 (ErrNoProto) and a malformed HELLO, then
// authenticates as HelloAuth does.
func (s *Session) Hello(a *ACL, args [][]byte) error {
	h, err := ParseHello(args)
	switch {
	case h.Proto != "" && h.Proto != "2":
		return ErrNoProto
	case err != nil:
		return err
	}
	return s.HelloAuth(a, h)
}

// HelloAuth runs HELLO's authentication: AUTH user password when given;
// without it, a session that has not authenticated gets ErrNoAuth (with
// MsgHelloNoAuth's advice) once there is an ACL.
func (s *Session) HelloAuth(a *ACL, h Hello) error {
	if h.Auth {
		return s.Auth(a, h.authArgs())
	}
	if a != nil && !s.authed {
		return fmt.Errorf("%w: %s", ErrNoAuth, MsgHelloNoAuth)
	}
	return nil
}
