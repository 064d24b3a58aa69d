package acl

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// testHash hashes pw for a test file (PBKDF2 at the default iterations).
func testHash(t *testing.T, pw string) string {
	t.Helper()
	h, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func mustParse(t *testing.T, text string) *ACL {
	t.Helper()
	a, err := Parse(strings.NewReader(text), "test.acl")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestParseAndAuthenticate(t *testing.T) {
	a := mustParse(t, fmt.Sprintf(`
# comment
user alice on %s ks:users* +read +write ks:logs +read
user app on %s ks:* +all
user old off %s ks:* +read
user rotating on %s %s ks:a +read
`, testHash(t, "alice-pw"), SHA256Hash("app-pw"), testHash(t, "old-pw"), testHash(t, "first"), SHA256Hash("second")))

	if got := a.Users(); !slices.Equal(got, []string{"alice", "app", "old", "rotating"}) {
		t.Fatalf("users %v", got)
	}
	for _, c := range []struct {
		user, pw string
		ok       bool
	}{
		{"alice", "alice-pw", true}, {"alice", "wrong", false}, {"app", "app-pw", true},
		{"old", "old-pw", false}, // off
		{"nobody", "x", false}, {"rotating", "first", true}, {"rotating", "second", true},
		{"alice", "", false},
	} {
		u, err := a.Authenticate(c.user, []byte(c.pw))
		if c.ok != (err == nil) || (err != nil && !errors.Is(err, ErrWrongPass)) {
			t.Errorf("Authenticate(%s, %s) = %v, want ok=%t", c.user, c.pw, err, c.ok)
		}
		if c.ok && u.Name() != c.user {
			t.Errorf("Authenticate(%s) returned user %s", c.user, u.Name())
		}
	}

	alice := a.User("alice")
	for ks, want := range map[string]Rights{"users": Read | Write, "users2": Read | Write, "logs": Read, "logs2": 0, "": 0, "other": 0} {
		if got := alice.Rights(ks); got != want {
			t.Errorf("alice on %q: %v, want %v", ks, got, want)
		}
	}
	if got := a.User("app").Rights(""); got != All {
		t.Errorf("ks:* +all on the server-wide name: %v", got)
	}
	if a.User("old") != nil || !a.Has("old") || a.Has("nobody") {
		t.Error("a user that is off is not looked up, but is known")
	}
}

func TestParseErrorsNameFileAndLineAndNoSecret(t *testing.T) {
	good := SHA256Hash("pw")
	for _, c := range []struct{ text, want string }{
		{"bogus line", "test.acl:1: a line is"},
		{"\n\nuser", "test.acl:3: a line is"},
		{"user bad/name on " + good, "test.acl:1: user name"},
		{"user a on " + good + " +read", "right +read before any ks:PATTERN"},
		{"user a on " + good + " ks:x", "ks:x grants no rights"},
		{"user a on " + good + " ks:x ks:y +read", "ks:x grants no rights"},
		{"user a on " + good + " ks:[ +read", `bad keyspace pattern "["`},
		{"user a on " + good + " ks:x +fly", "token 6 is not a right"},
		{"user a on >hunter2secret", "cleartext passwords are not accepted"},
		{"user a on hunter2secret", "token 4 is none of"},
		{"user a on #abcd", "64 hex digits"},
		{"user a on $pbkdf2-sha256$10$AAAAAAAAAAA$AAAA", "iterations must be"},
		{"user a on $pbkdf2-sha256$10000$hunter2secret", "has the form"},
		{"user a on", "user a is on but has no password hash"},
		{"user a off\nuser b off\nuser a off", "test.acl:3: user a is defined again (first on line 1)"},
	} {
		_, err := Parse(strings.NewReader(c.text), "test.acl")
		if !errors.Is(err, ErrBadFile) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.text, err, c.want)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%q: the error repeats a password: %v", c.text, err)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "users.acl")
	if err := os.WriteFile(p, []byte("user x on "+SHA256Hash("pw")+" ks:* +read\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := Load(p)
	if err != nil || a.User("x") == nil {
		t.Fatalf("Load: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing")); !errors.Is(err, ErrBadFile) {
		t.Fatalf("Load of a missing file: %v", err)
	}
}

func TestHashPasswordIsSalted(t *testing.T) {
	h1, h2 := testHash(t, "same"), testHash(t, "same")
	if h1 == h2 || !strings.HasPrefix(h1, "$pbkdf2-sha256$10000$") {
		t.Fatalf("hashes %s and %s", h1, h2)
	}
	if strings.Contains(h1, "same") {
		t.Fatal("the hash holds the password")
	}
	if _, err := HashPassword(""); !errors.Is(err, ErrSyntax) {
		t.Fatalf("empty password: %v", err)
	}
	// The Redis form: SHA-256 of "foobar".
	if SHA256Hash("foobar") != "#c3ab8ff13720e8ad9047dd39466b3c8974e592c2fa383d4a3960714caef0c4f2" {
		t.Fatal("SHA256Hash differs from Redis' #<sha256>")
	}
}

func TestSessionGateAndPermit(t *testing.T) {
	a := mustParse(t, "user ro on "+SHA256Hash("ro")+" ks:a* +read\nuser peer on "+SHA256Hash("peer")+" ks:* +internal +read\n")
	var s Session
	if err := s.Gate(nil, StoreCommands, "GET"); err != nil {
		t.Fatal("no ACL: everything passes")
	}
	if err := s.Gate(a, StoreCommands, "GET"); !errors.Is(err, ErrNoAuth) {
		t.Fatalf("GET before AUTH: %v", err)
	}
	for _, n := range []string{"AUTH", "HELLO", "QUIT"} {
		if err := s.Gate(a, StoreCommands, n); err != nil {
			t.Fatalf("%s before AUTH: %v", n, err)
		}
	}
	if err := s.Gate(a, StoreCommands, ""); !errors.Is(err, ErrNoAuth) {
		t.Fatalf("unknown command before AUTH: %v", err)
	}
	if err := s.Auth(a, [][]byte{[]byte("ro"), []byte("bad")}); !errors.Is(err, ErrWrongPass) || s.Authenticated() {
		t.Fatalf("wrong password: %v", err)
	}
	if err := s.Auth(a, [][]byte{[]byte("ro")}); !errors.Is(err, ErrWrongPass) {
		t.Fatalf("AUTH password for a missing default user: %v", err)
	}
	if err := s.Auth(a, [][]byte{[]byte("ro"), []byte("ro")}); err != nil || s.User() != "ro" {
		t.Fatalf("AUTH ro: %v", err)
	}
	if err := s.Gate(a, StoreCommands, "GET"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cmd, ks string
		ok      bool
	}{
		{"GET", "abc", true}, {"GET", "b", false}, {"SET", "abc", false}, {"VDUMP", "abc", false},
		{"PING", "b", true}, {"VUSE", "b", true}, {"INFO", "abc", false}, {"NOSUCH", "abc", false},
	} {
		err := s.Permit(a, StoreCommands, c.cmd, c.ks)
		if c.ok != (err == nil) || (err != nil && !errors.Is(err, ErrNoPerm)) {
			t.Errorf("%s on %s: %v, want ok=%t", c.cmd, c.ks, err, c.ok)
		}
	}
	err := s.Permit(a, StoreCommands, "SET", "b")
	if got := Message(err); got != "User ro has no permissions to run the 'set' command on keyspace 'b' (it needs write)" {
		t.Errorf("NOPERM text: %q", got)
	}

	// A reload that drops the user logs the session out.
	a2 := mustParse(t, "user peer on "+SHA256Hash("peer")+" ks:* +internal\n")
	if err := s.Gate(a2, StoreCommands, "GET"); !errors.Is(err, ErrNoAuth) || s.Authenticated() {
		t.Fatalf("GET after the user was deleted: %v", err)
	}
	// AUTH without an ACL is accepted (credentials given before the
	// stores require them).
	if err := s.Auth(nil, [][]byte{[]byte("x"), []byte("y")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Auth(a, [][]byte{[]byte("a"), []byte("b"), []byte("c")}); !errors.Is(err, ErrSyntax) {
		t.Fatalf("AUTH with 3 arguments: %v", err)
	}

	var p Session
	if err := p.Auth(a2, [][]byte{[]byte("peer"), []byte("peer")}); err != nil {
		t.Fatal(err)
	}
	if err := p.Permit(a2, StoreCommands, "VDUMP", "any"); err != nil {
		t.Fatalf("internal user runs VDUMP: %v", err)
	}
	if err := p.Permit(a2, StoreCommands, "GET", "any"); !errors.Is(err, ErrNoPerm) {
		t.Fatalf("internal-only user runs GET: %v", err)
	}
}

func TestParseHello(t *testing.T) {
	b := func(s ...string) [][]byte {
		out := make([][]byte, len(s))
		for i := range s {
			out[i] = []byte(s[i])
		}
		return out
	}
	h, err := ParseHello(b("2", "AUTH", "u", "p", "SETNAME", "n"))
	if err != nil || h.Proto != "2" || !h.Auth || string(h.User) != "u" || string(h.Pass) != "p" {
		t.Fatalf("%+v %v", h, err)
	}
	if h, err := ParseHello(nil); err != nil || h.Auth || h.Proto != "" {
		t.Fatalf("%+v %v", h, err)
	}
	for _, bad := range [][][]byte{b("2", "AUTH", "u"), b("2", "SETNAME"), b("2", "FOO")} {
		if _, err := ParseHello(bad); !errors.Is(err, ErrSyntax) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	a := mustParse(t, "user u on "+SHA256Hash("p")+" ks:* +read\n")
	var s Session
	if err := s.HelloAuth(a, Hello{Proto: "2"}); !errors.Is(err, ErrNoAuth) || Message(err) != MsgHelloNoAuth {
		t.Fatalf("HELLO without AUTH: %v", err)
	}
	if err := s.HelloAuth(a, Hello{Auth: true, User: []byte("u"), Pass: []byte("p")}); err != nil || !s.Authenticated() {
		t.Fatalf("HELLO AUTH: %v", err)
	}
	if Message(ErrNoAuth) != MsgNoAuth || Message(ErrWrongPass) != MsgWrongPass {
		t.Fatal("Redis' words")
	}
}

func TestSessionHelloAndAuthReplies(t *testing.T) {
	a := mustParse(t, "user u on "+SHA256Hash("p")+" ks:* +read\n")
	var s Session
	for _, tc := range []struct {
		args  []string
		reply string
	}{
		{[]string{"3"}, "NOPROTO unsupported protocol version: RESP2 only"},
		{[]string{"3", "AUTH", "u", "p"}, "NOPROTO unsupported protocol version: RESP2 only"},
		{[]string{"2", "AUTH", "u"}, "ERR syntax error: HELLO AUTH needs a user and a password"},
		{[]string{"2"}, "NOAUTH " + MsgHelloNoAuth},
		{[]string{"2", "AUTH", "u", "wrong"}, "WRONGPASS " + MsgWrongPass},
	} {
		args := make([][]byte, len(tc.args))
		for i, a := range tc.args {
			args[i] = []byte(a)
		}
		reply, ok := Reply(s.Hello(a, args))
		if !ok || reply != tc.reply {
			t.Errorf("HELLO %q: %q, want %q", tc.args, reply, tc.reply)
		}
	}
	if s.Authenticated() {
		t.Fatal("a refused HELLO authenticated the session")
	}
	if err := s.Hello(a, [][]byte{[]byte("2"), []byte("AUTH"), []byte("u"), []byte("p")}); err != nil || s.User() != "u" {
		t.Fatalf("HELLO 2 AUTH u p: %v", err)
	}

	// A failed AUTH tells the log the user's name only when the ACL knows
	// it: an unknown name may be a password typed in the wrong place.
	for _, tc := range []struct{ user, logged string }{{"u", "u"}, {"hunter2", "(unknown)"}} {
		err := s.Auth(a, [][]byte{[]byte(tc.user), []byte("wrong")})
		if logged, ok := FailedUser(err); !ok || logged != tc.logged || !errors.Is(err, ErrWrongPass) {
			t.Errorf("AUTH %s wrong: %v logged as %q", tc.user, err, logged)
		}
	}
	if _, ok := FailedUser(ErrNoAuth); ok {
		t.Error("NOAUTH is not a failed authentication")
	}
	if _, ok := Reply(errors.New("other")); ok {
		t.Error("Reply took an error that is not the ACL's")
	}
	if r, _ := Reply(&PermError{User: "u", Command: "SET", Keyspace: "k", Need: Write}); !strings.HasPrefix(r, "NOPERM User u has no permissions to run the 'set' command on keyspace 'k'") {
		t.Errorf("NOPERM reply %q", r)
	}
}

// TestGoldenCommandClasses pins the class of every command: a change shows
// in the diff of testdata/commands.golden.
func TestGoldenCommandClasses(t *testing.T) {
	var b strings.Builder
	for _, tb := range []struct {
		name string
		t    Table
	}{{"store", StoreCommands}, {"gateway", GatewayCommands}} {
		names := make([]string, 0, len(tb.t))
		for n := range tb.t {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			c := tb.t[n]
			fmt.Fprintf(&b, "%s %s %s", tb.name, n, c.Need)
			if c.Global {
				b.WriteString(" global")
			}
			if c.PreAuth {
				b.WriteString(" preauth")
			}
			b.WriteString("\n")
		}
	}
	path := filepath.Join("testdata", "commands.golden")
	if os.Getenv("VASTO_UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Fatalf("command classes changed; if intended, run with VASTO_UPDATE_GOLDEN=1\n got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestRightsString(t *testing.T) {
	for r, want := range map[Rights]string{0: "connection", Read: "read", Read | Write: "read+write", All: "read+write+admin+internal"} {
		if r.String() != want {
			t.Errorf("%d: %s", r, r)
		}
	}
}
