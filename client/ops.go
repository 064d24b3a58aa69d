package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/topology"
	"github.com/vasto-kv/vasto/wire"
)

// Version identifies a write: its event time (ns since the Unix epoch),
// then the DC and the store that accepted it. Versions are totally ordered
// (Compare), and the greater one wins (last-writer-wins).
type Version = lww.Version

// Item is a live key with its value and version.
type Item struct {
	Key, Value []byte
	Version    Version
	// ExpiresAt is the expiry in ns since the Unix epoch, 0 for none. Scan
	// does not report expiries (0).
	ExpiresAt int64
}

// KV is a key and a value to write.
type KV struct {
	Key, Value []byte
}

// WriteResult is the outcome of a write.
type WriteResult struct {
	// Applied is true when the write won under last-writer-wins; false when
	// the key already held a later (or the same) version: the write changed
	// nothing, which is not an error. A retried write (see the package
	// documentation) whose earlier attempt had already put this very write
	// on the replica is Applied too, with that copy's Version and no
	// LogIndex.
	Applied bool
	// Version is the version the key holds now: the write's own when
	// Applied, else the winning one.
	Version Version
	// LogIndex is the write's index in the shard's change log, 0 when not
	// Applied.
	LogIndex uint64
	// Store is the id of the store that accepted the write, and Shard the
	// shard of the key.
	Store string
	Shard uint32
	// Ack is the acknowledgement level the write reached: the one asked
	// with WithAck, or AckLocal.
	Ack AckLevel
}

// Token names an applied write for read-your-writes: pass it to Get with
// WithAfter, in any replica or DC, to read a state that includes this write.
// It is empty when the write was not applied.
func (r WriteResult) Token() string {
	if !r.Applied || r.LogIndex == 0 {
		return ""
	}
	return wire.Token{DC: r.Version.DC, Store: r.Version.Node, Shard: r.Shard, Index: r.LogIndex}.String()
}

// BatchError reports the items of a batch that failed; the results of the
// other items are valid. errors.Is and errors.As look into every item's
// error.
type BatchError struct {
	// Errs[i] is the error of input item i, nil when it succeeded.
	Errs []error
}

func (e *BatchError) Error() string {
	n, first := 0, -1
	for i, err := range e.Errs {
		if err != nil {
			n++
			if first < 0 {
				first = i
			}
		}
	}
	if n == 0 {
		return "client: batch: no error"
	}
	return fmt.Sprintf("client: batch: %d of %d items failed; item %d: %v", n, len(e.Errs), first, e.Errs[first])
}

// Unwrap returns the errors of the failed items.
func (e *BatchError) Unwrap() []error {
	var out []error
	for _, err := range e.Errs {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// batchErr returns a *BatchError when some of errs is not nil.
func batchErr(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return &BatchError{Errs: errs}
		}
	}
	return nil
}

// shardOfKey is the routing rule: the shard of key i.
func shardOfKey(keys [][]byte) func(*topology.Keyspace, int) (uint32, error) {
	return func(ks *topology.Keyspace, i int) (uint32, error) {
		return topology.ShardOf(keys[i], ks.Shards), nil
	}
}

// Put writes value under key in keyspace ks (VSET) on the shard's preferred
// healthy replica. A write that loses under last-writer-wins is not an
// error: see WriteResult.Applied.
func (c *Client) Put(ctx context.Context, ks string, key, value []byte, opts ...WriteOption) (WriteResult, error) {
	res, errs, err := c.write(ctx, ks, []KV{{Key: key, Value: value}}, false, opts)
	if err != nil {
		return WriteResult{}, err
	}
	return res[0], errs[0]
}

// Delete deletes key in keyspace ks (VDEL: a tombstone with a version, so a
// delete wins over older writes in every DC). WithTTL is not allowed.
func (c *Client) Delete(ctx context.Context, ks string, key []byte, opts ...WriteOption) (WriteResult, error) {
	res, errs, err := c.write(ctx, ks, []KV{{Key: key}}, true, opts)
	if err != nil {
		return WriteResult{}, err
	}
	return res[0], errs[0]
}

