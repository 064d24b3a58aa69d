package store

import (
	"context"
	"net"
	"testing"
)

// RESPServer is what the over-the-wire tests of the engine (read-only
// shards answering RDONLY, with a fault injected into the shard) need of a
// RESP server serving the engine.
type RESPServer interface {
	Addr() net.Addr
	Shutdown(ctx context.Context) error
}

// StartRESPServer starts a RESP server serving e on a random loopback port
// and shuts it down when the test ends. Package server imports store, so
// only the external test package may start one: serve_test.go sets it.
var StartRESPServer func(t testing.TB, e *Engine) RESPServer
