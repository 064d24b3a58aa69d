package wire

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestGlob(t *testing.T) {
	for _, c := range []struct {
		pattern, s string
		want       bool
	}{
		{"user:*", "user:1", true},
		{"user:*", "users", false},
		{"u?er", "user", true},
		{"[a-c]x", "bx", true},
		{"[^a-c]x", "bx", false},
		{`a\*`, "a*", true},
		{`a\*`, "ab", false},
		{"*", "", true},
	} {
		require.Equal(t, c.want, GlobMatch([]byte(c.pattern), []byte(c.s)), "%q %q", c.pattern, c.s)
	}
	require.Equal(t, "user:", string(GlobPrefix([]byte("user:*"))))
	require.Equal(t, "ab", string(GlobPrefix([]byte(`ab\*`))))
}

func TestScanCursors(t *testing.T) {
	var s ScanCursors
	first := s.Put([]byte("a"))
	require.NotZero(t, first)
	for i := 0; i < MaxScanCursors; i++ {
		s.Put([]byte("b"))
	}
	_, ok := s.Take(first)
	require.False(t, ok, "the oldest cursor is forgotten past the bound")
	id := s.Put([]byte("c"))
	k, ok := s.Take(id)
	require.True(t, ok)
	require.Equal(t, "c", string(k))
	_, ok = s.Take(id)
	require.False(t, ok, "a cursor is used once")
}
