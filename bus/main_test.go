package bus

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// nats-server waits up to 30 s (srcConsumerWaitTime) for the answer
		// to a source consumer-create request in a goroutine that outlives
		// the server's shutdown; a test that stops a server while a source
		// could not reach its remote stream (remote down, or never there)
		// leaves it behind for up to those 30 s. It is the server's, bounded,
		// and holds nothing of ours.
		goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*stream).trySetupSourceConsumer.func3"),
	)
}
