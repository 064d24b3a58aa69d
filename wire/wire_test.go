package wire

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The wire vocabulary is a contract between every client and server
// version. These tests pin it: a code renamed, a retry rule changed or a
// token encoded differently fails here first.

func TestGoldenCodes(t *testing.T) {
	var b strings.Builder
	for _, c := range Codes {
		fmt.Fprintf(&b, "%s retryable=%t\n", c, Retryable(c))
	}
	for _, h := range []string{HeaderIndex, HeaderStore, HeaderDC, HeaderEpoch} {
		fmt.Fprintf(&b, "header %s\n", h)
	}
	golden(t, "codes.golden", b.String())
}

func TestGoldenTokens(t *testing.T) {
	var b strings.Builder
	for _, tok := range []Token{
		{DC: "dc1", Store: "store1", Shard: 0, Index: 1},
		{DC: "eu-west_2", Store: "s-9", Shard: 1023, Index: 18446744073709551615},
	} {
		s := tok.String()
		back, err := ParseToken(s, nil)
		if err != nil || back != tok {
			t.Fatalf("%q does not round-trip: %+v, %v", s, back, err)
		}
		fmt.Fprintln(&b, s)
	}
	golden(t, "tokens.golden", b.String())
}

func TestParseTokenRejects(t *testing.T) {
	noDots := func(s string) bool { return !strings.ContainsAny(s, ".*> ") }
	for _, s := range []string{"", "a:b:c", "a:b:1:2:3", ":b:1:2", "a::1:2", "a:b:x:2", "a:b:1:0",
		"a:b:4294967296:1", "a:b:1:18446744073709551616", "a.b:c:1:2", "a:c*:1:2", strings.Repeat("x", 1000)} {
		if _, err := ParseToken(s, noDots); !errors.Is(err, ErrBadToken) {
			t.Errorf("ParseToken(%.40q) = %v, want ErrBadToken", s, err)
		}
	}
	_, err := ParseToken(strings.Repeat("x", 1000), nil)
	if len(err.Error()) > 200 {
		t.Errorf("the error repeats all of a long input: %d bytes", len(err.Error()))
	}
}

func TestSplitError(t *testing.T) {
	for in, want := range map[string][2]string{
		"NOSHARD shard not held": {"NOSHARD", "shard not held"},
		"CLOSED":                 {"CLOSED", ""},
		"":                       {"", ""},
	} {
		if c, m := SplitError(in); c != want[0] || m != want[1] {
			t.Errorf("SplitError(%q) = %q, %q", in, c, m)
		}
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if os.Getenv("VASTO_UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != got {
		t.Errorf("%s changed: the wire vocabulary is shared by every deployed client and store\nwant:\n%s\ngot:\n%s", name, want, got)
	}
}