// BatchPut writes every pair: the pairs are grouped by shard, each shard's
// pairs are sent as one pipeline to its preferred healthy replica, and the
// shards are written in parallel. The options apply to every pair. Results
// are in input order. Invalid input fails the whole batch before anything
// is sent; when some items fail, the error is a *BatchError and the results
// of the other items are valid.
func (c *Client) BatchPut(ctx context.Context, ks string, kvs []KV, opts ...WriteOption) ([]WriteResult, error) {
	res, errs, err := c.write(ctx, ks, kvs, false, opts)
	if err != nil {
		return nil, err
	}
	return res, batchErr(errs)
}

// write runs VSETs (or VDELs) of kvs.
func (c *Client) write(ctx context.Context, ks string, kvs []KV, isDelete bool, opts []WriteOption) ([]WriteResult, []error, error) {
	if err := checkKeyspace(ks); err != nil {
		return nil, nil, err
	}
	o, err := buildWriteOptions(opts, isDelete)
	if err != nil {
		return nil, nil, err
	}
	keys := make([][]byte, len(kvs))
	for i, kv := range kvs {
		if err := checkKey(kv.Key); err != nil {
			return nil, nil, itemErr(len(kvs), i, err)
		}
		if err := checkValue(kv.Value); err != nil {
			return nil, nil, itemErr(len(kvs), i, err)
		}
		keys[i] = kv.Key
	}
	if len(kvs) == 0 {
		return nil, nil, nil
	}
	// A write without an event time gets one here, not from the store: an
	// attempt abandoned on a replica that stopped answering may still be
	// applied there later, and it must carry the version of the retry
	// that succeeded elsewhere, not a later one of that store's clock
	// that would win over the writes acknowledged since.
	if o.ack == "" {
		// The keyspace's default level, when it has one.
		if t := c.top.Load(); t != nil {
			if k := t.Keyspaces[ks]; k != nil && k.Ack != "" {
				o.ack = AckLevel(k.Ack)
			}
		}
	}
	extra := o.args()
	var times []int64
	if !o.hasTime {
		times = make([]int64, len(kvs))
		for i := range times {
			times[i] = c.clock.Now() // strictly increasing: later items win
		}
	}
	results := make([]WriteResult, len(kvs))
	w := &op{
		ks:      ks,
		write:   true,
		n:       len(kvs),
		shardOf: shardOfKey(keys),
		// A level above local waits server-side for the change log or a
		// replica.
		blocking: o.ack != "" && o.ack != AckLocal,
		add: func(b *cmdBuf, i int) {
			args := make([]any, 0, 5+len(extra))
			if isDelete {
				args = append(args, "VDEL", kvs[i].Key)
			} else {
				args = append(args, "VSET", kvs[i].Key, valueArg(kvs[i].Value))
			}
			if times != nil {
				args = append(args, "EVENTTIME", times[i])
			}
			b.add(append(args, extra...)...)
		},
	}
	w.done = func(i int, v any, s *topology.Store, shard uint32) error {
		r, err := parseWriteReply(v)
		if err != nil {
			return fmt.Errorf("client: store %s (%s): %w", s.ID, s.Addr, err)
		}
		if !r.Applied && times != nil && w.unsure[i] && r.Version.Time == times[i] && r.Version.DC == c.cfg.DC {
			// The version that holds is this write's own (no other writer
			// has its event time): an earlier attempt whose reply was lost
			// applied it on another replica.
			r.Applied = true
		}
		r.Store, r.Shard = s.ID, shard
		results[i] = r
		c.marks.record(ks, r)
		return nil
	}
	errs, err := c.run(ctx, w)
	if err != nil {
		return nil, nil, err
	}
	return results, errs, nil
}

// valueArg sends a nil value as an empty one.
func valueArg(v []byte) []byte {
	if v == nil {
		return []byte{}
	}
	return v
}

// itemErr names the failing item of a batch.
func itemErr(n, i int, err error) error {
	if n == 1 {
		return err
	}
	return fmt.Errorf("item %d: %w", i, err)
}

