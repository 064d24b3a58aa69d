package bus

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus/embedded"
)

// TestServerRestartKeepsDataAndClientsRecover restarts the embedded server
// on the same directory and port: streams, consumers and the topology
// survive (JetStream persistence), and a connected client's consumer and
// topology watch carry on after it reconnects.
func TestServerRestartKeepsDataAndClientsRecover(t *testing.T) {
	ctx := testCtx(t)
	cfg := embedded.TestConfig(t, "dc1", t.TempDir())
	srv1, err := embedded.New(cfg)
	require.NoError(t, err)
	require.NoError(t, srv1.Start(ctx))
	u, err := url.Parse(srv1.ClientURL())
	require.NoError(t, err)
	port, err := strconv.Atoi(u.Port())
	require.NoError(t, err)

	c := testConn(t, srv1)
	require.NoError(t, c.EnsureChangeStream(ctx, StreamConfig{DC: "dc1"}))
	require.NoError(t, c.EnsureTopologyBucket(ctx, "dc1"))
	stream, _ := ChangeStream("dc1")
	subj, _ := ChangeSubject("dc1", "ks", 0, "a")
	acked, err := c.PublishBatch(ctx, changeMsgs(subj, "a", 1, 10))
	require.NoError(t, err)
	require.Equal(t, 10, acked)
	rev1, err := c.PutTopology(ctx, "dc1", []byte("v1"), 0)
	require.NoError(t, err)

	topo, w := watchInto(t, c, "dc1")
	require.Equal(t, update{"v1", rev1}, recv(t, topo))
	seqs := make(chan uint64, 100)
	k, err := c.NewConsumer(ConsumerConfig{Stream: stream, Durable: "b-from-a", FilterSubject: subj}, func(_ context.Context, msgs []Delivered) error {
		for _, m := range msgs {
			seqs <- m.StreamSeq
		}
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, k.Start(ctx))
	for i := uint64(1); i <= 10; i++ {
		require.Equal(t, i, recv(t, seqs))
	}

	require.NoError(t, srv1.Shutdown(ctx))
	require.Eventually(t, func() bool { return !c.IsConnected() }, 10*time.Second, 10*time.Millisecond)

	cfg2 := cfg
	cfg2.Port = port
	srv2 := embedded.StartTestServer(t, cfg2)
	require.Eventually(t, c.IsConnected, 10*time.Second, 10*time.Millisecond)

	// The stream and its messages are still there.
	d, err := c.FirstOnSubject(ctx, stream, subj, 1)
	require.NoError(t, err)
	require.Equal(t, uint64(1), d.StreamSeq)
	d, err = c.FirstOnSubject(ctx, stream, subj, 10)
	require.NoError(t, err)
	require.Equal(t, "change-10", string(d.Data))
	doc, rev, err := c.GetTopology(ctx, "dc1")
	require.NoError(t, err)
	require.Equal(t, "v1", string(doc))
	require.Equal(t, rev1, rev)

	// The consumer resumes after its acknowledged messages.
	acked, err = c.PublishBatch(ctx, changeMsgs(subj, "a", 11, 5))
	require.NoError(t, err)
	require.Equal(t, 5, acked)
	for i := uint64(11); i <= 15; i++ {
		require.Equal(t, i, recv(t, seqs))
	}

	// The watch delivers updates made after the restart, and nothing twice.
	rev2, err := c.PutTopology(ctx, "dc1", []byte("v2"), rev1)
	require.NoError(t, err)
	require.Equal(t, update{"v2", rev2}, recv(t, topo))

	// A fresh client of the restarted server sees the same state.
	c2 := testConn(t, srv2)
	doc, _, err = c2.GetTopology(ctx, "dc1")
	require.NoError(t, err)
	require.Equal(t, "v2", string(doc))

	require.NoError(t, k.Shutdown(ctx))
	w.Stop()
	select {
	case s := <-seqs:
		t.Fatalf("message %d delivered twice", s)
	case u := <-topo:
		t.Fatalf("topology %+v delivered twice", u)
	default:
	}
}

func TestConnectRetriesUntilServerUp(t *testing.T) {
	// Reserve a port by starting and stopping a server, then connect before
	// a new server on that port is up.
	ctx := testCtx(t)
	cfg := embedded.TestConfig(t, "dc1", t.TempDir())
	srv1, err := embedded.New(cfg)
	require.NoError(t, err)
	require.NoError(t, srv1.Start(ctx))
	clientURL := srv1.ClientURL()
	u, _ := url.Parse(clientURL)
	port, _ := strconv.Atoi(u.Port())
	require.NoError(t, srv1.Shutdown(ctx))

	type result struct {
		c   *Conn
		err error
	}
	done := make(chan result, 1)
	failed := &signalWriter{match: "connect failed", ch: make(chan struct{})}
	log := hclog.New(&hclog.LoggerOptions{Output: failed, Level: hclog.Warn})
	go func() {
		c, err := Connect(ctx, ConnConfig{URL: clientURL, Name: "early", Logger: log})
		done <- result{c, err}
	}()
	recv(t, failed.ch) // at least one attempt failed
	cfg.Port = port
	_ = embedded.StartTestServer(t, cfg)
	r := recv(t, done)
	require.NoError(t, r.err)
	r.c.Close()

	// A connect that never succeeds ends with its context.
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, err = Connect(cctx, ConnConfig{URL: "nats://127.0.0.1:1"})
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

// signalWriter closes ch the first time a log line contains match.
type signalWriter struct {
	match string
	ch    chan struct{}
	once  sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	if strings.Contains(string(p), w.match) {
		w.once.Do(func() { close(w.ch) })
	}
	return len(p), nil
}

func TestInProcessConnection(t *testing.T) {
	srv := embedded.RunTestServer(t, "dc1")
	ctx := testCtx(t)
	c, err := Connect(ctx, ConnConfig{Name: "inproc", Options: srv.ConnectOptions()})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.EnsureChangeStream(ctx, StreamConfig{DC: "dc1"}))
	subj, _ := ChangeSubject("dc1", "ks", 0, "a")
	acked, err := c.PublishBatch(ctx, changeMsgs(subj, "a", 1, 10))
	require.NoError(t, err)
	require.Equal(t, 10, acked)
}
