package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"1024": 1024, "1KiB": 1 << 10, "512MiB": 512 << 20, "20GiB": 20 << 30, "1 TiB": 1 << 40,
		"5GB": 5e9, "-1": -1, "0": 0,
	} {
		got, err := parseSize(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "x", "1.5GiB", "-2", "-1GiB", "99999999999TiB", "10 parsecs"} {
		_, err := parseSize(in)
		require.Error(t, err, in)
	}
}

func TestRetentionAndClusterFlagsRefused(t *testing.T) {
	for _, args := range [][]string{
		{"store", "--stream-max-bytes", "lots"},
		{"store", "--stream-max-bytes", "0"},
		{"store", "--stream-max-age", "0s"},
		{"store", "--replicas", "7"},
		{"master", "--replicas", "0"},
		{"nats", "--routes", "nats-route://127.0.0.1:6222"},
		{"nats", "--cluster-listen", "127.0.0.1:6222"},
		{"nats", "--cluster-listen", "127.0.0.1:6222", "--routes", "nats-route://127.0.0.1:6223", "--listen", "127.0.0.1:0"},
	} {
		code, _, errs := vasto(t, args...)
		require.Equal(t, 2, code, "%v: %s", args, errs)
	}
}

func TestStreamConfigFromFlags(t *testing.T) {
	maxAge, maxBytes, replicas := time.Minute, "64MiB", 3
	cfg, err := retentionFlags{maxAge: &maxAge, maxBytes: &maxBytes, replicas: &replicas}.streamConfig()
	require.NoError(t, err)
	require.Equal(t, time.Minute, cfg.MaxAge)
	require.Equal(t, int64(64<<20), cfg.MaxBytes)
	require.Equal(t, 3, cfg.Replicas)
	require.Equal(t, time.Minute, cfg.Duplicates, "the de-duplication window fits in a short max age")
}
