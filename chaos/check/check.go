package check

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/topology"
)

// keyID names one key of one keyspace.
type keyID struct{ keyspace, key string }

// putID identifies a put: its value is unique in a drill, and a retry that
// lands twice carries the same value and event time.
type putID struct {
	keyID
	value string
	time  int64
}

// held is one responsible replica's record of a key.
type held struct {
	replica int // index in Final.Replicas
	rec     lww.Record
	ok      bool // false: the replica holds no record of the key
}

// checker holds the indexes Check builds.
type checker struct {
	ops   []Op
	f     Final
	res   Result
	keys  map[keyID]bool
	byKey map[keyID][]Op // writes only
	puts  map[putID][]Op // puts by (key, value, event time)
	// gone is, per key, the latest event time of a write that may leave
	// the key without a record: see goneSince.
	gone map[keyID]int64
	// byKeyspace lists the replicas of each keyspace, indexes into f.Replicas.
	byKeyspace map[string][]int
}

// Check checks a drill's history against the final state of its replicas and
// returns every violation found (see the Violation kinds) with counts. It
// expects, for every ok write, Version set as the server reported it, and
// for every ok get, Version and Replica set when Found.
func Check(ops []Op, f Final) Result {
	c := &checker{
		ops:        ops,
		f:          f,
		keys:       map[keyID]bool{},
		byKey:      map[keyID][]Op{},
		puts:       map[putID][]Op{},
		gone:       map[keyID]int64{},
		byKeyspace: map[string][]int{},
	}
	c.res.Stats.Ops = map[Kind]map[Outcome]int{}
	c.res.Stats.Replicas = len(f.Replicas)
	c.index()

	keys := make([]keyID, 0, len(c.keys))
	for k := range c.keys {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b keyID) int {
		return cmp.Or(strings.Compare(a.keyspace, b.keyspace), strings.Compare(a.key, b.key))
	})
	c.res.Stats.Keys = len(keys)
	for _, k := range keys {
		hs := c.holders(k)
		final, present := merged(hs)
		c.checkDivergent(k, hs, final, present)
		c.checkWrites(k, hs, final, present)
		c.checkValues(k, hs)
	}
	c.checkBackwards()
	c.checkFinalReads()
	c.digests()

	slices.SortStableFunc(c.res.Violations, func(a, b Violation) int {
		return cmp.Or(
			strings.Compare(a.Keyspace, b.Keyspace),
			strings.Compare(a.Key, b.Key),
			cmp.Compare(slices.Index(ViolationKinds, a.Kind), slices.Index(ViolationKinds, b.Kind)),
		)
	})
	return c.res
}

func (c *checker) index() {
	for _, op := range c.ops {
		byOutcome := c.res.Stats.Ops[op.Kind]
		if byOutcome == nil {
			byOutcome = map[Outcome]int{}
			c.res.Stats.Ops[op.Kind] = byOutcome
		}
		byOutcome[op.Outcome]++
		k := keyID{op.Keyspace, op.Key}
		c.keys[k] = true
		if op.IsWrite() {
			c.byKey[k] = append(c.byKey[k], op)
		}
		if op.Kind == KindPut {
			id := putID{k, op.Value, op.EventTime}
			c.puts[id] = append(c.puts[id], op)
		}
		if op.IsWrite() && op.Outcome != OutcomeFail &&
			(op.Kind == KindDelete || (op.ExpiresAt != 0 && op.ExpiresAt <= c.f.Now)) {
			if last, ok := c.gone[k]; !ok || op.EventTime > last {
				c.gone[k] = op.EventTime
			}
		}
	}
	for i, r := range c.f.Replicas {
		c.byKeyspace[r.Keyspace] = append(c.byKeyspace[r.Keyspace], i)
		for key := range r.Records {
			if responsible(r, key) {
				c.keys[keyID{r.Keyspace, key}] = true
				c.res.Stats.Records++
			} else {
				c.res.Stats.Stray++
			}
		}
	}
	for _, rd := range c.f.Reads {
		c.keys[keyID{rd.Keyspace, rd.Key}] = true
	}
}

// responsible reports whether r is a replica of key's shard.
func responsible(r Replica, key string) bool {
	return r.Shards > 0 && topology.ShardOf([]byte(key), r.Shards) == r.Shard
}

// holders returns every replica responsible for k, with its record if any.
func (c *checker) holders(k keyID) []held {
	var hs []held
	for _, i := range c.byKeyspace[k.keyspace] {
		r := c.f.Replicas[i]
		if !responsible(r, k.key) {
			continue
		}
		rec, ok := r.Records[k.key]
		hs = append(hs, held{replica: i, rec: rec, ok: ok})
	}
	return hs
}

// merged returns the LWW winner of the records in hs.
func merged(hs []held) (lww.Record, bool) {
	var out lww.Record
	present := false
	for _, h := range hs {
		if !h.ok {
			continue
		}
		if !present {
			out, present = h.rec, true
			continue
		}
		out = lww.Merge(out, h.rec)
	}
	return out, present
}

