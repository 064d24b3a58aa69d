package bus

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus/embedded"
)

// testCtx returns a context that ends with the test or after 30 s.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// testConn connects to srv over TCP and closes the connection at the end
// of the test (before the server stops).
func testConn(t testing.TB, srv *embedded.Server) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Connect(ctx, ConnConfig{URL: srv.ClientURL(), Name: t.Name(), Logger: embedded.TestLogger(t, hclog.Warn)})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// recv waits for a value on ch for at most 10 s.
func recv[T any](t testing.TB, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for a value")
		var zero T
		return zero
	}
}

// changeMsgs builds n change messages on subj with ids prefix-<i>.
func changeMsgs(subj, prefix string, from, n int) []Message {
	msgs := make([]Message, n)
	for i := range msgs {
		idx := from + i
		msgs[i] = Message{
			Subject: subj,
			ID:      prefix + "-" + strconv.Itoa(idx),
			Header:  map[string]string{"Vasto-Log-Index": strconv.Itoa(idx)},
			Data:    []byte("change-" + strconv.Itoa(idx)),
		}
	}
	return msgs
}

func errorIsAny(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

// testChangeStream starts a server with dc1's change stream and returns it,
// a connection to it, a test context, the stream's name and the subject of
// storeA's changes to ks/0.
func testChangeStream(t testing.TB) (*embedded.Server, *Conn, context.Context, string, string) {
	t.Helper()
	srv := embedded.RunTestServer(t, "dc1")
	c := testConn(t, srv)
	ctx := testCtx(t)
	require.NoError(t, c.EnsureChangeStream(ctx, StreamConfig{DC: "dc1"}))
	stream, err := ChangeStream("dc1")
	require.NoError(t, err)
	subj, err := ChangeSubject("dc1", "ks", 0, "storeA")
	require.NoError(t, err)
	return srv, c, ctx, stream, subj
}
