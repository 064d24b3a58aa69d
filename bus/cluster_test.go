package bus

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus/embedded"
)

// clusterConn connects to every server of a cluster (several URLs) with
// replicas as the default for created streams and buckets.
func clusterConn(t *testing.T, servers []*embedded.Server, replicas int) *Conn {
	t.Helper()
	c, err := Connect(testCtx(t), ConnConfig{URL: embedded.ClientURLs(servers), Name: t.Name(),
		Logger: embedded.TestLogger(t, hclog.Warn), Replicas: replicas})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

func TestReplicatedStreamsInCluster(t *testing.T) {
	servers := embedded.StartTestCluster(t, "dc1", 3)
	c := clusterConn(t, servers, 3)
	ctx := testCtx(t)
	require.NoError(t, c.EnsureChangeStream(ctx, StreamConfig{DC: "dc1", MaxBytes: 64 << 20}))
	require.NoError(t, c.EnsureTopologyBucket(ctx, "dc1"))
	stream, _ := ChangeStream("dc1")
	require.Eventually(t, func() bool {
		st, err := c.StreamState(ctx, stream)
		return err == nil && st.Exists && st.Replicas == 3 && st.Leader != "" && st.Current == 3
	}, 20*time.Second, 50*time.Millisecond)
	bucket, _ := TopologyBucket("dc1")
	bucketStream := kvStreamPrefix + bucket
	st, err := c.StreamState(ctx, bucketStream)
	require.NoError(t, err)
	require.Equal(t, 3, st.Replicas)

	// Five replicas do not fit in three servers: a clear error, and the
	// stream keeps its three.
	err = c.EnsureChangeStream(ctx, StreamConfig{DC: "dc1", MaxBytes: 64 << 20, Replicas: 5})
	require.ErrorIs(t, err, ErrReplicas)
	st, err = c.StreamState(ctx, stream)
	require.NoError(t, err)
	require.Equal(t, 3, st.Replicas)
}

func TestReplicasNeedCluster(t *testing.T) {
	srv := embedded.RunTestServer(t, "dc1")
	c := testConn(t, srv)
	ctx := testCtx(t)
	err := c.EnsureChangeStream(ctx, StreamConfig{DC: "dc1", Replicas: 3})
	require.ErrorIs(t, err, ErrReplicas)
	require.Contains(t, err.Error(), "not clustered")
	err = c.EnsureSourceStream(ctx, SourceConfig{LocalDC: "dc1", RemoteDC: "dc2", Replicas: 3})
	require.ErrorIs(t, err, ErrReplicas)
	stream, _ := ChangeStream("dc1")
	st, err := c.StreamState(ctx, stream)
	require.NoError(t, err)
	require.False(t, st.Exists, "a refused stream is not created")

	require.ErrorIs(t, c.EnsureChangeStream(ctx, StreamConfig{DC: "dc1", Replicas: 6}), ErrInvalidConfig)
	_, err = Connect(ctx, ConnConfig{URL: srv.ClientURL(), Replicas: -1})
	require.ErrorIs(t, err, ErrInvalidConfig)
}

func TestRetentionHorizon(t *testing.T) {
	require.Equal(t, time.Duration(-1), RetentionHorizon(0, -1, 100))
	require.Equal(t, 24*time.Hour, RetentionHorizon(24*time.Hour, -1, 100))
	require.Equal(t, 24*time.Hour, RetentionHorizon(24*time.Hour, 1<<30, 0))
	// 1 GiB at 1 MiB/s lasts 1024 s, less than a day.
	require.Equal(t, 1024*time.Second, RetentionHorizon(24*time.Hour, 1<<30, 1<<20))
	require.Equal(t, 1024*time.Second, RetentionHorizon(0, 1<<30, 1<<20))

	var e RetentionEstimator
	t0 := time.Unix(1000, 0)
	st := StreamState{Exists: true, MaxAge: time.Hour, MaxBytes: 1000, Msgs: 10, Bytes: 100, LastSeq: 10,
		FirstTime: t0.Add(-10 * time.Second), LastTime: t0}
	rate, h := e.Observe(st, t0)
	require.InDelta(t, 10, rate, 0.001) // 100 bytes over 10 s
	require.Equal(t, 100*time.Second, h)
	// 20 more messages of 10 bytes in 1 s: 200 bytes/s.
	st.LastSeq, st.Msgs, st.Bytes = 30, 30, 300
	rate, h = e.Observe(st, t0.Add(time.Second))
	require.InDelta(t, 200, rate, 0.001)
	require.Equal(t, 5*time.Second, h)
}

func TestStreamStateReadsLimits(t *testing.T) {
	srv := embedded.RunTestServer(t, "dc1")
	c := testConn(t, srv)
	ctx := testCtx(t)
	require.NoError(t, c.EnsureChangeStream(ctx, StreamConfig{DC: "dc1", MaxAge: time.Hour, MaxBytes: 8 << 20}))
	subj, _ := ChangeSubject("dc1", "ks", 0, "s1")
	acked, err := c.PublishBatch(ctx, changeMsgs(subj, "m", 0, 10))
	require.NoError(t, err)
	require.Equal(t, 10, acked)
	stream, _ := ChangeStream("dc1")
	st, err := c.StreamState(context.Background(), stream)
	require.NoError(t, err)
	require.True(t, st.Exists)
	require.Equal(t, 1, st.Replicas)
	require.Equal(t, 1, st.Current)
	require.Equal(t, time.Hour, st.MaxAge)
	require.Equal(t, int64(8<<20), st.MaxBytes)
	require.Equal(t, uint64(10), st.Msgs)
	require.Equal(t, uint64(10), st.LastSeq)
}

// TestChangeLogSurvivesLosingAServer publishes to a 3-replica change log
// without pause and stops the server leading it hard: publishing resumes
// once the two servers left elect a leader, and every acknowledged message
// is still in the stream. It logs the longest pause between two
// acknowledged batches (the election).
func TestChangeLogSurvivesLosingAServer(t *testing.T) {
	servers := embedded.StartTestCluster(t, "dc1", 3)
	c := clusterConn(t, servers, 3)
	publishThroughLeaderLoss(t, c, 6*time.Second, func(leader string) bool {
		for _, s := range servers {
			if s.Name() == leader {
				require.NoError(t, s.Shutdown(testCtx(t)))
				return true
			}
		}
		return false
	})
}

// publishThroughLeaderLoss creates dc1's change log with 3 replicas on c,
// publishes batches to it without pause, calls stop with the name of the
// stream's leader after 2 000 messages (stop reports whether it stopped
// it), goes on for hold, and checks that the stream holds every
// acknowledged message once.
func publishThroughLeaderLoss(t *testing.T, c *Conn, hold time.Duration, stop func(leader string) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hold+40*time.Second)
	defer cancel()
	require.Eventually(t, func() bool {
		actx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		return c.EnsureChangeStream(actx, StreamConfig{DC: "dc1", MaxBytes: 256 << 20, Replicas: 3}) == nil
	}, 20*time.Second, 100*time.Millisecond, "the cluster takes a 3-replica stream")
	stream, _ := ChangeStream("dc1")
	var st StreamState
	require.Eventually(t, func() bool {
		var err error
		st, err = c.StreamState(ctx, stream)
		return err == nil && st.Current == 3
	}, 20*time.Second, 50*time.Millisecond)
	subj, _ := ChangeSubject("dc1", "ks", 0, "s1")

	const batch = 50
	acked := 0
	var gapBefore, gapAfter time.Duration
	last := time.Now()
	var stoppedAt time.Time
	for ctx.Err() == nil && (stoppedAt.IsZero() || time.Since(stoppedAt) < hold) {
		if stoppedAt.IsZero() && acked >= 2000 {
			require.True(t, stop(st.Leader), "leader %q stopped", st.Leader)
			stoppedAt = time.Now()
		}
		// Republish from the first unacknowledged message, with the same
		// ids: de-duplication absorbs what was stored without an ack.
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		n, _ := c.PublishBatch(pctx, changeMsgs(subj, "m", acked, batch))
		cancel()
		if n == 0 {
			continue
		}
		acked += n
		now := time.Now()
		if stoppedAt.IsZero() {
			gapBefore = max(gapBefore, now.Sub(last))
		} else {
			gapAfter = max(gapAfter, now.Sub(last))
		}
		last = now
	}
	t.Logf("change-log leader %s stopped after 2000 messages: %d acknowledged in all; longest pause between acknowledged batches %s before, %s after",
		st.Leader, acked, gapBefore.Round(time.Millisecond), gapAfter.Round(time.Millisecond))
	require.Greater(t, acked, 2000+batch, "publishing resumed")
	// Every acknowledged message is in the stream, once.
	require.Eventually(t, func() bool {
		st, err := c.StreamState(ctx, stream)
		return err == nil && st.Leader != "" && st.Msgs == uint64(acked) && st.LastSeq == uint64(acked)
	}, 20*time.Second, 50*time.Millisecond)
	first, err := c.FirstOnSubject(ctx, stream, subj, 1)
	require.NoError(t, err)
	require.Equal(t, "m-0", first.Header["Nats-Msg-Id"])
}
