package chaos

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"

	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/topology"
)

// Verify checks that every replica of a keyspace, in every DC, holds the
// same live records: the convergence check of a drill, once the faults
// healed and replication drained. It asks every replica of every shard for
// its digest as of one common time (VDIGEST AT), compares the replicas of
// each shard within each DC, then the DCs with each other, and for what
// differs lists the differing keys from dumps (VDUMP) of both sides.

// DefaultMaxDiffKeys is the default VerifyConfig.MaxDiffKeys.
const DefaultMaxDiffKeys = 20

// VerifyConfig configures Verify.
type VerifyConfig struct {
	// DCs are the datacenters to compare (at least one).
	DCs []DC
	// Keyspace is the keyspace to check; every DC must have it.
	Keyspace string
	// Logger receives progress and the NATS connections' logs (nil: none).
	Logger hclog.Logger
	// Clock gives the common time the digests are taken at (nil: the
	// system clock). Records expired at that time are left out everywhere.
	Clock lww.Clock
	// MaxDiffKeys bounds the differing keys listed per comparison (0:
	// DefaultMaxDiffKeys); all are counted.
	MaxDiffKeys int
}

// Validate reports the first problem with c.
func (c VerifyConfig) Validate() error {
	if len(c.DCs) == 0 {
		return fmt.Errorf("%w: no DC to verify", ErrInvalidArgument)
	}
	if err := topology.CheckName("keyspace", c.Keyspace); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	seen := map[string]bool{}
	for _, dc := range c.DCs {
		if err := topology.CheckName("dc", dc.Name); err != nil || dc.NATSURL == "" || seen[dc.Name] {
			return fmt.Errorf("%w: DC %q with NATS URL %q (names must be valid and distinct, URLs set)", ErrInvalidArgument, dc.Name, dc.NATSURL)
		}
		seen[dc.Name] = true
	}
	if c.MaxDiffKeys < 0 {
		return fmt.Errorf("%w: negative MaxDiffKeys", ErrInvalidArgument)
	}
	return nil
}

// Replica is one replica's answer for a shard.
type Replica struct {
	DC, Store, Addr string
	Digest          string
	Count           int
	// Err is why the replica could not be asked (then Digest is empty).
	Err error
}

// Name is "dc/store".
func (r Replica) Name() string { return r.DC + "/" + r.Store }

// ShardCheck compares the replicas of one shard within one DC.
type ShardCheck struct {
	DC       string
	Shard    uint32
	Replicas []Replica
	// Diffs lists keys that differ between the first replica that
	// answered and each other one (at most MaxDiffKeys per pair); DiffKeys
	// counts them all.
	Diffs    []KeyDiff
	DiffKeys int
}

// Converged reports whether every replica answered with the same digest.
func (s ShardCheck) Converged() bool {
	for _, r := range s.Replicas {
		if r.Err != nil || r.Digest != s.Replicas[0].Digest {
			return false
		}
	}
	return len(s.Replicas) > 0
}

// reference is the first replica that answered, if any.
func (s ShardCheck) reference() (Replica, bool) {
	for _, r := range s.Replicas {
		if r.Err == nil {
			return r, true
		}
	}
	return Replica{}, false
}

// CrossCheck compares the DCs: shard by shard when every DC has the
// keyspace with the same number of shards (Shard >= 0), else the whole
// keyspace at once (Shard == -1, digests computed here from dumps).
type CrossCheck struct {
	Shard int
	// Digests maps each DC to the digest of its reference replica ("" when
	// none answered).
	Digests  map[string]string
	Diffs    []KeyDiff
	DiffKeys int
}

// Converged reports whether every DC has the same, known digest.
func (c CrossCheck) Converged() bool {
	first := ""
	for _, d := range c.Digests {
		if d == "" || (first != "" && d != first) {
			return false
		}
		first = d
	}
	return true
}

// KeyDiff is a key two replicas hold differently.
type KeyDiff struct {
	Key  []byte
	A, B Side
}

// Side is one replica's live record of a key.
type Side struct {
	Replica string // "dc/store"
	Present bool
	Value   []byte
	Time    int64  // event time, ns
	Origin  string // "dc/store" that accepted the write
}

// VerifyReport is what Verify found.
type VerifyReport struct {
	Keyspace string
	At       time.Time
	Shards   []ShardCheck
	Cross    []CrossCheck
}

// Converged reports whether every shard's replicas agree within each DC
// and the DCs agree with each other.
func (r VerifyReport) Converged() bool {
	for _, s := range r.Shards {
		if !s.Converged() {
			return false
		}
	}
	for _, c := range r.Cross {
		if !c.Converged() {
			return false
		}
	}
	return len(r.Shards) > 0
}

// dcState is one DC's keyspace and its shard checks.
type dcState struct {
	dc     DC
	ks     *topology.Keyspace
	stores map[string]*topology.Store
	shards []ShardCheck
}

