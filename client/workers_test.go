package client

import (
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWorkersReuseGoroutinesAndCloseWaitsForBusyOnes(t *testing.T) {
	var w workers
	var ran atomic.Int64
	done := make(chan struct{}, 100)
	for range 100 {
		require.True(t, w.run(func() { ran.Add(1); done <- struct{}{} }))
		<-done
	}
	require.Equal(t, int64(100), ran.Load())
	w.mu.Lock()
	idle := len(w.idle)
	w.mu.Unlock()
	require.LessOrEqual(t, idle, 2, "one job at a time needs at most a worker or two")

	// close waits for a busy worker; nothing runs afterwards.
	release := make(chan struct{})
	started := make(chan struct{})
	require.True(t, w.run(func() { close(started); <-release; ran.Add(1) }))
	<-started
	closed := make(chan struct{})
	go func() { w.close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("close returned while a worker was busy")
	default:
	}
	close(release)
	<-closed
	require.Equal(t, int64(101), ran.Load())
	require.False(t, w.run(func() { ran.Add(1) }))
	require.Equal(t, int64(101), ran.Load())
}
