package replica

import (
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestGoroutinesRefuseAfterClose(t *testing.T) {
	var g goroutines
	var ran atomic.Int32
	release := make(chan struct{})
	require.True(t, g.Go(func() { <-release; ran.Add(1) }))
	g.Close()
	g.Close()
	require.False(t, g.Go(func() { ran.Add(100) }), "nothing starts once closed")
	close(release)
	g.Wait()
	require.EqualValues(t, 1, ran.Load())
}
