package client

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that closed clients, their pools and the fake stores
// leave no goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
