package drill

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func testDeployment() Deployment {
	return Deployment{DCs: []string{"dc1", "dc2"}, Stores: 3, Shards: 4}
}

func TestScheduleIsDeterministic(t *testing.T) {
	for _, name := range Names() {
		a, err := NewSchedule(42, name, 30*time.Second, testDeployment())
		require.NoError(t, err)
		b, err := NewSchedule(42, name, 30*time.Second, testDeployment())
		require.NoError(t, err)
		require.Equal(t, a, b, name)
		require.NotEmpty(t, a.Faults, name)
	}
}

func TestScheduleDependsOnTheSeed(t *testing.T) {
	a, err := NewSchedule(1, "mixed", 60*time.Second, testDeployment())
	require.NoError(t, err)
	b, err := NewSchedule(2, "mixed", 60*time.Second, testDeployment())
	require.NoError(t, err)
	require.NotEqual(t, a.Faults, b.Faults)
}

// TestScheduleFaultsAreBoundedAndHealed checks every drawn schedule: the
// faults are of the drill's kinds, one after another, within the window
// and healed by HealBy, on targets that exist.
func TestScheduleFaultsAreBoundedAndHealed(t *testing.T) {
	d := testDeployment()
	for _, dr := range Drills() {
		for seed := int64(0); seed < 50; seed++ {
			for _, dur := range []time.Duration{MinDuration, 20 * time.Second, 2 * time.Minute} {
				s, err := NewSchedule(seed, dr.Name, dur, d)
				require.NoError(t, err)
				var prev time.Duration
				resizes := 0
				for _, f := range s.Faults {
					require.Contains(t, append(dr.Kinds, FaultStoreKill), f.Kind, "%s seed %d", dr.Name, seed)
					require.GreaterOrEqual(t, f.At, dur/10)
					require.GreaterOrEqual(t, f.At, prev, "faults do not overlap")
					require.Greater(t, f.Until, f.At)
					require.LessOrEqual(t, f.Until, s.HealBy())
					require.Contains(t, d.DCs, f.DC)
					require.Less(t, f.Store, d.Stores)
					if f.Kind == FaultStoreKill || f.Kind == FaultStorePause || f.Kind == FaultSkewStore || f.Kind == FaultDiskFull {
						require.GreaterOrEqual(t, f.Store, 0)
					}
					switch f.Kind {
					case FaultSkewDC, FaultSkewStore:
						require.NotZero(t, f.Skew)
						require.Less(t, f.Skew.Abs(), 5*time.Second, "within the stores' max-future bound")
					case FaultResizeMasterLoss:
						resizes++
						require.Equal(t, d.Shards+1, f.Shards)
						require.Less(t, f.MasterKillAfter, f.Until-f.At)
					case FaultSlowLink:
						require.Positive(t, f.Latency)
						require.Positive(t, f.Bandwidth)
					}
					prev = f.Until
				}
				require.LessOrEqual(t, resizes, 1)
			}
		}
	}
}

func TestScheduleOneDCHasNoLinkFaults(t *testing.T) {
	d := Deployment{DCs: []string{"dc1"}, Stores: 3, Shards: 2}
	s, err := NewSchedule(3, "dc-partition", time.Minute, d)
	require.NoError(t, err)
	require.Empty(t, s.Faults)
	for seed := int64(0); seed < 20; seed++ {
		s, err := NewSchedule(seed, "mixed", time.Minute, d)
		require.NoError(t, err)
		for _, f := range s.Faults {
			require.NotContains(t, []FaultKind{FaultPartition, FaultSlowLink}, f.Kind)
		}
	}
}

func TestScheduleRejectsUnknownDrillAndEmptyDeployment(t *testing.T) {
	_, err := NewSchedule(1, "nope", time.Minute, testDeployment())
	require.ErrorIs(t, err, ErrUnknownDrill)
	_, err = NewSchedule(1, "mixed", time.Minute, Deployment{})
	require.ErrorIs(t, err, ErrInvalidConfig)
}

// TestStepsAreDeterministic checks that a worker's operation sequence
// depends only on the seed, the DC and the worker.
func TestStepsAreDeterministic(t *testing.T) {
	cfg := DefaultConfig("mixed")
	draw := func(seed int64, worker int) []step {
		st := newStepper(seed, "dc1", worker, cfg)
		out := make([]step, 200)
		for i := range out {
			out[i] = st.next(0)
		}
		return out
	}
	require.Equal(t, draw(5, 0), draw(5, 0))
	require.NotEqual(t, draw(5, 0), draw(6, 0))
	require.NotEqual(t, draw(5, 0), draw(5, 1))
	kinds := map[opKind]int{}
	for _, s := range draw(5, 0) {
		kinds[s.kind]++
		if s.kind == stepPutTwin {
			require.Equal(t, 1, s.twin, "the other DC")
		}
	}
	require.Len(t, kinds, len(stepWeights), "every kind of step is drawn")
}

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig("store-crash")
	ok.Dir, ok.Binary = t.TempDir(), "/bin/true"
	require.NoError(t, ok.Validate())
	for name, mut := range map[string]func(*Config){
		"drill":    func(c *Config) { c.Drill = "nope" },
		"duration": func(c *Config) { c.Duration = time.Second },
		"dcs":      func(c *Config) { c.DCs = 0 },
		"stores":   func(c *Config) { c.Stores = 0 },
		"replicas": func(c *Config) { c.Replicas = 4 },
		"dir":      func(c *Config) { c.Dir = "" },
		"binary":   func(c *Config) { c.Binary = "" },
		"hot":      func(c *Config) { c.HotKeys = c.Keys + 1 },
	} {
		c := ok
		mut(&c)
		require.Error(t, c.Validate(), name)
	}
	c := ok
	c.Drill = "nope"
	require.ErrorIs(t, c.Validate(), ErrUnknownDrill)
}
