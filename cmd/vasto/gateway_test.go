package main

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/internal/devcluster"
)

// TestGatewayCommand runs `vasto gateway` against a DC until its context
// ends, and reaches a keyspace through it with a Redis client.
func TestGatewayCommand(t *testing.T) {
	code, _, errs := vasto(t, "gateway", "--dc", "bad name", "--nats", "nats://127.0.0.1:1")
	require.Equal(t, 2, code)
	require.Contains(t, errs, "invalid config")

	ctx, _ := startCLIDC(t, 60*time.Second, func(cfg *devcluster.Config) { cfg.Stores, cfg.Logger = 1, hclog.NewNullLogger() })
	code, _, errs = vasto(t, "keyspace", "create", "web", "--shards", "2", "--replicas", "1")
	require.Equal(t, 0, code, errs)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	gctx, stop := context.WithCancel(ctx)
	done := make(chan int, 1)
	go func() {
		var out, errb bytes.Buffer
		done <- run(gctx, []string{"gateway", "--listen", addr, "--keyspace", "web", "--log-level", "error"}, &out, &errb)
	}()
	rc := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2})
	defer rc.Close()
	require.Eventually(t, func() bool { return rc.Set(ctx, "k", "v", 0).Err() == nil }, 20*time.Second, 50*time.Millisecond)
	require.Equal(t, "v", rc.Get(ctx, "k").Val())
	stop()
	require.Equal(t, 0, <-done)
}
