package bus

import (
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus/embedded"
)

func openKVBench(t *testing.T, srv *embedded.Server, bucket string) *KVBench {
	t.Helper()
	cfg := DefaultKVBenchConfig(srv.ClientURL())
	cfg.Bucket = bucket
	cfg.Conn.Logger = embedded.TestLogger(t, hclog.Warn)
	b, err := OpenKVBench(testCtx(t), cfg)
	require.NoError(t, err)
	return b
}

func TestKVBenchPutGetAndOwnership(t *testing.T) {
	srv := embedded.RunTestServer(t, "dc1")
	ctx := testCtx(t)
	admin := testConn(t, srv)

	owner := openKVBench(t, srv, "bench_t")
	require.True(t, owner.Created())
	st, err := admin.js.KeyValue(ctx, "bench_t")
	require.NoError(t, err)
	status, err := st.Status(ctx)
	require.NoError(t, err)
	info := status.(*jetstream.KeyValueBucketStatus).StreamInfo()
	require.Equal(t, jetstream.FileStorage, info.Config.Storage)
	require.Equal(t, 1, info.Config.Replicas)

	// Keys that are not subject tokens as they are, and two that differ
	// only where a lossy encoding would merge them.
	keys := [][]byte{[]byte("key:000000000001"), []byte("a b.*>"), []byte("a b.*?"), {0, 0xff, '/'}}
	for i, k := range keys {
		_, found, err := owner.Get(ctx, k)
		require.NoError(t, err)
		require.False(t, found, "%q", k)
		require.NoError(t, owner.Put(ctx, k, []byte{byte(i)}))
	}
	user := openKVBench(t, srv, "bench_t")
	require.False(t, user.Created(), "the bucket existed")
	for i, k := range keys {
		v, found, err := user.Get(ctx, k)
		require.NoError(t, err)
		require.True(t, found, "%q", k)
		require.Equal(t, []byte{byte(i)}, v, "%q", k)
	}
	require.ErrorIs(t, user.Put(ctx, nil, []byte("v")), ErrBadName)

	require.NoError(t, user.Close(ctx))
	_, err = admin.js.KeyValue(ctx, "bench_t")
	require.NoError(t, err, "a user does not delete a bucket it did not create")
	require.NoError(t, owner.Close(ctx))
	_, err = admin.js.KeyValue(ctx, "bench_t")
	require.ErrorIs(t, err, jetstream.ErrBucketNotFound, "the creator deletes it")
}

func TestKVBenchConfigRefused(t *testing.T) {
	ctx := testCtx(t)
	cfg := DefaultKVBenchConfig("nats://127.0.0.1:1")
	cfg.Bucket = "bad.name"
	_, err := OpenKVBench(ctx, cfg)
	require.ErrorIs(t, err, ErrBadName)
	_, err = OpenKVBench(ctx, DefaultKVBenchConfig(""))
	require.ErrorIs(t, err, ErrInvalidConfig)
}
