package drill

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/chaos/check"
	"github.com/vasto-kv/vasto/lww"
)

// failedResult is a finished run with one lost write.
func failedResult(t *testing.T) Result {
	cfg := DefaultConfig("mixed")
	cfg.Seed, cfg.Dir = 17, t.TempDir()
	ops := []check.Op{
		{ID: 1, Kind: check.KindPut, Keyspace: "drill", Key: "k", Value: "v1", EventTime: 10, Outcome: check.OutcomeOK,
			Applied: true, Version: lww.Version{Time: 10, DC: "dc1", Node: "s1"}, Complete: int64(1500 * time.Millisecond)},
		{ID: 2, Kind: check.KindPut, Keyspace: "drill", Key: "k", Value: "v2", Outcome: check.OutcomeUnknown, Error: "timeout",
			Complete: int64(2500 * time.Millisecond)},
	}
	res := Result{
		Config:   cfg,
		Schedule: Schedule{Seed: 17, Drill: "mixed", Duration: cfg.Duration},
		Events: []FaultEvent{
			{Fault: Fault{Kind: FaultStoreKill, DC: "dc1", Store: 0}, Injected: time.Second, Healed: 2 * time.Second},
			{Fault: Fault{Kind: FaultDiskFull, DC: "dc1", Store: 0}, Injected: 3 * time.Second, Healed: 4 * time.Second, Skipped: "needs root"},
		},
		Check:        check.Check(ops, check.Final{Now: 100}),
		Lag:          []LagSample{{At: time.Second, From: "dc1", To: "dc2", Lag: 20 * time.Millisecond, Seen: true}, {At: 2 * time.Second, From: "dc2", To: "dc1", Lag: probeTimeout}},
		Throughput:   throughput(ops, []readEvent{{at: int64(time.Second), ok: true}}, 3*time.Second),
		WorkloadTime: 3 * time.Second,
		Converged:    true,
		ConvergeTime: 200 * time.Millisecond,
		History:      filepath.Join(cfg.Dir, "history.jsonl"),
	}
	require.False(t, res.Check.OK(), "the lost write is found")
	return res
}

func TestReportOfAFailedRun(t *testing.T) {
	res := failedResult(t)
	require.NoError(t, writeReport(&res))
	b, err := os.ReadFile(res.Report)
	require.NoError(t, err)
	md := string(b)
	require.Contains(t, md, "# Drill mixed: FAIL")
	require.Contains(t, md, "vasto chaos run mixed --seed 17 --duration 30s --dcs 2 --stores 3")
	require.Contains(t, md, "| lost | 1 |")
	require.Contains(t, md, "skipped: needs root")
	require.Contains(t, md, "| 1 | 2 | 0 | store-kill dc1/s1 |", "second 1: the ok put and the read, during the kill")
	require.Contains(t, md, "| 2 | 0 | 1 |  |", "second 2: the timed-out put")
	require.Contains(t, md, "2 probes, 1 not seen (within 15s")
	require.Contains(t, md, "Replay this run with")
	require.Equal(t, []string{"disk-full dc1/s1: needs root"}, res.Skipped())

	f, err := os.Open(res.Chart)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	require.Greater(t, img.Bounds().Dx(), 500)
}

func TestResolveTimesFillsClientStampedPuts(t *testing.T) {
	ops := []check.Op{
		{Kind: check.KindPut, Key: "k", Value: "a", Outcome: check.OutcomeUnknown},
		{Kind: check.KindPut, Key: "k", Value: "b", EventTime: 5, Outcome: check.OutcomeOK},
		{Kind: check.KindPut, Key: "k", Value: "gone", Outcome: check.OutcomeUnknown},
	}
	reps := []check.Replica{{Records: map[string]lww.Record{
		"k": {Kind: lww.KindValue, Value: []byte("a"), Version: lww.Version{Time: 42}, ExpiresAt: 99},
	}}}
	got := resolveTimes(ops, reps)
	require.Equal(t, int64(42), got[0].EventTime)
	require.Equal(t, int64(99), got[0].ExpiresAt)
	require.Equal(t, int64(5), got[1].EventTime, "an explicit event time stays")
	require.Zero(t, got[2].EventTime, "a put found nowhere stays unknown")
	require.Zero(t, ops[0].EventTime, "the input is not changed")
}
