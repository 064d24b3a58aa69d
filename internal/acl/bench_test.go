package acl

import (
	"strings"
	"testing"
)

// BenchmarkAuthenticate is the cost of one AUTH (once per connection).
func BenchmarkAuthenticate(b *testing.B) {
	h, err := HashPassword("pw")
	if err != nil {
		b.Fatal(err)
	}
	a, err := Parse(strings.NewReader("user u on "+h+" "+SHA256Hash("pw2")+" ks:* +read\n"), "bench")
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, pw string }{{"pbkdf2", "pw"}, {"unknown-user", ""}} {
		b.Run(c.name, func(b *testing.B) {
			user := "u"
			if c.pw == "" {
				user = "nobody"
			}
			for b.Loop() {
				_, _ = a.Authenticate(user, []byte(c.pw))
			}
		})
	}
}

// BenchmarkCheck is what an ACL adds to every command: Gate and Permit on
// an authenticated session, the keyspace unchanged, beside the same calls
// without an ACL (the baseline).
func BenchmarkCheck(b *testing.B) {
	a, err := Parse(strings.NewReader("user u on "+SHA256Hash("pw")+" ks:users* +read +write ks:logs +read\n"), "bench")
	if err != nil {
		b.Fatal(err)
	}
	var s Session
	if err := s.Auth(a, [][]byte{[]byte("u"), []byte("pw")}); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		acl  *ACL
	}{{"no-acl", nil}, {"acl", a}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if s.Gate(c.acl, StoreCommands, "SET") != nil || s.Permit(c.acl, StoreCommands, "SET", "users1") != nil {
					b.Fatal("refused")
				}
			}
		})
	}
}
