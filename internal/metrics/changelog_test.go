package metrics

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestChangeLogMetrics(t *testing.T) {
	reg := NewRegistry()
	url := serve(t, reg)
	var mu sync.Mutex
	reading, readErr := ChangeLogReading{Exists: true, Replicas: 3, Current: 2, Bytes: 1 << 20,
		WriteRate: 1 << 10, Retention: 90 * time.Minute}, error(nil)
	unregister, err := NewChangeLog(reg, "dc1", func(context.Context) (ChangeLogReading, error) {
		mu.Lock()
		defer mu.Unlock()
		return reading, readErr
	})
	require.NoError(t, err)
	defer unregister()
	f := fetch(t, url)
	dc := map[string]string{"dc": "dc1"}
	require.Equal(t, 5400.0, value(t, f, "vasto_change_log_retention_seconds", dc))
	require.Equal(t, 1024.0, value(t, f, "vasto_change_log_write_bytes_per_second", dc))
	require.Equal(t, float64(1<<20), value(t, f, "vasto_change_log_bytes", dc))
	require.Equal(t, 3.0, value(t, f, "vasto_change_log_replicas", dc))
	require.Equal(t, 2.0, value(t, f, "vasto_change_log_replicas_current", dc))

	mu.Lock()
	reading.Retention = -1
	mu.Unlock()
	require.Equal(t, -1.0, value(t, fetch(t, url), "vasto_change_log_retention_seconds", dc))

	// A failed reading exports nothing rather than stale numbers.
	mu.Lock()
	readErr = errors.New("nats down")
	mu.Unlock()
	_, ok := fetch(t, url).Sum("vasto_change_log_retention_seconds", nil)
	require.False(t, ok)
}
