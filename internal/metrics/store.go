package metrics

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/dc"
	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/replica"
	"github.com/vasto-kv/vasto/server"
	"github.com/vasto-kv/vasto/store"
)

// Histogram buckets.
var (
	// latencyBuckets: 50 µs to ~1.6 s.
	latencyBuckets = prometheus.ExponentialBuckets(50e-6, 2, 16)
	// groupBuckets: 1 to 4096 writes per group commit.
	groupBuckets = prometheus.ExponentialBuckets(1, 2, 13)
)

// LinkStatus reads the state of the copies of the remote DCs' change
// streams (bus.Conn.SourceStatus for the store's DC and remote DCs).
type LinkStatus func(ctx context.Context) ([]bus.SourceInfo, error)

// linkStatusTimeout bounds the link-status read of one scrape.
const linkStatusTimeout = 2 * time.Second

// LinkDownAfter is how long the local NATS server may go without hearing
// from a remote DC's stream (it hears a heartbeat every second while the
// link is healthy) before the link counts as down; `vasto dc status` uses
// the same threshold.
const LinkDownAfter = 10 * time.Second

// Store holds the metrics of one store process: the observers the wiring
// gives the engine, the RESP server, the agent and the cross-DC
// replicator, and what it reads from the engine and the bus when scraped.
type Store struct {
	clock      lww.Clock
	unregister func()
	eng        atomic.Pointer[store.Engine]
	links      atomic.Pointer[LinkStatus]

	commitSeconds *prometheus.HistogramVec
	commitWrites  *prometheus.HistogramVec
	commitCache   sync.Map // keyspace -> commitObservers
	cmds          *commandMetrics

	peerChanges    *prometheus.CounterVec
	peerRebootsGo  *prometheus.CounterVec
	peerRebootsEnd *prometheus.CounterVec
	copiedKeys     *prometheus.CounterVec
	copiedBytes    *prometheus.CounterVec
	dcChanges      *prometheus.CounterVec
	dcRebootsGo    *prometheus.CounterVec
	dcRebootsEnd   *prometheus.CounterVec

	lagMu   sync.Mutex
	peerLag map[[3]string]lag // keyspace, shard, peer
	dcLag   map[[2]string]lag // remote DC, keyspace
}

// lag is what the last batch applied from one source said.
type lag struct {
	pending uint64
	newest  int64 // newest event time applied (ns)
}

// seconds is how far behind the source the replica is at now: 0 when
// nothing was pending after the last batch, else the age of the newest
// change applied.
func (l lag) seconds(now int64) float64 {
	if l.pending == 0 || l.newest == 0 || now <= l.newest {
		return 0
	}
	return float64(now-l.newest) / 1e9
}

