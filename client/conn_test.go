package client

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeConns returns the connections of a client to the fake store at addr.
func fakeConns(t *testing.T, c *Client, addr string) *storeConns {
	t.Helper()
	p, err := c.pool(addr)
	require.NoError(t, err)
	return p
}

func TestConcurrentCallsShareThePipelines(t *testing.T) {
	s1 := newFakeStore(t, "s1", "ks/0", "ks/1")
	c := testClientWith(t, fakeTopology("ks", [][]string{{"s1"}, {"s1"}}, s1), func(cfg *Config) {
		cfg.Pipelines = 2
	})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for w := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 4 {
				k := fmt.Sprintf("k%d-%d", w, i)
				if _, err := c.Put(ctx, "ks", []byte(k), []byte("v-"+k)); err != nil {
					errs <- err
					return
				}
				it, err := c.Get(ctx, "ks", []byte(k))
				if err != nil {
					errs <- err
					return
				}
				if string(it.Value) != "v-"+k {
					errs <- fmt.Errorf("key %s read %q", k, it.Value)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, 2, s1.connCount(), "50 concurrent callers on the 2 shared connections")
	require.Equal(t, 400, s1.pipelines(), "every call still sends its own VUSE")
}

func TestBlockingCallsUseDedicatedConnections(t *testing.T) {
	s1 := newFakeStore(t, "s1", "ks/0")
	c := testClientWith(t, fakeTopology("ks", [][]string{{"s1"}}, s1), func(cfg *Config) {
		cfg.Pipelines = 1
		cfg.PoolSize = 1
	})
	ctx := context.Background()
	r, err := c.Put(ctx, "ks", []byte("k"), []byte("v"))
	require.NoError(t, err)
	require.Equal(t, 1, s1.connCount())
	for range 3 {
		it, err := c.Get(ctx, "ks", []byte("k"), WithAfter(r.Token(), time.Second))
		require.NoError(t, err)
		require.Equal(t, "v", string(it.Value))
	}
	require.Equal(t, 2, s1.connCount(), "reads WithAfter wait server-side: one dedicated connection, reused")
	_, err = c.Get(ctx, "ks", []byte("k"))
	require.NoError(t, err)
	require.Equal(t, 2, s1.connCount())

	// PoolSize bounds the dedicated connections: with the one in use at a
	// frozen store, the next blocking call waits for it (until its ctx
	// ends) and a plain call still goes on the shared connection... which
	// the frozen store does not answer either, so it is abandoned too.
	p := fakeConns(t, c, s1.addr)
	s1.freeze()
	first := make(chan error, 1)
	go func() {
		var b cmdBuf
		b.add("PING")
		first <- p.do(ctx, newRequest(&b, 0), true)
	}()
	require.Eventually(t, func() bool { return s1.waiting("PING") == 1 }, 2*time.Second, 5*time.Millisecond)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	var b cmdBuf
	b.add("PING")
	require.ErrorIs(t, p.do(short, newRequest(&b, 0), true), context.DeadlineExceeded)
	require.Equal(t, 2, s1.connCount(), "no third connection")
	s1.thaw()
	require.NoError(t, <-first)
}

func TestIsBlocking(t *testing.T) {
	args := func(s ...string) [][]byte {
		out := make([][]byte, len(s))
		for i, a := range s {
			out[i] = []byte(a)
		}
		return out
	}
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"WAIT", "1", "100"}, true},
		{[]string{"blpop", "l", "0"}, true},
		{[]string{"VGET", "k", "after", "t", "TIMEOUT", "10"}, true},
		{[]string{"VSET", "k", "v", "ACK", "replicated"}, true},
		{[]string{"VSET", "k", "v", "ACK", "published"}, true},
		{[]string{"VSET", "k", "v", "ACK", "local"}, false},
		{[]string{"VSET", "k", "v"}, false},
		{[]string{"GET", "k"}, false},
		{[]string{"VSET", "k", "ACK"}, false}, // the value "ACK"
	} {
		require.Equal(t, tc.want, isBlocking(args(tc.args...)), "%v", tc.args)
	}
}

