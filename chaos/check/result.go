package check

import (
	"fmt"
	"slices"
	"strings"
)

// Violation kinds.
const (
	// ViolationLost is an ok, applied write whose version is above the key's
	// final version, or an ok put whose key ended absent with nothing to
	// explain it (no later delete, no expired TTL).
	ViolationLost = "lost"
	// ViolationResurrection is a lost delete whose key ended holding a live
	// value.
	ViolationResurrection = "resurrection"
	// ViolationPhantom is a final value record that no ok or unknown put
	// wrote.
	ViolationPhantom = "phantom"
	// ViolationFailedWriteVisible is a final value record that only a put the
	// server rejected wrote.
	ViolationFailedWriteVisible = "failed_write_visible"
	// ViolationDivergent is a key whose responsible replicas hold different
	// records.
	ViolationDivergent = "divergent"
	// ViolationBackwards is a sampled read from one replica that returned a
	// lower version than a read of the same key from the same replica that
	// completed before it was invoked.
	ViolationBackwards = "backwards"
	// ViolationNotExpired is a final read that returned a value whose record
	// had expired.
	ViolationNotExpired = "not_expired"
)

// ViolationKinds lists every violation kind, in the order Summary prints
// them.
var ViolationKinds = []string{
	ViolationLost, ViolationResurrection, ViolationPhantom, ViolationFailedWriteVisible,
	ViolationDivergent, ViolationBackwards, ViolationNotExpired,
}

// Violation is one broken rule.
type Violation struct {
	Kind     string
	Keyspace string
	Key      string
	// Detail says what is wrong, naming versions and values.
	Detail string
	// OpIDs are the history ops involved, if any.
	OpIDs []int64
	// Replicas are the replicas involved, as "DC/Store".
	Replicas []string
}

// String formats v on one line.
func (v Violation) String() string {
	s := fmt.Sprintf("%s %s/%q: %s", v.Kind, v.Keyspace, v.Key, v.Detail)
	if len(v.OpIDs) > 0 {
		s += fmt.Sprintf(" ops=%v", v.OpIDs)
	}
	if len(v.Replicas) > 0 {
		s += " replicas=" + strings.Join(v.Replicas, ",")
	}
	return s
}

// DigestMismatch is a (DC, keyspace, shard) whose replicas' digests differ.
// It is not a violation by itself: tombstones are purged asynchronously, so
// replicas that agree on every live key may still hold different records.
type DigestMismatch struct {
	DC       string
	Keyspace string
	Shard    uint32
	// Digests maps each replica ("DC/Store") to its Digest.
	Digests map[string]string
}

// Stats counts what Check looked at.
type Stats struct {
	// Ops counts the history's ops by kind and outcome.
	Ops map[Kind]map[Outcome]int
	// Keys is the number of distinct (keyspace, key) pairs checked.
	Keys int
	// Replicas is the number of replicas compared.
	Replicas int
	// Records is the number of records the replicas hold for keys they are
	// responsible for.
	Records int
	// Stray is the number of records held by a replica for a key it is not
	// responsible for; they are not checked.
	Stray int
	// DigestGroups is the number of (DC, keyspace, shard) groups with two
	// or more replicas whose digests were compared.
	DigestGroups int
	// DigestMismatches are the groups whose digests differ.
	DigestMismatches []DigestMismatch
}

// Result is what Check found.
type Result struct {
	Violations []Violation
	Stats      Stats
}

// OK reports whether there are no violations.
func (r Result) OK() bool { return len(r.Violations) == 0 }

// Counts returns the number of violations of each kind that occurred.
func (r Result) Counts() map[string]int {
	m := map[string]int{}
	for _, v := range r.Violations {
		m[v.Kind]++
	}
	return m
}

// Summary prints the counts of ops, keys and replicas checked and the
// number of violations per kind.
func (r Result) Summary() string {
	var b strings.Builder
	ops := 0
	for _, byOutcome := range r.Stats.Ops {
		for _, n := range byOutcome {
			ops += n
		}
	}
	fmt.Fprintf(&b, "%d ops, %d keys, %d replicas, %d records", ops, r.Stats.Keys, r.Stats.Replicas, r.Stats.Records)
	if r.Stats.DigestGroups > 0 {
		fmt.Fprintf(&b, ", %d/%d shard digests differ", len(r.Stats.DigestMismatches), r.Stats.DigestGroups)
	}
	if r.OK() {
		b.WriteString(": ok")
		return b.String()
	}
	fmt.Fprintf(&b, ": %d violations", len(r.Violations))
	counts := r.Counts()
	kinds := slices.Clone(ViolationKinds)
	for k := range counts {
		if !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	for _, k := range kinds {
		if n := counts[k]; n > 0 {
			fmt.Fprintf(&b, " %s=%d", k, n)
		}
	}
	return b.String()
}

// String is Summary.
func (r Result) String() string { return r.Summary() }
