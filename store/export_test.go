package store

import (
	"context"
	"net"
	"testing"
)

// RESPServer is what the cluster agent's tests need of another store's RESP
// server: they dial it as a peer.
type RESPServer interface {
	Addr() net.Addr
	Shutdown(ctx context.Context) error
}

// StartRESPServer starts a RESP server serving e on a random loopback port
// and shuts it down when the test ends. Package server imports store, so
// only the external test package may start one: serve_test.go sets it.
var StartRESPServer func(t testing.TB, e *Engine) RESPServer
