package server

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(diskChildEnv) != "" {
		runDiskChild()
		return
	}
	if os.Getenv(acceptChildEnv) != "" {
		runAcceptChild()
		return
	}
	goleak.VerifyTestMain(m)
}
