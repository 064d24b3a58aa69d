package bus

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus/embedded"
)

func TestRequestReply(t *testing.T) {
	srv := embedded.RunTestServer(t, "dc1")
	c := testConn(t, srv)
	ctx := testCtx(t)
	subj, _ := AdminSubject("dc1", "echo")

	_, err := c.Request(ctx, subj, []byte("x"))
	require.ErrorIs(t, err, ErrNoResponders)

	s, err := c.Handle(subj, "masters", func(_ context.Context, data []byte) ([]byte, error) {
		if string(data) == "fail" {
			return nil, errors.New("no such keyspace\r\nNats-Rollup: all")
		}
		return append([]byte("echo:"), data...), nil
	})
	require.NoError(t, err)

	other := testConn(t, srv)
	resp, err := other.Request(ctx, subj, []byte("hi"))
	require.NoError(t, err)
	require.Equal(t, "echo:hi", string(resp))

	_, err = other.Request(ctx, subj, []byte("fail"))
	require.ErrorIs(t, err, ErrRemote)
	require.Contains(t, err.Error(), "no such keyspace")
	require.NotContains(t, err.Error(), "\n")

	s.Stop()
	s.Stop()
	_, err = other.Request(ctx, subj, []byte("x"))
	require.ErrorIs(t, err, ErrNoResponders)

	_, err = c.Request(ctx, "vasto.adm.*", nil)
	require.ErrorIs(t, err, ErrBadName)
	_, err = c.Handle("$JS.API.>", "", func(context.Context, []byte) ([]byte, error) { return nil, nil })
	require.ErrorIs(t, err, ErrBadName)
	_, err = c.Handle(subj, "q.x", func(context.Context, []byte) ([]byte, error) { return nil, nil })
	require.ErrorIs(t, err, ErrBadName)
}

func TestRequestHandlerContextEndsAtStop(t *testing.T) {
	srv := embedded.RunTestServer(t, "dc1")
	c := testConn(t, srv)
	ctx := testCtx(t)
	subj, _ := AdminSubject("dc1", "slow")
	entered := make(chan struct{})
	s, err := c.Handle(subj, "", func(hctx context.Context, _ []byte) ([]byte, error) {
		close(entered)
		<-hctx.Done()
		return nil, hctx.Err()
	})
	require.NoError(t, err)
	rctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	go func() { _, _ = c.Request(rctx, subj, nil) }()
	recv(t, entered)
	s.Stop() // cancels the handler's ctx and waits for it
}

func TestPublishSubscribe(t *testing.T) {
	srv := embedded.RunTestServer(t, "dc1")
	c := testConn(t, srv)
	hb, _ := HeartbeatSubject("dc1")

	type msg struct{ subj, data string }
	ch := make(chan msg, 10)
	block := make(chan struct{})
	s, err := c.Subscribe("vasto.hb.*", func(subject string, data []byte) {
		ch <- msg{subject, string(data)}
		if string(data) == "block" {
			<-block
		}
	})
	require.NoError(t, err)

	p := testConn(t, srv)
	require.NoError(t, p.Publish(hb, []byte("beat")))
	require.Equal(t, msg{hb, "beat"}, recv(t, ch))

	// Stop waits for a callback in progress.
	require.NoError(t, p.Publish(hb, []byte("block")))
	require.Equal(t, msg{hb, "block"}, recv(t, ch))
	stopped := make(chan struct{})
	go func() { s.Stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("Stop returned while the callback was running")
	case <-time.After(50 * time.Millisecond):
	}
	close(block)
	recv(t, stopped)

	require.ErrorIs(t, p.Publish("vasto.hb.*", nil), ErrBadName)
	require.ErrorIs(t, p.Publish("$SYS.REQ.SERVER.PING", nil), ErrBadName)
	require.ErrorIs(t, p.Publish(strings.Repeat("a", 1000), nil), ErrBadName)
	_, err = c.Subscribe("a..b", func(string, []byte) {})
	require.ErrorIs(t, err, ErrBadName)
}