// NewStore registers the metrics of the store node in dc on reg. clock is
// the store's clock (lag is measured against it); the engine and the
// links are attached once they exist (AttachEngine, AttachLinks). Close
// unregisters them.
func NewStore(reg *Registry, dcName, node string, clock lww.Clock) (*Store, error) {
	s := &Store{
		clock:   clock,
		peerLag: map[[3]string]lag{},
		dcLag:   map[[2]string]lag{},
		commitSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Subsystem: "store",
			Name: "commit_duration_seconds", Help: "Duration of one group commit (decide, write the batch, fsync with --sync).",
			Buckets: latencyBuckets}, []string{"keyspace"}),
		commitWrites: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Subsystem: "store",
			Name: "commit_group_writes", Help: "Writes decided by one group commit.",
			Buckets: groupBuckets}, []string{"keyspace"}),
		cmds: newCommandMetrics("server", "Time from reading a command to answering it (a write: until its group commit is done).",
			"Commands answered with an error, by command and error code (rejected writes: the write commands)."),
		peerChanges: counterVec("replica", "changes_total", "Changes of same-DC peers applied to this store's shards, by outcome (applied: won under LWW; not_applied: stale).",
			"keyspace", "peer", "outcome"),
		peerRebootsGo: counterVec("replica", "rebootstraps_started_total", "Copies of a peer's shard started because its change log no longer held what this replica missed.",
			"keyspace"),
		peerRebootsEnd: counterVec("replica", "rebootstraps_finished_total", "Copies of a peer's shard finished, by result (ok, error).",
			"keyspace", "result"),
		copiedKeys: counterVec("replica", "copied_keys_total", "Records copied into this store's shards from other stores, by kind (resize: resize fill; bootstrap: copy of a peer's shard).",
			"kind", "keyspace"),
		copiedBytes: counterVec("replica", "copied_bytes_total", "Bytes of keys and values copied into this store's shards from other stores, by kind.",
			"kind", "keyspace"),
		dcChanges: counterVec("dc", "changes_total", "Changes of remote DCs applied to this store's shards, by outcome (applied: won under LWW; not_applied: stale).",
			"remote_dc", "keyspace", "outcome"),
		dcRebootsGo: counterVec("dc", "rebootstraps_started_total", "Copies of a keyspace from a remote DC started because changes were lost to retention.",
			"remote_dc", "keyspace"),
		dcRebootsEnd: counterVec("dc", "rebootstraps_finished_total", "Copies of a keyspace from a remote DC finished, by result (ok, error).",
			"remote_dc", "keyspace", "result"),
	}
	unregister, err := reg.register(prometheus.Labels{"dc": dcName, "store": node}, s)
	if err != nil {
		return nil, err
	}
	s.unregister = unregister
	return s, nil
}

func counterVec(subsystem, name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: subsystem, Name: name, Help: help}, labels)
}

// AttachEngine makes scrapes read the engine's shards (nil: stop).
func (s *Store) AttachEngine(e *store.Engine) { s.eng.Store(e) }

// AttachLinks makes scrapes read the state of the cross-DC links (nil:
// stop).
func (s *Store) AttachLinks(f LinkStatus) {
	if f == nil {
		s.links.Store(nil)
		return
	}
	s.links.Store(&f)
}

// Close unregisters the store's metrics and detaches the engine and links.
func (s *Store) Close() {
	s.eng.Store(nil)
	s.links.Store(nil)
	s.unregister()
}

// Engine returns the observer for the engine's configuration.
func (s *Store) Engine() store.Observer { return storeObserver{s} }

// Server returns the observer for the RESP server's configuration.
func (s *Store) Server() server.Observer { return serverObserver{s} }

// Replica returns the observer for the agent's configuration.
func (s *Store) Replica() replica.Observer { return replicaObserver{s} }

// CrossDC returns the observer for the cross-DC replicator's
// configuration.
func (s *Store) CrossDC() dc.Observer { return dcObserver{s} }

// Describe implements prometheus.Collector.
func (s *Store) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range s.vecs() {
		c.Describe(ch)
	}
	for _, d := range scrapeDescs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (s *Store) Collect(ch chan<- prometheus.Metric) {
	for _, c := range s.vecs() {
		c.Collect(ch)
	}
	now := s.clock.Now()
	s.collectLag(ch, now)
	if e := s.eng.Load(); e != nil {
		collectShards(ch, e, now)
	}
	if f := s.links.Load(); f != nil {
		collectLinks(ch, *f)
	}
}

func (s *Store) vecs() []prometheus.Collector {
	return []prometheus.Collector{s.commitSeconds, s.commitWrites, s.cmds,
		s.peerChanges, s.peerRebootsGo, s.peerRebootsEnd, s.copiedKeys, s.copiedBytes,
		s.dcChanges, s.dcRebootsGo, s.dcRebootsEnd}
}

func (s *Store) collectLag(ch chan<- prometheus.Metric, now int64) {
	s.lagMu.Lock()
	defer s.lagMu.Unlock()
	for k, l := range s.peerLag {
		ch <- gauge(descPeerLagEntries, float64(l.pending), k[:]...)
		ch <- gauge(descPeerLagSeconds, l.seconds(now), k[:]...)
	}
	for k, l := range s.dcLag {
		ch <- gauge(descDCLagEntries, float64(l.pending), k[:]...)
		ch <- gauge(descDCLagSeconds, l.seconds(now), k[:]...)
	}
}