// Get reads key in keyspace ks (VGET) from a replica that serves the shard.
// It returns ErrNotFound for a key without a live value (missing, deleted
// or expired).
//
// WithAfter(token) makes the read wait (bounded) until the replica has
// applied the write the token names, which may have been taken in another
// replica or another DC: read-your-writes across DCs.
func (c *Client) Get(ctx context.Context, ks string, key []byte, opts ...ReadOption) (Item, error) {
	var ro readOptions
	for _, f := range opts {
		if f != nil {
			f(&ro)
		}
	}
	items, errs, err := c.readWith(ctx, ks, [][]byte{key}, ro)
	if err != nil {
		return Item{}, err
	}
	if errs[0] != nil {
		return Item{}, errs[0]
	}
	if items[0] == nil {
		return Item{}, fmt.Errorf("%w: key %q in keyspace %s", ErrNotFound, clip(key), ks)
	}
	return *items[0], nil
}

// BatchGet reads every key, grouped by shard, each shard's VGETs pipelined
// to one replica and the shards read in parallel. The result is in input
// order, with a nil entry for a key that has no live value. When some keys
// fail, the error is a *BatchError and the other entries are valid.
func (c *Client) BatchGet(ctx context.Context, ks string, keys [][]byte) ([]*Item, error) {
	items, errs, err := c.read(ctx, ks, keys)
	if err != nil {
		return nil, err
	}
	return items, batchErr(errs)
}

// read runs VGETs of keys.
func (c *Client) read(ctx context.Context, ks string, keys [][]byte) ([]*Item, []error, error) {
	return c.readWith(ctx, ks, keys, readOptions{})
}

func (c *Client) readWith(ctx context.Context, ks string, keys [][]byte, ro readOptions) ([]*Item, []error, error) {
	if err := checkKeyspace(ks); err != nil {
		return nil, nil, err
	}
	for i, k := range keys {
		if err := checkKey(k); err != nil {
			return nil, nil, itemErr(len(keys), i, err)
		}
	}
	if len(keys) == 0 {
		return nil, nil, nil
	}
	if ro.after == "" && c.cfg.HedgeAfter > 0 {
		// The slower request of a hedged read is abandoned, not waited
		// for, and may still be waiting for a connection (then writing
		// the keys) after the call returned: it must not read buffers
		// the caller may reuse by then.
		keys = detachKeys(keys)
	}
	items := make([]*Item, len(keys))
	after := func(b *cmdBuf, i int, token string, wait time.Duration) {
		b.add("VGET", keys[i], "AFTER", token, "TIMEOUT", wait.Milliseconds())
	}
	o := &op{
		ks:       ks,
		n:        len(keys),
		slack:    ro.timeout, // the store waits this long for the token's write
		blocking: ro.after != "",
		shardOf:  shardOfKey(keys),
		add: func(b *cmdBuf, i int) {
			if ro.after != "" {
				after(b, i, ro.after, ro.timeout)
				return
			}
			b.add("VGET", keys[i])
		},
		done: func(i int, v any, s *topology.Store, _ uint32) error {
			it, err := parseGetReply(v)
			if err != nil {
				return fmt.Errorf("client: store %s (%s): %w", s.ID, s.Addr, err)
			}
			if it != nil {
				it.Key = append([]byte(nil), keys[i]...)
			}
			items[i] = it
			return nil
		},
	}
	if ro.after == "" {
		// Hedged to another replica, a read waits there for the client's
		// latest write (a read with its own token waits for that one).
		o.addAfter = after
	}
	errs, err := c.run(ctx, o)
	if err != nil {
		return nil, nil, err
	}
	return items, errs, nil
}

// detachKeys copies keys into one buffer of their own.
func detachKeys(keys [][]byte) [][]byte {
	n := 0
	for _, k := range keys {
		n += len(k)
	}
	buf := make([]byte, 0, n)
	out := make([][]byte, len(keys))
	for i, k := range keys {
		buf = append(buf, k...)
		out[i] = buf[len(buf)-len(k) : len(buf) : len(buf)]
	}
	return out
}

// clip shortens a key or a reply line for an error message.
func clip(b []byte) string {
	const n = 64
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// --- reply parsing ---

// errReply is a reply of an unexpected shape.
var errReply = errors.New("unexpected reply")

func replyErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errReply, fmt.Sprintf(format, args...))
}

func asInt(v any) (int64, error) {
	n, ok := v.(int64)
	if !ok {
		return 0, replyErr("want an integer, got %T", v)
	}
	return n, nil
}

func asBytes(v any) ([]byte, error) {
	switch s := v.(type) {
	case string:
		return []byte(s), nil
	case []byte:
		return s, nil
	}
	return nil, replyErr("want a bulk string, got %T", v)
}

