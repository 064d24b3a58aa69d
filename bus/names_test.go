package bus

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var badNames = []string{"", "a.b", "*", ">", " x", "x ", "$JS", "a*", "b>", "tab\t", "new\nline", "é", "a/b", "a\x00", strings.Repeat("x", 65)}

func TestValidName(t *testing.T) {
	for _, n := range []string{"a", "dc1", "DC_2", "store-7", strings.Repeat("x", 64)} {
		require.True(t, ValidName(n), n)
	}
	for _, n := range badNames {
		require.False(t, ValidName(n), "%q", n)
	}
}

func TestNames(t *testing.T) {
	s, err := ChangeStream("dc1")
	require.NoError(t, err)
	require.Equal(t, "VASTO_CHG_dc1", s)
	s, err = ChangeSubject("dc1", "users", 7, "store-a")
	require.NoError(t, err)
	require.Equal(t, "vasto.chg.dc1.users.7.store-a", s)
	s, err = ChangeSubjectsOfShard("dc1", "users", 4294967295)
	require.NoError(t, err)
	require.Equal(t, "vasto.chg.dc1.users.4294967295.*", s)
	s, err = TopologyBucket("dc1")
	require.NoError(t, err)
	require.Equal(t, "vasto_topo_dc1", s)
	s, err = HeartbeatSubject("dc1")
	require.NoError(t, err)
	require.Equal(t, "vasto.hb.dc1", s)
	s, err = AdminSubject("dc1", "drain-store")
	require.NoError(t, err)
	require.Equal(t, "vasto.adm.dc1.drain-store", s)

	// Every subject a valid name builds passes the subject check.
	for _, subj := range []string{"vasto.chg.dc1.users.7.store-a", "vasto.hb.dc1", "vasto.adm.dc1.x"} {
		require.NoError(t, checkSubject(subj, false))
	}
	require.NoError(t, checkSubject("vasto.chg.dc1.users.7.*", true))
	require.NoError(t, checkSubject("vasto.chg.dc1.>", true))
}

func TestNamesRejectInjection(t *testing.T) {
	for _, bad := range badNames {
		builders := map[string]func() (string, error){
			"ChangeStream":            func() (string, error) { return ChangeStream(bad) },
			"ChangeSubject/dc":        func() (string, error) { return ChangeSubject(bad, "ks", 1, "s") },
			"ChangeSubject/keyspace":  func() (string, error) { return ChangeSubject("dc", bad, 1, "s") },
			"ChangeSubject/origin":    func() (string, error) { return ChangeSubject("dc", "ks", 1, bad) },
			"ChangeSubjectsOfShard/d": func() (string, error) { return ChangeSubjectsOfShard(bad, "ks", 1) },
			"ChangeSubjectsOfShard/k": func() (string, error) { return ChangeSubjectsOfShard("dc", bad, 1) },
			"TopologyBucket":          func() (string, error) { return TopologyBucket(bad) },
			"HeartbeatSubject":        func() (string, error) { return HeartbeatSubject(bad) },
			"AdminSubject/dc":         func() (string, error) { return AdminSubject(bad, "op") },
			"AdminSubject/op":         func() (string, error) { return AdminSubject("dc", bad) },
		}
		for name, build := range builders {
			s, err := build()
			require.ErrorIs(t, err, ErrBadName, "%s(%q)", name, bad)
			require.Empty(t, s, "%s(%q)", name, bad)
		}
	}
}

func TestCheckSubject(t *testing.T) {
	for _, s := range []string{"", ".", "a.", ".a", "a..b", "a b", "a\tb", "a\r\nPUB x", "$JS.API.STREAM.DELETE.X", "$KV.x.y", "$SYS.x", "é", strings.Repeat("a", 600)} {
		require.ErrorIs(t, checkSubject(s, true), ErrBadName, "%q", s)
		require.ErrorIs(t, checkSubject(s, false), ErrBadName, "%q", s)
	}
	for _, s := range []string{"a.*", "a.>", "*", ">"} {
		require.NoError(t, checkSubject(s, true), s)
		require.ErrorIs(t, checkSubject(s, false), ErrBadName, s)
	}
	for _, s := range []string{"a.>.b", "a.b*", "a.>x", "a.*b"} {
		require.ErrorIs(t, checkSubject(s, true), ErrBadName, s)
	}
}

func TestCheckMessage(t *testing.T) {
	ok := Message{Subject: "vasto.chg.dc.ks.1.s", ID: "s/ks/1/42", Header: map[string]string{"Vasto-Log-Index": "42"}}
	require.NoError(t, checkMessage(&ok))
	bad := []Message{
		{Subject: "vasto.chg.dc.ks.1.*"},
		{Subject: "vasto.x", ID: "a b"},
		{Subject: "vasto.x", ID: "a\r\nNats-Rollup: all"},
		{Subject: "vasto.x", ID: strings.Repeat("i", 257)},
		{Subject: "vasto.x", Header: map[string]string{"Nats-Rollup": "all"}},
		{Subject: "vasto.x", Header: map[string]string{"nats-expected-stream": "x"}},
		{Subject: "vasto.x", Header: map[string]string{"Bad Key": "x"}},
		{Subject: "vasto.x", Header: map[string]string{"K": "v\r\nNats-Rollup: all"}},
	}
	for _, m := range bad {
		err := checkMessage(&m)
		require.Error(t, err, "%+v", m)
		require.True(t, errorIsAny(err, ErrBadName, ErrBadMessage), "%v", err)
	}
}
