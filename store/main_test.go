package store

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		runCrashChild()
		return
	}
	if arg := os.Getenv(shardsChildEnv); arg != "" {
		if err := runShardsBench(arg); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		return
	}
	goleak.VerifyTestMain(m)
}