func asString(v any) (string, error) {
	switch s := v.(type) {
	case string:
		return s, nil
	case []byte:
		return string(s), nil
	}
	return "", replyErr("want a bulk string, got %T", v)
}

// asSlice returns an array reply.
func asSlice(v any) ([]any, error) {
	a, ok := v.([]any)
	if !ok {
		return nil, replyErr("want an array, got %T", v)
	}
	return a, nil
}

// parseVersion parses event time, origin DC, origin node.
func parseVersion(v []any) (Version, error) {
	t, err := asInt(v[0])
	if err != nil {
		return Version{}, err
	}
	dc, err := asString(v[1])
	if err != nil {
		return Version{}, err
	}
	node, err := asString(v[2])
	if err != nil {
		return Version{}, err
	}
	return Version{Time: t, DC: dc, Node: node}, nil
}

// parseWriteReply parses [applied, event_time, origin_dc, origin_node,
// log_index].
func parseWriteReply(reply any) (WriteResult, error) {
	v, err := asSlice(reply)
	if err != nil {
		return WriteResult{}, err
	}
	return parseWriteValues(v)
}

func parseWriteValues(v []any) (WriteResult, error) {
	if len(v) != 5 && len(v) != 6 {
		return WriteResult{}, replyErr("write reply of %d elements, want 5 or 6", len(v))
	}
	ack := AckLocal
	if len(v) == 6 {
		s, ok := v[5].(string)
		if !ok || !slices.Contains(wire.AckLevels, s) {
			return WriteResult{}, replyErr("write reply: acknowledgement level %v", v[5])
		}
		ack = AckLevel(s)
	}
	applied, err := asInt(v[0])
	if err != nil {
		return WriteResult{}, err
	}
	ver, err := parseVersion(v[1:4])
	if err != nil {
		return WriteResult{}, err
	}
	idx, err := asInt(v[4])
	if err != nil {
		return WriteResult{}, err
	}
	return WriteResult{Applied: applied == 1, Version: ver, LogIndex: uint64(idx), Ack: ack}, nil
}

// parseGetReply parses [value, event_time, origin_dc, origin_node,
// expires_at], or nil for a null array (no live value).
func parseGetReply(reply any) (*Item, error) {
	if reply == nil {
		return nil, nil
	}
	v, err := asSlice(reply)
	if err != nil {
		return nil, err
	}
	return parseGetValues(v)
}

func parseGetValues(v []any) (*Item, error) {
	if v == nil {
		return nil, nil
	}
	if len(v) != 5 {
		return nil, replyErr("VGET reply of %d elements, want 5", len(v))
	}
	val, err := asBytes(v[0])
	if err != nil {
		return nil, err
	}
	ver, err := parseVersion(v[1:4])
	if err != nil {
		return nil, err
	}
	exp, err := asInt(v[4])
	if err != nil {
		return nil, err
	}
	return &Item{Value: val, Version: ver, ExpiresAt: exp}, nil
}

// parseScanValues parses a VSCAN ... WITHVERSIONS reply: [next or null,
// [key, value, event_time, origin_dc, origin_node, ...]].
func parseScanValues(v []any) (items []Item, next []byte, err error) {
	if len(v) != 2 {
		return nil, nil, replyErr("VSCAN reply of %d elements, want 2", len(v))
	}
	if v[0] != nil {
		if next, err = asBytes(v[0]); err != nil {
			return nil, nil, err
		}
	}
	flat, ok := v[1].([]any)
	if !ok && v[1] != nil {
		return nil, nil, replyErr("VSCAN entries of type %T", v[1])
	}
	if len(flat)%5 != 0 {
		return nil, nil, replyErr("VSCAN entries of %d elements, not a multiple of 5", len(flat))
	}
	items = make([]Item, 0, len(flat)/5)
	for i := 0; i < len(flat); i += 5 {
		key, err := asBytes(flat[i])
		if err != nil {
			return nil, nil, err
		}
		val, err := asBytes(flat[i+1])
		if err != nil {
			return nil, nil, err
		}
		ver, err := parseVersion(flat[i+2 : i+5])
		if err != nil {
			return nil, nil, err
		}
		items = append(items, Item{Key: key, Value: val, Version: ver})
	}
	return items, next, nil
}