func (c *checker) name(h held) string { return c.f.Replicas[h.replica].Name() }

func (c *checker) add(v Violation) { c.res.Violations = append(c.res.Violations, v) }

// settled is the state a record converges to: an expired value is kept as
// the tombstone that buries it, so the two are the same state.
func (c *checker) settled(r lww.Record) lww.Record {
	if r.Kind == lww.KindValue && r.Expired(c.f.Now) {
		return r.Buried()
	}
	return r
}

func sameRecord(a, b lww.Record) bool {
	return a.Version == b.Version && a.Kind == b.Kind && a.ExpiresAt == b.ExpiresAt && string(a.Value) == string(b.Value)
}

// fmtRecord formats r for a Detail.
func fmtRecord(r lww.Record) string {
	s := r.Kind.String() + " " + r.Version.String()
	if r.Kind == lww.KindValue {
		s += fmt.Sprintf(" %q", r.Value)
	}
	if r.ExpiresAt != 0 {
		s += fmt.Sprintf(" expires %d", r.ExpiresAt)
	}
	return s
}

// checkDivergent reports a key whose responsible replicas hold different
// records. A replica without a record agrees with a tombstone (purging is
// asynchronous), and an expired value agrees with the tombstone that buries
// it.
func (c *checker) checkDivergent(k keyID, hs []held, final lww.Record, present bool) {
	if !present {
		return
	}
	want := c.settled(final)
	var differ, states []string
	for _, h := range hs {
		state := "absent"
		same := want.Kind == lww.KindTombstone
		if h.ok {
			state = fmtRecord(h.rec)
			same = sameRecord(c.settled(h.rec), want)
		}
		states = append(states, c.name(h)+": "+state)
		if !same {
			differ = append(differ, c.name(h))
		}
	}
	if len(differ) == 0 {
		return
	}
	c.add(Violation{
		Kind: ViolationDivergent, Keyspace: k.keyspace, Key: k.key,
		Detail:   fmt.Sprintf("replicas differ from the winner %s: %s", fmtRecord(final), strings.Join(states, "; ")),
		Replicas: differ,
	})
}

// checkWrites reports ok, applied writes that the final state lost.
func (c *checker) checkWrites(k keyID, hs []held, final lww.Record, present bool) {
	var holders []string
	for _, h := range hs {
		if h.ok && sameRecord(h.rec, final) {
			holders = append(holders, c.name(h))
		}
	}
	for _, op := range c.byKey[k] {
		if op.Outcome != OutcomeOK || !op.Applied {
			continue // a write that did not win is superseded by definition
		}
		if present {
			if op.Version.Compare(final.Version) <= 0 {
				continue
			}
			kind := ViolationLost
			if op.Kind == KindDelete && final.Live(c.f.Now) {
				kind = ViolationResurrection
			}
			c.add(Violation{
				Kind: kind, Keyspace: k.keyspace, Key: k.key,
				Detail: fmt.Sprintf("ok %s %s%s is above the final record %s",
					op.Kind, op.Version, valueNote(op), fmtRecord(final)),
				OpIDs: []int64{op.ID}, Replicas: holders,
			})
			continue
		}
		if op.Kind != KindPut {
			continue // a delete's tombstone may have been purged
		}
		if c.goneSince(k, op.EventTime) {
			continue // deleted or expired, and the tombstone purged
		}
		var names []string
		for _, h := range hs {
			names = append(names, c.name(h))
		}
		detail := fmt.Sprintf("ok put %s%s but no responsible replica holds the key, and no delete or expired put at or after event time %d explains it",
			op.Version, valueNote(op), op.EventTime)
		if len(hs) == 0 {
			detail = fmt.Sprintf("ok put %s%s but no replica is responsible for the key", op.Version, valueNote(op))
		}
		c.add(Violation{
			Kind: ViolationLost, Keyspace: k.keyspace, Key: k.key,
			Detail: detail, OpIDs: []int64{op.ID}, Replicas: names,
		})
	}
}

func valueNote(op Op) string {
	if op.Kind == KindPut {
		return fmt.Sprintf(" of %q", op.Value)
	}
	return ""
}

// goneSince reports whether a write at or after event time t explains k
// holding no record: a delete that is ok or unknown (its tombstone may have
// been purged), or a put that is ok or unknown with an expiry at or before
// Now (the put itself included: an expired value may be dropped).
func (c *checker) goneSince(k keyID, t int64) bool {
	last, ok := c.gone[k]
	return ok && last >= t
}

