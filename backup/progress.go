package backup

import (
	"sync"
	"time"
)

// Progress is what a backup or a restore has done so far.
type Progress struct {
	// Phase is "backup", "check", "restore" or "verify".
	Phase      string
	ShardsDone int
	Shards     int
	Records    int64
	Bytes      int64
	Elapsed    time.Duration
}

// Rate is the records per second so far.
func (p Progress) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Records) / p.Elapsed.Seconds()
}

// tracker counts progress from several goroutines and reports it.
type tracker struct {
	mu    sync.Mutex
	p     Progress
	start time.Time
	now   func() time.Time
	fn    func(Progress)
}

func newTracker(phase string, shards int, now func() time.Time, fn func(Progress)) *tracker {
	return &tracker{p: Progress{Phase: phase, Shards: shards}, start: now(), now: now, fn: fn}
}

// add counts records and bytes, and a finished shard when done.
func (t *tracker) add(records, bytes int64, done bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.p.Records += records
	t.p.Bytes += bytes
	if done {
		t.p.ShardsDone++
	}
	t.p.Elapsed = t.now().Sub(t.start)
	if t.fn != nil {
		t.fn(t.p)
	}
}