func gauge(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func counter(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
}

func outcome(applied bool) string {
	if applied {
		return "applied"
	}
	return "not_applied"
}

func result(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}

// storeObserver is the engine's store.Observer.
type storeObserver struct{ s *Store }

// commitObservers are a keyspace's commit histograms.
type commitObservers struct{ seconds, writes prometheus.Observer }

func (o storeObserver) Committed(id store.ShardID, writes int, took time.Duration) {
	c, ok := o.s.commitCache.Load(id.Keyspace)
	if !ok {
		c, _ = o.s.commitCache.LoadOrStore(id.Keyspace, commitObservers{
			seconds: o.s.commitSeconds.WithLabelValues(id.Keyspace),
			writes:  o.s.commitWrites.WithLabelValues(id.Keyspace),
		})
	}
	h := c.(commitObservers)
	h.seconds.Observe(took.Seconds())
	h.writes.Observe(float64(writes))
}

// serverObserver is the RESP server's server.Observer.
type serverObserver struct{ s *Store }

func (o serverObserver) Command(name string, took time.Duration, code string) {
	o.s.cmds.Command(name, took, code)
}

// replicaObserver is the agent's replica.Observer.
type replicaObserver struct{ s *Store }

func (o replicaObserver) PeerApplied(keyspace string, shard uint32, peer string, applied, stale int, pending uint64, newest int64) {
	s := o.s
	s.peerChanges.WithLabelValues(keyspace, peer, outcome(true)).Add(float64(applied))
	s.peerChanges.WithLabelValues(keyspace, peer, outcome(false)).Add(float64(stale))
	k := [3]string{keyspace, strconv.FormatUint(uint64(shard), 10), peer}
	s.lagMu.Lock()
	defer s.lagMu.Unlock()
	l := s.peerLag[k]
	l.pending = pending
	l.newest = max(l.newest, newest)
	s.peerLag[k] = l
}

func (o replicaObserver) PeerStopped(keyspace string, shard uint32, peer string) {
	o.s.lagMu.Lock()
	defer o.s.lagMu.Unlock()
	delete(o.s.peerLag, [3]string{keyspace, strconv.FormatUint(uint64(shard), 10), peer})
}

func (o replicaObserver) RebootstrapStarted(keyspace string, _ uint32, _ string) {
	o.s.peerRebootsGo.WithLabelValues(keyspace).Inc()
}

func (o replicaObserver) RebootstrapFinished(keyspace string, _ uint32, _ string, err error) {
	o.s.peerRebootsEnd.WithLabelValues(keyspace, result(err)).Inc()
}

func (o replicaObserver) Copied(kind, keyspace string, _ uint32, keys int, bytes int64) {
	o.s.copiedKeys.WithLabelValues(kind, keyspace).Add(float64(keys))
	o.s.copiedBytes.WithLabelValues(kind, keyspace).Add(float64(bytes))
}

// dcObserver is the cross-DC replicator's dc.Observer.
type dcObserver struct{ s *Store }

func (o dcObserver) RemoteApplied(remoteDC, keyspace string, applied, stale int, pending uint64, newest int64) {
	s := o.s
	s.dcChanges.WithLabelValues(remoteDC, keyspace, outcome(true)).Add(float64(applied))
	s.dcChanges.WithLabelValues(remoteDC, keyspace, outcome(false)).Add(float64(stale))
	k := [2]string{remoteDC, keyspace}
	s.lagMu.Lock()
	defer s.lagMu.Unlock()
	l := s.dcLag[k]
	l.pending = pending
	l.newest = max(l.newest, newest)
	s.dcLag[k] = l
}

func (o dcObserver) RebootstrapStarted(remoteDC, keyspace string) {
	o.s.dcRebootsGo.WithLabelValues(remoteDC, keyspace).Inc()
}

func (o dcObserver) RebootstrapFinished(remoteDC, keyspace string, err error) {
	o.s.dcRebootsEnd.WithLabelValues(remoteDC, keyspace, result(err)).Inc()
}
