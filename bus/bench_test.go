package bus

import (
	"context"
	"strconv"
	"testing"

	"github.com/vasto-kv/vasto/bus/embedded"
)

// BenchmarkPublishBatch publishes 100-byte change messages with unique
// Nats-Msg-Ids in batches of 256 to a file-backed stream over TCP loopback,
// waiting for every batch's acks, and reports messages per second.
func BenchmarkPublishBatch(b *testing.B) {
	srv := embedded.RunTestServer(b, "dc1")
	c := testConn(b, srv)
	ctx := context.Background()
	if err := c.EnsureChangeStream(ctx, StreamConfig{DC: "dc1", MaxBytes: 4 << 30}); err != nil {
		b.Fatal(err)
	}
	subj, _ := ChangeSubject("dc1", "ks", 0, "store1")
	const batch = 256
	data := make([]byte, 100)
	msgs := make([]Message, batch)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i += batch {
		n := min(batch, b.N-i)
		for j := range n {
			msgs[j] = Message{Subject: subj, ID: "store1/ks/0/" + strconv.Itoa(i+j), Data: data}
		}
		acked, err := c.PublishBatch(ctx, msgs[:n])
		if err != nil || acked != n {
			b.Fatalf("acked %d of %d: %v", acked, n, err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