func TestCancelledCallsLeaveTheStreamInOrder(t *testing.T) {
	s1 := newFakeStore(t, "s1", "ks/0")
	for i := range 20 {
		s1.put("ks/0", fmt.Sprint("k", i), fmt.Sprint("v", i))
	}
	c := testClientWith(t, fakeTopology("ks", [][]string{{"s1"}}, s1), func(cfg *Config) {
		cfg.Pipelines = 1
		cfg.HedgeAfter, cfg.AttemptTimeout = -1, -1
	})
	warm(t, c, s1)
	s1.freeze()
	ctx := context.Background()
	type result struct {
		i   int
		it  Item
		err error
	}
	results := make(chan result, 20)
	cancels := make([]context.CancelFunc, 20)
	for i := range 20 {
		cctx, cancel := context.WithCancel(ctx)
		cancels[i] = cancel
		go func() {
			it, err := c.Get(cctx, "ks", []byte(fmt.Sprint("k", i)))
			results <- result{i, it, err}
		}()
	}
	require.Eventually(t, func() bool { return s1.waiting("VUSE") == 1 }, 2*time.Second, 5*time.Millisecond)
	// Every other caller gives up: it returns at once, the store frozen.
	for i := 0; i < 20; i += 2 {
		cancels[i]()
	}
	for range 10 {
		select {
		case r := <-results:
			require.Equal(t, 0, r.i%2, "only the cancelled calls return")
			require.ErrorIs(t, r.err, context.Canceled)
		case <-time.After(2 * time.Second):
			t.Fatal("a cancelled call did not return while the store is frozen")
		}
	}
	s1.thaw()
	for range 10 {
		r := <-results
		require.NoError(t, r.err)
		require.Equal(t, fmt.Sprint("v", r.i), string(r.it.Value), "each call reads its own reply")
	}
	for _, cancel := range cancels {
		cancel()
	}
	require.Equal(t, 1, s1.connCount(), "the connection stayed in use")
}

func TestConnectionErrorFailsEveryRequestInFlightRetryably(t *testing.T) {
	s1 := newFakeStore(t, "s1", "ks/0")
	s2 := newFakeStore(t, "s2", "ks/0")
	c := testClientWith(t, fakeTopology("ks", [][]string{{"s1", "s2"}}, s1, s2), func(cfg *Config) {
		cfg.Pipelines = 1
		cfg.HedgeAfter, cfg.AttemptTimeout = -1, -1
	})
	warm(t, c, s1)
	s1.freeze()
	ctx := context.Background()
	done := make(chan error, 10)
	for i := range 10 {
		go func() {
			r, err := c.Put(ctx, "ks", []byte(fmt.Sprint("k", i)), []byte("v"))
			if err == nil && r.Store != "s2" {
				err = fmt.Errorf("written to %s", r.Store)
			}
			done <- err
		}()
	}
	require.Eventually(t, func() bool { return s1.waiting("VUSE") == 1 }, 2*time.Second, 5*time.Millisecond)
	s1.dropConns() // a reset: every request in flight fails, and goes to s2
	for range 10 {
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(2 * time.Second):
			t.Fatal("a request in flight on the reset connection was not retried")
		}
	}
	require.True(t, c.suspected(s1.addr))
	s1.thaw()
}

func TestMalformedReplyFailsTheConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { _ = nc.Close() }()
				r := bufio.NewReader(nc)
				if _, err := readCommand(r); err != nil { // HELLO
					return
				}
				_, _ = nc.Write([]byte("+OK\r\n"))
				if _, err := readCommand(r); err != nil {
					return
				}
				_, _ = nc.Write([]byte("%7\r\n"))
				_, _ = r.ReadByte() // until the client closes
			}()
		}
	}()
	p := newStoreConns(connConfig{addr: ln.Addr().String(), dialTimeout: time.Second, readTimeout: time.Second,
		writeTimeout: time.Second}, 1, 1)
	defer p.close()
	var b cmdBuf
	b.add("PING")
	err = p.do(context.Background(), newRequest(&b, 0), false)
	require.ErrorIs(t, err, errMalformed)
	require.ErrorContains(t, err, "unknown reply type '%'")
	got, retry := classify(context.Background(), err, "s1", "a")
	require.True(t, retry, "a broken stream is the transport's failure: retried")
	require.ErrorIs(t, got, errMalformed)
}
