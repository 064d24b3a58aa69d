package bustest

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/vasto-kv/vasto/bus"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestSubjectMatch(t *testing.T) {
	cases := []struct {
		filter, subject string
		want            bool
	}{
		{"", "a.b", true},
		{"a.b", "a.b", true},
		{"a.*", "a.b", true},
		{"a.*", "a.b.c", false},
		{"a.>", "a.b.c", true},
		{"a.>", "a", false},
		{"a.*.c", "a.b.c", true},
		{"a.*.c", "a.b.d", false},
		{"a.b.c", "a.b", false},
	}
	for _, c := range cases {
		require.Equal(t, c.want, SubjectMatch(c.filter, c.subject), "%s ~ %s", c.filter, c.subject)
	}
}

// TestStreamsAndConsumers: publishes land in the change stream holding
// their subject (never in a copy of a remote stream), a retried id is
// stored once, and a durable consumer resumes after the last batch its
// handler accepted.
func TestStreamsAndConsumers(t *testing.T) {
	ctx := context.Background()
	b := New()
	require.NoError(t, b.EnsureChangeStream(ctx, bus.StreamConfig{DC: "dc1"}))
	require.NoError(t, b.EnsureSourceStream(ctx, bus.SourceConfig{LocalDC: "dc1", RemoteDC: "dc2"}))
	stream, _ := bus.ChangeStream("dc1")
	subj, _ := bus.ChangeSubject("dc1", "ks", 0, "s1")
	msg := func(i int) bus.Message {
		return bus.Message{Subject: subj, ID: "id" + strconv.Itoa(i), Header: map[string]string{"i": strconv.Itoa(i)}}
	}
	n, err := b.PublishBatch(ctx, []bus.Message{msg(1), msg(2), msg(2)})
	require.NoError(t, err)
	require.Equal(t, 3, n)
	require.Len(t, b.Messages(stream, ">"), 2, "a retried id is stored once")
	_, err = b.PublishBatch(ctx, []bus.Message{{Subject: "vasto.chg.dc2.ks.0.s9"}})
	require.ErrorIs(t, err, bus.ErrNoStream, "a copy of a remote stream takes no publish")

	var got []string
	fail := true
	c, err := b.NewConsumer(bus.ConsumerConfig{Stream: stream, Durable: "d", FilterSubject: subj},
		func(_ context.Context, msgs []bus.Delivered) error {
			if fail {
				fail = false
				return errors.New("injected")
			}
			for _, m := range msgs {
				got = append(got, m.Header["i"])
			}
			return nil
		})
	require.NoError(t, err)
	runUntilDrained(ctx, t, b, c, stream, "d")
	require.Equal(t, []string{"1", "2"}, got, "the failed batch is delivered again")
	passed, err := b.ConsumerPassed(ctx, stream, "d", 2)
	require.NoError(t, err)
	require.True(t, passed)

	_, err = b.PublishBatch(ctx, []bus.Message{msg(3)})
	require.NoError(t, err)
	c, err = b.NewConsumer(bus.ConsumerConfig{Stream: stream, Durable: "d"}, func(_ context.Context, msgs []bus.Delivered) error {
		for _, m := range msgs {
			got = append(got, m.Header["i"])
		}
		return nil
	})
	require.NoError(t, err)
	runUntilDrained(ctx, t, b, c, stream, "d")
	require.Equal(t, []string{"1", "2", "3"}, got, "a restarted consumer resumes after its floor")
	require.NoError(t, b.DeleteConsumer(ctx, stream, "d"))
	require.ErrorIs(t, b.DeleteConsumer(ctx, stream, "d"), bus.ErrNoConsumer)
}

// runUntilDrained starts c, the consumer durable of stream, waits until
// nothing is pending for it, and shuts it down.
func runUntilDrained(ctx context.Context, t *testing.T, b *Bus, c bus.Runner, stream, durable string) {
	t.Helper()
	require.NoError(t, c.Start(ctx))
	require.Eventually(t, func() bool {
		p, _, err := b.ConsumerPending(ctx, stream, durable)
		return err == nil && p == 0
	}, 10*time.Second, 5*time.Millisecond)
	require.NoError(t, c.Shutdown(ctx))
}