// verifier holds one Verify run.
type verifier struct {
	cfg VerifyConfig
	log hclog.Logger
	at  int64
}

// Verify compares every replica of cfg.Keyspace in every DC (see the
// package doc). It returns an error when it cannot read a DC's topology or
// the DC lacks the keyspace; a replica that cannot be asked is reported in
// the VerifyReport (and the keyspace is then not converged).
func Verify(ctx context.Context, cfg VerifyConfig) (VerifyReport, error) {
	if err := cfg.Validate(); err != nil {
		return VerifyReport{}, err
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.Clock == nil {
		cfg.Clock = lww.SystemClock()
	}
	if cfg.MaxDiffKeys == 0 {
		cfg.MaxDiffKeys = DefaultMaxDiffKeys
	}
	v := &verifier{cfg: cfg, log: cfg.Logger.Named("verify"), at: cfg.Clock.Now()}
	rep := VerifyReport{Keyspace: cfg.Keyspace, At: time.Unix(0, v.at).UTC()}
	var dcs []*dcState
	for _, dc := range cfg.DCs {
		st, err := v.checkDC(ctx, dc)
		if err != nil {
			return VerifyReport{}, err
		}
		dcs = append(dcs, st)
		rep.Shards = append(rep.Shards, st.shards...)
	}
	if len(dcs) > 1 {
		cross, err := v.crossCheck(ctx, dcs)
		if err != nil {
			return VerifyReport{}, err
		}
		rep.Cross = cross
	}
	v.log.Info("verified", "keyspace", cfg.Keyspace, "at", v.at, "converged", rep.Converged())
	return rep, nil
}

// checkDC reads dc's topology and compares each shard's replicas.
func (v *verifier) checkDC(ctx context.Context, dc DC) (*dcState, error) {
	t, err := readTopology(ctx, dc, v.log)
	if err != nil {
		return nil, err
	}
	ks, ok := t.Keyspaces[v.cfg.Keyspace]
	if !ok {
		return nil, fmt.Errorf("%w: %s in %s", ErrNoKeyspace, v.cfg.Keyspace, dc.Name)
	}
	st := &dcState{dc: dc, ks: ks, stores: t.Stores}
	for i := range ks.Placement {
		sc := ShardCheck{DC: dc.Name, Shard: uint32(i)}
		for _, id := range ks.Placement[i] {
			sc.Replicas = append(sc.Replicas, v.digest(ctx, st, id, uint32(i)))
		}
		if !sc.Converged() {
			if err := v.diffReplicas(ctx, st, &sc); err != nil {
				return nil, err
			}
		}
		st.shards = append(st.shards, sc)
	}
	return st, nil
}

// digest asks store id for its digest of shard.
func (v *verifier) digest(ctx context.Context, st *dcState, id string, shard uint32) Replica {
	r := Replica{DC: st.dc.Name, Store: id}
	s, ok := st.stores[id]
	if !ok {
		r.Err = fmt.Errorf("store %s not in %s's topology", id, st.dc.Name)
		return r
	}
	r.Addr = s.Addr
	rc := dialStore(ctx, s.Addr)
	defer rc.Close()
	var cmd *redis.Cmd
	_, err := rc.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Do(ctx, "VUSE", v.cfg.Keyspace, shard, "EPOCH", st.ks.ShardEpoch(shard))
		cmd = p.Do(ctx, "VDIGEST", "AT", v.at)
		return nil
	})
	if err != nil {
		r.Err = err
		return r
	}
	res, err := cmd.Slice()
	if err == nil && len(res) == 2 {
		d, ok1 := res[0].(string)
		n, ok2 := res[1].(int64)
		if ok1 && ok2 {
			r.Digest, r.Count = d, int(n)
			return r
		}
	}
	r.Err = fmt.Errorf("%w: VDIGEST reply %v", ErrBadReply, res)
	return r
}

// live is a key's live record as a dump shows it.
type live struct {
	value  []byte
	time   int64
	origin string
}

// dump reads every record of shard from the store at addr and keeps those
// live at v.at.
func (v *verifier) dump(ctx context.Context, st *dcState, addr string, shard uint32, into map[string]live) error {
	return DumpShard(ctx, addr, v.cfg.Keyspace, shard, st.ks.ShardEpoch(shard), func(k string, rec lww.Record) error {
		if rec.Live(v.at) {
			into[k] = live{value: rec.Value, time: rec.Version.Time, origin: rec.Version.DC + "/" + rec.Version.Node}
		}
		return nil
	})
}

