package bus

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/vasto-kv/vasto/lww"
)

// Prefixes of Vasto's subjects, streams and buckets.
const (
	changeStreamPrefix  = "VASTO_CHG_"
	sourceStreamPrefix  = "VASTO_SRC_"
	changeSubjectPrefix = "vasto.chg."
	topologyPrefix      = "vasto_topo_"
	heartbeatPrefix     = "vasto.hb."
	adminPrefix         = "vasto.adm."

	// topologyKey is the key of the topology document in its bucket.
	topologyKey = "topology"

	// maxSubjectLen bounds the subjects Publish, Subscribe, Handle and
	// Request accept.
	maxSubjectLen = 512
)

// ValidName reports whether s may be used as a DC, keyspace, store, durable
// or admin op name: 1 to 64 bytes of ASCII letters, digits, '-' and '_'. (The
// same rule as lww.ValidName.) Such a name cannot add subject tokens ('.'),
// wildcards ('*', '>'), whitespace or '$'.
func ValidName(s string) bool { return lww.ValidName(s) }

func checkNames(names ...string) error {
	for _, n := range names {
		if !ValidName(n) {
			return fmt.Errorf("%w: %q (want 1-64 of A-Z a-z 0-9 _ -)", ErrBadName, n)
		}
	}
	return nil
}

// ChangeStream returns the name of dc's change-log stream, "VASTO_CHG_<dc>".
func ChangeStream(dc string) (string, error) {
	if err := checkNames(dc); err != nil {
		return "", err
	}
	return changeStreamPrefix + dc, nil
}

// changeStreamSubjects is the subject filter of dc's change stream.
func changeStreamSubjects(dc string) string { return changeSubjectPrefix + dc + ".>" }

// ChangeSubject returns the subject of changes to (keyspace, shard) in dc
// that the store origin accepted: "vasto.chg.<dc>.<keyspace>.<shard>.<origin>".
func ChangeSubject(dc, keyspace string, shard uint32, origin string) (string, error) {
	if err := checkNames(dc, keyspace, origin); err != nil {
		return "", err
	}
	return changeSubjectPrefix + dc + "." + keyspace + "." + strconv.FormatUint(uint64(shard), 10) + "." + origin, nil
}

// ChangeSubjectsOfShard returns the filter of every origin's changes to
// (keyspace, shard) in dc: "vasto.chg.<dc>.<keyspace>.<shard>.*".
func ChangeSubjectsOfShard(dc, keyspace string, shard uint32) (string, error) {
	if err := checkNames(dc, keyspace); err != nil {
		return "", err
	}
	return changeSubjectPrefix + dc + "." + keyspace + "." + strconv.FormatUint(uint64(shard), 10) + ".*", nil
}

// ChangeSubjectsOfKeyspace returns the filter of every change to keyspace
// in dc, whatever the shard and origin: "vasto.chg.<dc>.<keyspace>.>". It
// selects a keyspace's changes in dc's change stream and, as sourced
// messages keep their subjects, in another DC's source stream of dc
// (SourceStream).
func ChangeSubjectsOfKeyspace(dc, keyspace string) (string, error) {
	if err := checkNames(dc, keyspace); err != nil {
		return "", err
	}
	return changeSubjectPrefix + dc + "." + keyspace + ".>", nil
}

// SourceStream returns the name of the stream in localDC's JetStream domain
// that holds a copy of remoteDC's change stream (see EnsureSourceStream):
// "VASTO_SRC_<remoteDC>". The two DCs must differ.
func SourceStream(localDC, remoteDC string) (string, error) {
	if err := checkNames(localDC, remoteDC); err != nil {
		return "", err
	}
	if localDC == remoteDC {
		return "", fmt.Errorf("%w: DC %q cannot source its own changes", ErrInvalidConfig, localDC)
	}
	return sourceStreamPrefix + remoteDC, nil
}

// TopologyBucket returns the name of dc's topology key-value bucket,
// "vasto_topo_<dc>".
func TopologyBucket(dc string) (string, error) {
	if err := checkNames(dc); err != nil {
		return "", err
	}
	return topologyPrefix + dc, nil
}

// HeartbeatSubject returns the subject of dc's heartbeats, "vasto.hb.<dc>".
func HeartbeatSubject(dc string) (string, error) {
	if err := checkNames(dc); err != nil {
		return "", err
	}
	return heartbeatPrefix + dc, nil
}

// AdminSubject returns the subject of the admin operation op in dc,
// "vasto.adm.<dc>.<op>".
func AdminSubject(dc, op string) (string, error) {
	if err := checkNames(dc, op); err != nil {
		return "", err
	}
	return adminPrefix + dc + "." + op, nil
}

// checkSubject validates a subject given to Publish, Subscribe, Handle,
// Request, FirstOnSubject or a consumer filter: dot-separated non-empty
// tokens of printable ASCII other than space, the first not starting with
// '$' (the server's own APIs). With wildcards, '*' may be a whole token and
// '>' the whole last token; without, neither may appear.
func checkSubject(subj string, wildcards bool) error {
	bad := func(why string) error { return fmt.Errorf("%w: subject %q: %s", ErrBadName, subj, why) }
	if subj == "" || len(subj) > maxSubjectLen {
		return bad("empty or too long")
	}
	if subj[0] == '$' {
		return bad("reserved '$' prefix")
	}
	tokens := strings.Split(subj, ".")
	for i, tok := range tokens {
		if tok == "" {
			return bad("empty token")
		}
		for j := 0; j < len(tok); j++ {
			if c := tok[j]; c <= ' ' || c >= 0x7f {
				return bad("space or control or non-ASCII character")
			}
		}
		if strings.ContainsAny(tok, "*>") {
			switch {
			case !wildcards:
				return bad("wildcard not allowed")
			case tok == "*":
			case tok == ">" && i == len(tokens)-1:
			default:
				return bad("misplaced wildcard")
			}
		}
	}
	return nil
}

// maxStreamNameLen bounds stream and durable names given to the API (a
// generated name such as "VASTO_CHG_<dc>" is longer than 64 bytes when the
// DC name is).
const maxStreamNameLen = 255

// validLongName is ValidName with up to max bytes.
func validLongName(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for len(s) > 0 {
		n := min(len(s), lww.MaxNameLen)
		if !ValidName(s[:n]) {
			return false
		}
		s = s[n:]
	}
	return true
}

// checkStream validates a stream name.
func checkStream(stream string) error {
	if !validLongName(stream, maxStreamNameLen) {
		return fmt.Errorf("%w: stream %q", ErrBadName, stream)
	}
	return nil
}