// checkValues reports value records that no ok or unknown put wrote.
func (c *checker) checkValues(k keyID, hs []held) {
	type seen struct {
		rec      lww.Record
		replicas []string
	}
	var order []putID
	found := map[putID]*seen{}
	for _, h := range hs {
		if !h.ok || h.rec.Kind != lww.KindValue {
			continue
		}
		id := putID{k, string(h.rec.Value), h.rec.Version.Time}
		s := found[id]
		if s == nil {
			s = &seen{rec: h.rec}
			found[id] = s
			order = append(order, id)
		}
		s.replicas = append(s.replicas, c.name(h))
	}
	for _, id := range order {
		var failed []int64
		written := false
		for _, op := range c.puts[id] {
			if op.Outcome == OutcomeFail {
				failed = append(failed, op.ID)
			} else {
				written = true
			}
		}
		if written {
			continue
		}
		s := found[id]
		v := Violation{Keyspace: k.keyspace, Key: k.key, Replicas: s.replicas, OpIDs: failed}
		if len(failed) > 0 {
			v.Kind = ViolationFailedWriteVisible
			v.Detail = fmt.Sprintf("value record %s was written only by a rejected put", fmtRecord(s.rec))
		} else {
			v.Kind = ViolationPhantom
			v.Detail = fmt.Sprintf("value record %s matches no put's value and event time", fmtRecord(s.rec))
		}
		c.add(v)
	}
}

// checkBackwards reports a sampled read that returned a lower version than
// a read of the same key from the same replica that completed before it was
// invoked.
func (c *checker) checkBackwards() {
	type group struct{ replica, keyspace, key string }
	groups := map[group][]Op{}
	var order []group
	for _, op := range c.ops {
		if op.Kind != KindGet || op.Outcome != OutcomeOK || !op.Found {
			continue
		}
		g := group{op.Replica, op.Keyspace, op.Key}
		if _, ok := groups[g]; !ok {
			order = append(order, g)
		}
		groups[g] = append(groups[g], op)
	}
	for _, g := range order {
		byInvoke := slices.Clone(groups[g])
		slices.SortStableFunc(byInvoke, func(a, b Op) int { return cmp.Compare(a.Invoke, b.Invoke) })
		byComplete := slices.Clone(groups[g])
		slices.SortStableFunc(byComplete, func(a, b Op) int { return cmp.Compare(a.Complete, b.Complete) })
		var high Op // the highest version among reads completed so far
		have := false
		next := 0
		for _, b := range byInvoke {
			for next < len(byComplete) && byComplete[next].Complete < b.Invoke {
				a := byComplete[next]
				if !have || a.Version.Compare(high.Version) > 0 {
					high, have = a, true
				}
				next++
			}
			if have && b.Version.Compare(high.Version) < 0 {
				c.add(Violation{
					Kind: ViolationBackwards, Keyspace: g.keyspace, Key: g.key,
					Detail: fmt.Sprintf("read %d returned %s %q after read %d had returned %s %q",
						b.ID, b.Version, b.Value, high.ID, high.Version, high.Value),
					OpIDs: []int64{high.ID, b.ID}, Replicas: []string{g.replica},
				})
			}
		}
	}
}

// checkFinalReads reports final reads that returned a value whose record,
// in the reading DC, had expired.
func (c *checker) checkFinalReads() {
	for _, rd := range c.f.Reads {
		if !rd.Found {
			continue
		}
		k := keyID{rd.Keyspace, rd.Key}
		hs := c.holders(k)
		var local []held
		for _, h := range hs {
			if c.f.Replicas[h.replica].DC == rd.DC {
				local = append(local, h)
			}
		}
		if len(local) > 0 {
			hs = local
		}
		rec, present := merged(hs)
		if !present || !rec.Expired(c.f.Now) {
			continue
		}
		var names []string
		for _, h := range hs {
			if h.ok {
				names = append(names, c.name(h))
			}
		}
		c.add(Violation{
			Kind: ViolationNotExpired, Keyspace: rd.Keyspace, Key: rd.Key,
			Detail: fmt.Sprintf("read in %s returned %q but the record %s expired at or before %d",
				rd.DC, rd.Value, fmtRecord(rec), c.f.Now),
			Replicas: names,
		})
	}
}

// digests compares the digests of the replicas of each (DC, keyspace,
// shard).
func (c *checker) digests() {
	type group struct {
		dc, keyspace string
		shard        uint32
	}
	groups := map[group][]int{}
	var order []group
	for i, r := range c.f.Replicas {
		g := group{r.DC, r.Keyspace, r.Shard}
		if _, ok := groups[g]; !ok {
			order = append(order, g)
		}
		groups[g] = append(groups[g], i)
	}
	slices.SortFunc(order, func(a, b group) int {
		return cmp.Or(strings.Compare(a.dc, b.dc), strings.Compare(a.keyspace, b.keyspace), cmp.Compare(a.shard, b.shard))
	})
	for _, g := range order {
		idx := groups[g]
		if len(idx) < 2 {
			continue
		}
		c.res.Stats.DigestGroups++
		digests := map[string]string{}
		distinct := map[string]bool{}
		for _, i := range idx {
			d := Digest(c.f.Replicas[i].Records)
			digests[c.f.Replicas[i].Name()] = d
			distinct[d] = true
		}
		if len(distinct) > 1 {
			c.res.Stats.DigestMismatches = append(c.res.Stats.DigestMismatches,
				DigestMismatch{DC: g.dc, Keyspace: g.keyspace, Shard: g.shard, Digests: digests})
		}
	}
}
