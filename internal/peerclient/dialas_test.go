package peerclient_test

import (
	"context"
	"io"
	"net"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/internal/peerclient"
)

// TestDialAs: a connection comes back as the interface asked for; a failed
// dial gives a nil interface, not one holding a nil *Client.
func TestDialAs(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	c, err := peerclient.DialAs[io.Closer](context.Background(), addr, peerclient.Options{})
	require.NoError(t, err)
	require.IsType(t, &peerclient.Client{}, c)
	require.NoError(t, c.Close())
	require.NoError(t, ln.Close())

	c, err = peerclient.DialAs[io.Closer](context.Background(), addr, peerclient.Options{})
	require.Error(t, err)
	require.Nil(t, c)
}
