package main

import (
	"bytes"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseInterleaved(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		pos     []string
		ttl     time.Duration
		verbose bool
	}{
		{args: []string{"ks", "k", "v"}, pos: []string{"ks", "k", "v"}},
		{args: []string{"--ttl", "1m", "ks", "k", "v"}, pos: []string{"ks", "k", "v"}, ttl: time.Minute},
		{args: []string{"ks", "--ttl", "1m", "k", "-v", "v"}, pos: []string{"ks", "k", "v"}, ttl: time.Minute, verbose: true},
		{args: []string{"ks", "k", "v", "--ttl=2s"}, pos: []string{"ks", "k", "v"}, ttl: 2 * time.Second},
		{args: []string{"ks", "--", "-k", "--ttl"}, pos: []string{"ks", "-k", "--ttl"}},
		{args: nil, pos: nil},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		ttl := fs.Duration("ttl", 0, "")
		verbose := fs.Bool("v", false, "")
		pos, err := parseInterleaved(fs, tc.args)
		require.NoError(t, err, tc.args)
		require.Equal(t, tc.pos, pos, tc.args)
		require.Equal(t, tc.ttl, *ttl, tc.args)
		require.Equal(t, tc.verbose, *verbose, tc.args)
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	_, err := parseInterleaved(fs, []string{"ks", "--nope"})
	require.ErrorContains(t, err, "flag provided but not defined: -nope")
}

func TestGroupHelpAndUnknownCommands(t *testing.T) {
	for group := range groups {
		code, out, errs := vasto(t, group, "-h")
		require.Equal(t, 0, code, "%s -h: %s", group, errs)
		require.Contains(t, out, "usage: vasto "+group+" COMMAND")
		for _, sub := range groups[group] {
			require.Contains(t, out, sub.name)
		}
		code, _, errs = vasto(t, group, "frobnicate")
		require.Equal(t, 2, code, group)
		require.Contains(t, errs, `unknown `+group+` command "frobnicate"`)
		require.Contains(t, errs, "see 'vasto "+group+" -h'")
	}
	code, _, errs := vasto(t, "keyspace")
	require.Equal(t, 2, code)
	require.Contains(t, errs, "usage: vasto keyspace COMMAND")
}

func TestBenchProgressWithoutTerminal(t *testing.T) {
	var buf bytes.Buffer
	p := newBenchProgress(&buf)
	p.draw("put", 10, 100, time.Second, false)
	p.draw("put", 20, 100, 2*time.Second, false)
	p.draw("put", 80, 100, 6*time.Second, false)
	p.draw("put", 100, 100, 7*time.Second, true)
	require.NotContains(t, buf.String(), "\r")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Equal(t, []string{"put: 80% 80/100 13 ops/s", "put: 100% 100/100 14 ops/s"}, lines,
		"a line every few seconds and one at the end")
}
