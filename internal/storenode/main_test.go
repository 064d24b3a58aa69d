package storenode

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildDir); dir != "" {
		runCrashChild(dir) // the test binary as a store process to crash
	}
	goleak.VerifyTestMain(m,
		// nats-server's own goroutine waiting (up to 30 s) for a source
		// consumer reply that never comes; it holds nothing of ours.
		goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*stream).trySetupSourceConsumer.func3"))
}