// diffReplicas lists the keys each replica of sc holds differently from
// the first one that answered.
func (v *verifier) diffReplicas(ctx context.Context, st *dcState, sc *ShardCheck) error {
	ref, ok := sc.reference()
	if !ok {
		return nil
	}
	a := map[string]live{}
	if err := v.dump(ctx, st, ref.Addr, sc.Shard, a); err != nil {
		return err
	}
	for _, r := range sc.Replicas {
		if r.Err != nil || r.Digest == ref.Digest {
			continue
		}
		b := map[string]live{}
		if err := v.dump(ctx, st, r.Addr, sc.Shard, b); err != nil {
			return err
		}
		diffs, n := diffMaps(ref.Name(), r.Name(), a, b, v.cfg.MaxDiffKeys)
		sc.Diffs, sc.DiffKeys = append(sc.Diffs, diffs...), sc.DiffKeys+n
	}
	return nil
}

// crossCheck compares the DCs shard by shard when their shard counts are
// equal, else as whole keyspaces.
func (v *verifier) crossCheck(ctx context.Context, dcs []*dcState) ([]CrossCheck, error) {
	same := true
	for _, st := range dcs {
		same = same && len(st.ks.Placement) == len(dcs[0].ks.Placement)
	}
	if !same {
		cc, err := v.crossKeyspace(ctx, dcs)
		return []CrossCheck{cc}, err
	}
	var out []CrossCheck
	for i := range dcs[0].shards {
		cc := CrossCheck{Shard: i, Digests: map[string]string{}}
		for _, st := range dcs {
			ref, _ := st.shards[i].reference()
			cc.Digests[st.dc.Name] = ref.Digest
		}
		if !cc.Converged() {
			if err := v.diffDCs(ctx, dcs, &cc, []uint32{uint32(i)}); err != nil {
				return nil, err
			}
		}
		out = append(out, cc)
	}
	return out, nil
}

// crossKeyspace compares whole keyspaces whose shard counts differ
// between DCs, from dumps of one replica of every shard.
func (v *verifier) crossKeyspace(ctx context.Context, dcs []*dcState) (CrossCheck, error) {
	cc := CrossCheck{Shard: -1, Digests: map[string]string{}}
	return cc, v.diffDCs(ctx, dcs, &cc, nil)
}

// diffDCs dumps the given shards (nil: all) of each DC's reference
// replicas and lists the keys each DC holds differently from the first;
// for a whole-keyspace check it also fills the digests.
func (v *verifier) diffDCs(ctx context.Context, dcs []*dcState, cc *CrossCheck, shards []uint32) error {
	var first map[string]live
	var firstName string
	for _, st := range dcs {
		m, name, ok, err := v.dumpDC(ctx, st, shards)
		if err != nil {
			return err
		}
		if !ok {
			cc.Digests[st.dc.Name] = ""
			continue
		}
		if shards == nil {
			cc.Digests[st.dc.Name] = digestOf(m)
		}
		if first == nil {
			first, firstName = m, name
			continue
		}
		diffs, n := diffMaps(firstName, name, first, m, v.cfg.MaxDiffKeys)
		cc.Diffs, cc.DiffKeys = append(cc.Diffs, diffs...), cc.DiffKeys+n
	}
	return nil
}

// dumpDC dumps the given shards (nil: all) of st from each shard's
// reference replica; ok is false when a shard has none.
func (v *verifier) dumpDC(ctx context.Context, st *dcState, shards []uint32) (m map[string]live, name string, ok bool, err error) {
	if shards == nil {
		for i := range st.shards {
			shards = append(shards, uint32(i))
		}
	}
	m = map[string]live{}
	for _, i := range shards {
		ref, found := st.shards[i].reference()
		if !found {
			return nil, "", false, nil
		}
		if name == "" {
			name = ref.Name()
		} else if name != ref.Name() {
			name = st.dc.Name
		}
		if err := v.dump(ctx, st, ref.Addr, i, m); err != nil {
			return nil, "", false, err
		}
	}
	return m, name, true, nil
}

// diffMaps lists (at most max of) the keys a and b hold differently, in
// key order, and counts them all.
func diffMaps(aName, bName string, a, b map[string]live, max int) ([]KeyDiff, int) {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out []KeyDiff
	n := 0
	for _, k := range keys {
		ra, inA := a[k]
		rb, inB := b[k]
		if inA == inB && ra.time == rb.time && bytes.Equal(ra.value, rb.value) {
			continue
		}
		n++
		if len(out) < max {
			out = append(out, KeyDiff{Key: []byte(k),
				A: Side{Replica: aName, Present: inA, Value: ra.value, Time: ra.time, Origin: ra.origin},
				B: Side{Replica: bName, Present: inB, Value: rb.value, Time: rb.time, Origin: rb.origin}})
		}
	}
	return out, n
}

// digestOf computes, over live records, the digest a store's VDIGEST
// computes over a shard (lww.Digest in key order).
func digestOf(m map[string]live) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	d := lww.NewDigest()
	for _, k := range keys {
		d.Add([]byte(k), m[k].value, m[k].time)
	}
	return d.Sum()
}
