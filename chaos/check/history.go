package check

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/vasto-kv/vasto/lww"
)

// Kind is what an operation did.
type Kind string

const (
	// KindPut writes a value.
	KindPut Kind = "put"
	// KindDelete writes a tombstone.
	KindDelete Kind = "delete"
	// KindGet is a sampled read from one named replica.
	KindGet Kind = "get"
)

// Valid reports whether k is one of the known kinds.
func (k Kind) Valid() bool { return k == KindPut || k == KindDelete || k == KindGet }

// Outcome is what the client learnt about an operation.
type Outcome string

const (
	// OutcomeOK means the server answered and the operation took effect
	// (for a write, Applied says whether it won).
	OutcomeOK Outcome = "ok"
	// OutcomeFail means the server rejected the operation: it was definitely
	// not applied.
	OutcomeFail Outcome = "fail"
	// OutcomeUnknown means the operation is indeterminate (timeout,
	// connection error): it may or may not have landed.
	OutcomeUnknown Outcome = "unknown"
)

// Valid reports whether o is one of the known outcomes.
func (o Outcome) Valid() bool { return o == OutcomeOK || o == OutcomeFail || o == OutcomeUnknown }

// Op is one operation of a drill's history.
type Op struct {
	ID       int64  `json:"id"`
	Client   string `json:"client"` // e.g. "dc1/w3"
	DC       string `json:"dc"`
	Kind     Kind   `json:"kind"`
	Keyspace string `json:"keyspace"`
	Key      string `json:"key"`
	// Value is the value written (put, unique per put in a drill) or read
	// (get).
	Value string `json:"value,omitempty"`
	// EventTime is the write's event time in nanoseconds.
	EventTime int64 `json:"event_time,omitempty"`
	// ExpiresAt is the write's absolute expiry in nanoseconds; 0 means none.
	ExpiresAt int64 `json:"expires_at,omitempty"`
	// Invoke and Complete bound the operation in time (nanoseconds,
	// monotonic within the drill).
	Invoke   int64   `json:"invoke"`
	Complete int64   `json:"complete"`
	Outcome  Outcome `json:"outcome"`
	Error    string  `json:"error,omitempty"`
	// Applied is, for an ok write, whether the server said the write won.
	Applied bool `json:"applied,omitempty"`
	// Version is, for an ok write, the version the key holds after the
	// write (the write's own when Applied, the winner's otherwise); for a
	// get, the version read.
	Version lww.Version `json:"-"`
	// Found is, for a get, whether the key was found.
	Found bool `json:"found,omitempty"`
	// Replica is, for a get, the store read from.
	Replica string `json:"replica,omitempty"`
}

// jsonVersion is lww.Version with JSON names.
type jsonVersion struct {
	Time int64  `json:"time"`
	DC   string `json:"dc"`
	Node string `json:"node"`
}

// opAlias has Op's fields without its methods.
type opAlias Op

type jsonOp struct {
	opAlias
	Version *jsonVersion `json:"version,omitempty"`
}

// MarshalJSON encodes op with snake_case names; Version is omitted when zero.
func (op Op) MarshalJSON() ([]byte, error) {
	j := jsonOp{opAlias: opAlias(op)}
	if !op.Version.IsZero() {
		j.Version = &jsonVersion{Time: op.Version.Time, DC: op.Version.DC, Node: op.Version.Node}
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes what MarshalJSON encodes.
func (op *Op) UnmarshalJSON(b []byte) error {
	var j jsonOp
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*op = Op(j.opAlias)
	if j.Version != nil {
		op.Version = lww.Version{Time: j.Version.Time, DC: j.Version.DC, Node: j.Version.Node}
	}
	return nil
}

// IsWrite reports whether op is a put or a delete.
func (op Op) IsWrite() bool { return op.Kind == KindPut || op.Kind == KindDelete }

// Recorder collects a drill's history from many goroutines. It assigns each
// op the next id (from 1) and, if given a writer, writes the op to it as one
// JSON line as it is appended, so a drill that dies keeps its history.
type Recorder struct {
	mu   sync.Mutex
	w    *bufio.Writer
	next int64
	ops  []Op
	err  error
}

// NewRecorder returns a Recorder that also writes each op to w; w may be nil.
func NewRecorder(w io.Writer) *Recorder {
	r := &Recorder{next: 1}
	if w != nil {
		r.w = bufio.NewWriter(w)
	}
	return r
}

// Append records op under the next id and returns it with the id set. The
// error is the first write error of the writer, if any; the op is recorded
// in memory regardless.
func (r *Recorder) Append(op Op) (Op, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	op.ID = r.next
	r.next++
	r.ops = append(r.ops, op)
	if r.w != nil && r.err == nil {
		r.err = writeOp(r.w, op)
		if r.err == nil {
			r.err = r.w.Flush()
		}
	}
	return op, r.err
}

// Ops returns a copy of the ops recorded so far, in id order.
func (r *Recorder) Ops() []Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ops)
}

// Err returns the first write error, if any.
func (r *Recorder) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

func writeOp(w io.Writer, op Op) error {
	b, err := json.Marshal(op)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

// WriteHistory writes ops to w as JSON Lines, one op a line.
func WriteHistory(w io.Writer, ops []Op) error {
	bw := bufio.NewWriter(w)
	for _, op := range ops {
		if err := writeOp(bw, op); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// maxLine bounds one history line.
const maxLine = 16 << 20

// ReadHistory reads ops written by WriteHistory or a Recorder. Blank lines
// are skipped. Errors wrap ErrMalformedLine, ErrUnknownKind,
// ErrUnknownOutcome or ErrDuplicateID with the line number, or are the
// reader's own.
func ReadHistory(r io.Reader) ([]Op, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	var ops []Op
	seen := map[int64]bool{}
	for line := 1; sc.Scan(); line++ {
		b := sc.Bytes()
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		var op Op
		if err := json.Unmarshal(b, &op); err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", ErrMalformedLine, line, err)
		}
		switch {
		case !op.Kind.Valid():
			return nil, fmt.Errorf("%w: line %d: %q", ErrUnknownKind, line, op.Kind)
		case !op.Outcome.Valid():
			return nil, fmt.Errorf("%w: line %d: %q", ErrUnknownOutcome, line, op.Outcome)
		case seen[op.ID]:
			return nil, fmt.Errorf("%w: line %d: id %d", ErrDuplicateID, line, op.ID)
		}
		seen[op.ID] = true
		ops = append(ops, op)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return ops, nil
}
