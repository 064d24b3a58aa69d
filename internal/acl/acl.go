package acl

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
)

// MaxNameLen bounds a user name.
const MaxNameLen = 64

// DefaultUser is the user "AUTH password" (one argument) authenticates as.
const DefaultUser = "default"

// ACL is a set of users, read from an ACL file. It is immutable: a reload
// builds a new one, which servers swap in atomically.
type ACL struct {
	users map[string]*User
}

// User is one user of an ACL.
type User struct {
	name    string
	enabled bool
	hashes  []hash
	grants  []Grant
}

// Grant gives rights on the keyspaces whose name matches Pattern.
type Grant struct {
	Pattern string
	Rights  Rights
}

// Name returns the user's name.
func (u *User) Name() string { return u.name }

// Enabled reports whether the user may authenticate ("on").
func (u *User) Enabled() bool { return u.enabled }

// Grants returns the user's grants, in file order.
func (u *User) Grants() []Grant { return append([]Grant(nil), u.grants...) }

// Rights returns the rights the user holds on keyspace: the union of the
// grants whose pattern matches it. The empty name (server-wide commands)
// is matched only by patterns that match every name, such as "*".
func (u *User) Rights(keyspace string) Rights {
	var r Rights
	for _, g := range u.grants {
		if ok, _ := path.Match(g.Pattern, keyspace); ok {
			r |= g.Rights
		}
	}
	return r
}

// Users returns the names of every user, enabled or not, sorted.
func (a *ACL) Users() []string {
	names := make([]string, 0, len(a.users))
	for n := range a.users {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Has reports whether the ACL names the user, enabled or not (whether a
// user name is safe to log: an unknown one may be a mistyped password).
func (a *ACL) Has(name string) bool {
	_, ok := a.users[name]
	return ok
}

// Lookup returns the user of that name, enabled or not, or nil (for
// listing; authorization goes through User).
func (a *ACL) Lookup(name string) *User { return a.users[name] }

// User returns the enabled user of that name, or nil.
func (a *ACL) User(name string) *User {
	if u := a.users[name]; u != nil && u.enabled {
		return u
	}
	return nil
}

// Authenticate checks a user's password and returns the user, or an error
// wrapping ErrWrongPass for an unknown or disabled user or a wrong
// password (the error does not tell which).
func (a *ACL) Authenticate(name string, password []byte) (*User, error) {
	u := a.users[name]
	if u == nil || len(u.hashes) == 0 {
		dummy.matches(password)
		return nil, ErrWrongPass
	}
	ok := false
	for _, h := range u.hashes {
		if h.matches(password) {
			ok = true
		}
	}
	if !ok || !u.enabled {
		return nil, ErrWrongPass
	}
	return u, nil
}

// Load reads an ACL file.
func Load(file string) (*ACL, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadFile, err)
	}
	defer f.Close()
	return Parse(f, file)
}

// Parse reads an ACL from r; file names it in errors.
func Parse(r io.Reader, file string) (*ACL, error) {
	a := &ACL{users: map[string]*User{}}
	lineOf := map[string]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		u, err := parseUser(strings.Fields(line), file, n)
		if err != nil {
			return nil, err
		}
		if prev, dup := lineOf[u.name]; dup {
			return nil, lineError(file, n, "user %s is defined again (first on line %d)", u.name, prev)
		}
		a.users[u.name], lineOf[u.name] = u, n
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadFile, file, err)
	}
	return a, nil
}

// parseUser parses the fields of one "user NAME ..." line.
func parseUser(f []string, file string, n int) (*User, error) {
	if f[0] != "user" || len(f) < 2 {
		return nil, lineError(file, n, `a line is "user NAME on|off HASH... ks:PATTERN +RIGHT..."`)
	}
	if !validName(f[1]) {
		return nil, lineError(file, n, "user name: use 1-%d of A-Z a-z 0-9 - _ . @", MaxNameLen)
	}
	u := &User{name: f[1]}
	var g *Grant
	for i, tok := range f[2:] {
		pos := i + 3 // the token's position on the line, 1-based
		switch {
		case tok == "on" || tok == "off":
			u.enabled = tok == "on"
		case isHash(tok):
			h, err := parseHash(tok)
			if err != nil {
				return nil, lineError(file, n, "user %s: token %d: %v", u.name, pos, err)
			}
			u.hashes = append(u.hashes, h)
		case strings.HasPrefix(tok, ">") || strings.HasPrefix(tok, "<"):
			return nil, lineError(file, n, "user %s: token %d: cleartext passwords are not accepted; write a hash (vasto acl hash)", u.name, pos)
		case strings.HasPrefix(tok, "ks:"):
			if g != nil && g.Rights == 0 {
				return nil, lineError(file, n, "user %s: ks:%s grants no rights", u.name, g.Pattern)
			}
			p := strings.TrimPrefix(tok, "ks:")
			if _, err := path.Match(p, ""); err != nil || p == "" {
				return nil, lineError(file, n, "user %s: bad keyspace pattern %q", u.name, p)
			}
			u.grants = append(u.grants, Grant{Pattern: p})
			g = &u.grants[len(u.grants)-1]
		case strings.HasPrefix(tok, "+"):
			r, ok := parseRight(tok)
			if !ok {
				return nil, lineError(file, n, "user %s: token %d is not a right: use +read, +write, +admin, +internal or +all", u.name, pos)
			}
			if g == nil {
				return nil, lineError(file, n, "user %s: right %s before any ks:PATTERN", u.name, tok)
			}
			g.Rights |= r
		default:
			// Not quoted: it may be a password written by mistake.
			return nil, lineError(file, n, "user %s: token %d is none of on, off, #HASH, $pbkdf2-sha256$HASH, ks:PATTERN, +RIGHT", u.name, pos)
		}
	}
	if g != nil && g.Rights == 0 {
		return nil, lineError(file, n, "user %s: ks:%s grants no rights", u.name, g.Pattern)
	}
	if u.enabled && len(u.hashes) == 0 {
		return nil, lineError(file, n, "user %s is on but has no password hash", u.name)
	}
	return u, nil
}

// validName reports whether s may name a user.
func validName(s string) bool {
	if s == "" || len(s) > MaxNameLen {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.', c == '@':
		default:
			return false
		}
	}
	return true
}
