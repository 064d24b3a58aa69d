package server

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/store"
	"github.com/vasto-kv/vasto/wire"
)

// GET key
func cmdGet(c *conn, args [][]byte) {
	sh, err := c.ownerTarget(args[1])
	if err != nil {
		c.writeErr(err)
		return
	}
	found, err := sh.View(args[1], func(_ lww.Header, v []byte) { c.w.WriteBulk(v) })
	switch {
	case err != nil:
		c.writeErr(err)
	case !found:
		c.w.WriteNull()
	}
}

// VGET key [AFTER token [TIMEOUT ms]]: [value, event time, origin dc,
// origin node, expires at] or null. With AFTER the read first waits (up to
// TIMEOUT, default 1000 ms) until this replica has applied the write the
// token names, so a reader sees a given write in any replica or DC.
func cmdVGet(c *conn, args [][]byte) {
	sh, err := c.ownerTarget(args[1])
	if err != nil {
		c.writeErr(err)
		return
	}
	if len(args) > 2 {
		if err := c.waitAfter(sh, args[2:]); err != nil {
			c.writeErr(err)
			return
		}
	}
	rec, err := sh.Get(args[1])
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.w.WriteNullArray()
	case err != nil:
		c.writeErr(err)
	default:
		c.w.WriteArray(5)
		c.w.WriteBulk(rec.Value)
		c.w.WriteInt(rec.Version.Time)
		c.w.WriteBulkString(rec.Version.DC)
		c.w.WriteBulkString(rec.Version.Node)
		c.w.WriteInt(rec.ExpiresAt)
	}
}

// parseToken parses a read-your-writes token, "dc:store:shard:index" with
// valid DC and store names.
func parseToken(s string) (store.Token, error) {
	t, err := wire.ParseToken(s, lww.ValidName)
	if err != nil {
		return store.Token{}, fmt.Errorf("%w: %w", errSyntax, err)
	}
	return t, nil
}

// maxAfterWait bounds how long one read may wait for a token.
const maxAfterWait = 30 * time.Second

// waitAfter parses AFTER token [TIMEOUT ms] and waits for the token.
func (c *conn) waitAfter(sh *store.Shard, opts [][]byte) error {
	if (len(opts) != 2 && len(opts) != 4) || !strings.EqualFold(string(opts[0]), "AFTER") {
		return syntaxf("VGET key [AFTER token [TIMEOUT ms]]")
	}
	tok, err := parseToken(string(opts[1]))
	if err != nil {
		return err
	}
	timeout := time.Second
	if len(opts) == 4 {
		ms, err := strconv.ParseInt(string(opts[3]), 10, 64)
		if !strings.EqualFold(string(opts[2]), "TIMEOUT") || err != nil || ms < 0 || time.Duration(ms)*time.Millisecond > maxAfterWait {
			return syntaxf("TIMEOUT must be 0..%d milliseconds", maxAfterWait.Milliseconds())
		}
		timeout = time.Duration(ms) * time.Millisecond
	}
	return sh.WaitApplied(c.srv.ctx, tok, timeout)
}

// MGET key [key ...]
func cmdMGet(c *conn, args [][]byte) {
	sh, err := c.ownerTarget(args[1:]...)
	if err != nil {
		c.writeErr(err)
		return
	}
	recs, found, err := sh.MultiGet(args[1:])
	if err != nil {
		c.writeErr(err)
		return
	}
	c.w.WriteArray(len(recs))
	for i, r := range recs {
		if found[i] {
			c.w.WriteBulk(r.Value)
		} else {
			c.w.WriteNull()
		}
	}
}

// EXISTS key [key ...]: how many of the keys (counting repeats) are live.
func cmdExists(c *conn, args [][]byte) {
	sh, err := c.ownerTarget(args[1:]...)
	if err != nil {
		c.writeErr(err)
		return
	}
	_, found, err := sh.MultiGet(args[1:])
	if err != nil {
		c.writeErr(err)
		return
	}
	n := int64(0)
	for _, f := range found {
		if f {
			n++
		}
	}
	c.w.WriteInt(n)
}

// PTTL key: -2 if the key has no live value, -1 if it never expires, else
// the milliseconds left.
func cmdPTTL(c *conn, args [][]byte) { c.ttl(args[1], 1e6, 0) }

// TTL key: as PTTL in seconds.
func cmdTTL(c *conn, args [][]byte) { c.ttl(args[1], 1e9, 5e8) }

// ttl answers PTTL and TTL: the time left in unit, rounded as Redis does.
func (c *conn) ttl(key []byte, unit, round int64) {
	sh, err := c.ownerTarget(key)
	if err != nil {
		c.writeErr(err)
		return
	}
	rec, err := sh.Get(key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.w.WriteInt(-2)
	case err != nil:
		c.writeErr(err)
	case rec.ExpiresAt == 0:
		c.w.WriteInt(-1)
	default:
		left := rec.ExpiresAt - c.srv.cfg.Engine.Config().Clock.Now()
		c.w.WriteInt(max(0, (left+round)/unit))
	}
}

// SCAN cursor [MATCH pattern] [COUNT n]: Redis-style iteration over the
// selected shard. Cursors are numbers kept by the connection.
func cmdScan(c *conn, args [][]byte) {
	sh, err := c.readTarget()
	if err != nil {
		c.writeErr(err)
		return
	}
	cur, err := strconv.ParseUint(string(args[1]), 10, 64)
	if err != nil {
		c.writeErr(syntaxf("invalid cursor"))
		return
	}
	var pattern []byte
	count := 10
	for i := 2; i < len(args); i += 2 {
		if i+1 >= len(args) {
			c.writeErr(syntaxf("option needs a value"))
			return
		}
		switch strings.ToUpper(string(args[i])) {
		case "MATCH":
			pattern = args[i+1]
		case "COUNT":
			n, err := strconv.Atoi(string(args[i+1]))
			if err != nil || n <= 0 || n > store.MaxScanLimit {
				c.writeErr(syntaxf("COUNT must be in 1..%d", store.MaxScanLimit))
				return
			}
			count = n
		default:
			c.writeErr(syntaxf("unsupported SCAN option %s", clip(args[i])))
			return
		}
	}
	start := []byte(nil)
	if cur != 0 {
		var ok bool
		if start, ok = c.scans.Take(cur); !ok {
			c.writeErr(syntaxf("unknown or expired cursor %d", cur))
			return
		}
	}
	res, err := sh.Scan(store.ScanOptions{Start: start, Prefix: wire.GlobPrefix(pattern), Limit: count})
	if err != nil {
		c.writeErr(err)
		return
	}
	next := uint64(0)
	if res.Next != nil {
		next = c.scans.Put(res.Next)
	}
	owner, _ := sh.Owner()
	var keys [][]byte
	for _, it := range res.Items {
		if owner.Owns(it.Key) && (pattern == nil || wire.GlobMatch(pattern, it.Key)) {
			keys = append(keys, it.Key)
		}
	}
	c.w.WriteArray(2)
	c.w.WriteBulkString(strconv.FormatUint(next, 10))
	c.w.WriteArray(len(keys))
	for _, k := range keys {
		c.w.WriteBulk(k)
	}
}

// VSCAN [PREFIX p] [START s] [END e] [LIMIT n] [WITHVERSIONS]: a range scan
// in key order. Reply: [next start key or null, [key, value, ...]]; with
// WITHVERSIONS each entry is key, value, event time, origin dc, origin node.
func cmdVScan(c *conn, args [][]byte) {
	sh, err := c.readTarget()
	if err != nil {
		c.writeErr(err)
		return
	}
	o := store.ScanOptions{Limit: 100}
	versions := false
	for i := 1; i < len(args); i++ {
		opt := strings.ToUpper(string(args[i]))
		if opt == "WITHVERSIONS" {
			versions = true
			continue
		}
		if i+1 >= len(args) {
			c.writeErr(syntaxf("option %s needs a value", clip(args[i])))
			return
		}
		v := args[i+1]
		i++
		switch opt {
		case "PREFIX":
			o.Prefix = v
		case "START":
			o.Start = v
		case "END":
			o.End = v
		case "LIMIT":
			n, err := strconv.Atoi(string(v))
			if err != nil {
				c.writeErr(syntaxf("LIMIT is not an integer"))
				return
			}
			o.Limit = n
		default:
			c.writeErr(syntaxf("unsupported VSCAN option %s", clip(args[i-1])))
			return
		}
	}
	res, err := sh.Scan(o)
	if err != nil {
		c.writeErr(err)
		return
	}
	owner, _ := sh.Owner()
	res.Items = ownedItems(owner, res.Items)
	c.w.WriteArray(2)
	if res.Next == nil {
		c.w.WriteNull()
	} else {
		c.w.WriteBulk(res.Next)
	}
	per := 2
	if versions {
		per = 5
	}
	c.w.WriteArray(per * len(res.Items))
	for _, it := range res.Items {
		c.w.WriteBulk(it.Key)
		c.w.WriteBulk(it.Record.Value)
		if versions {
			c.w.WriteInt(it.Record.Version.Time)
			c.w.WriteBulkString(it.Record.Version.DC)
			c.w.WriteBulkString(it.Record.Version.Node)
		}
	}
}

// VLOG from [COUNT n]: change-log entries from index from on, each as
// [index, key, value or null for a delete, event time, origin dc, origin node,
// expires at].
func cmdVLog(c *conn, args [][]byte) {
	sh, err := c.target()
	if err != nil {
		c.writeErr(err)
		return
	}
	from, err := strconv.ParseUint(string(args[1]), 10, 64)
	if err != nil {
		c.writeErr(syntaxf("from is not an integer"))
		return
	}
	count := 100
	if len(args) == 4 && strings.EqualFold(string(args[2]), "COUNT") {
		if count, err = strconv.Atoi(string(args[3])); err != nil {
			c.writeErr(syntaxf("COUNT is not an integer"))
			return
		}
	} else if len(args) != 2 {
		c.writeErr(syntaxf("VLOG from [COUNT n]"))
		return
	}
	entries, err := sh.ReadLog(from, count)
	if err != nil {
		c.writeErr(err)
		return
	}
	c.w.WriteArray(len(entries))
	for _, e := range entries {
		r := e.Change.Record
		c.w.WriteArray(7)
		c.w.WriteInt(int64(e.Index))
		c.w.WriteBulk(e.Change.Key)
		if r.IsTombstone() {
			c.w.WriteNull()
		} else {
			c.w.WriteBulk(r.Value)
		}
		c.w.WriteInt(r.Version.Time)
		c.w.WriteBulkString(r.Version.DC)
		c.w.WriteBulkString(r.Version.Node)
		c.w.WriteInt(r.ExpiresAt)
	}
}

// VLOGINFO: [first index held, last index written].
func cmdVLogInfo(c *conn, _ [][]byte) {
	sh, err := c.target()
	if err != nil {
		c.writeErr(err)
		return
	}
	first, last := sh.LogBounds()
	c.w.WriteArray(2)
	c.w.WriteInt(int64(first))
	c.w.WriteInt(int64(last))
}

// VDUMP [START s] [LIMIT n] [SHARDS m TARGET t]: every stored record of
// the selected shard in key order, tombstones and expired values included,
// each as key and its lww record encoding, whoever owns the key. Replicas
// copy a peer with it when they re-bootstrap. With SHARDS and TARGET only
// the records whose key a keyspace of m shards places on shard t
// (topology.ShardOf) are returned, the records a resize moves there, and a
// call steps over a bounded number of records (see
// store.Shard.DumpShardOf): a page may then hold fewer than LIMIT records,
// or none, while next is not null.
// With SNAPSHOT id every page reads the snapshot VSNAPSHOT took (one point
// in time of the shard), and the last page releases it.
// Reply: [next start key or null, [key, record, ...]]. Allowed while the
// shard catches up: it serves copies, not reads.
func cmdVDump(c *conn, args [][]byte) {
	sh, err := c.target()
	if err != nil {
		c.writeErr(err)
		return
	}
	o := store.ScanOptions{Limit: 1000, IncludeDead: true}
	if len(args)%2 != 1 {
		c.writeErr(syntaxf("VDUMP [START s] [LIMIT n] [SHARDS m TARGET t] [SNAPSHOT id]"))
		return
	}
	shards, target := int64(-1), int64(-1)
	snap := uint64(0)
	for i := 1; i < len(args); i += 2 {
		switch strings.ToUpper(string(args[i])) {
		case "START":
			o.Start = args[i+1]
		case "LIMIT":
			n, err := strconv.Atoi(string(args[i+1]))
			if err != nil {
				c.writeErr(syntaxf("LIMIT is not an integer"))
				return
			}
			o.Limit = n
		case "SHARDS":
			n, err := strconv.ParseInt(string(args[i+1]), 10, 32)
			if err != nil || n <= 0 {
				c.writeErr(syntaxf("SHARDS must be a positive integer"))
				return
			}
			shards = n
		case "TARGET":
			n, err := strconv.ParseInt(string(args[i+1]), 10, 32)
			if err != nil || n < 0 {
				c.writeErr(syntaxf("TARGET must be a non-negative integer"))
				return
			}
			target = n
		case "SNAPSHOT":
			n, err := strconv.ParseUint(string(args[i+1]), 10, 64)
			if err != nil || n == 0 {
				c.writeErr(syntaxf("SNAPSHOT takes the id VSNAPSHOT returned"))
				return
			}
			snap = n
		default:
			c.writeErr(syntaxf("unsupported VDUMP option %s", clip(args[i])))
			return
		}
	}
	if (shards < 0) != (target < 0) || (shards > 0 && target >= shards) {
		c.writeErr(syntaxf("SHARDS m and TARGET t go together, with t < m"))
		return
	}
	var res store.ScanResult
	switch {
	case snap != 0:
		if shards < 0 {
			shards, target = 1, 0 // every record
		}
		res, err = c.dumpSnapshot(snap, sh, o.Start, int(shards), uint32(target), o.Limit)
	case shards > 0:
		res, err = sh.DumpShardOf(o.Start, int(shards), uint32(target), o.Limit)
	default:
		res, err = sh.Scan(o)
	}
	if err != nil {
		c.writeErr(err)
		return
	}
	c.w.WriteArray(2)
	if res.Next == nil {
		c.w.WriteNull()
	} else {
		c.w.WriteBulk(res.Next)
	}
	c.w.WriteArray(2 * len(res.Items))
	var buf []byte
	for _, it := range res.Items {
		c.w.WriteBulk(it.Key)
		buf, err = lww.AppendRecord(buf[:0], it.Record)
		if err != nil {
			buf = buf[:0]
		}
		c.w.WriteBulk(buf)
	}
}

// VFENCE version: [fence, first unpublished] once the selected shard has
// switched to an owner of at least that version (store.Shard.SetOwner):
// fence is the last change-log index a write checked against the previous
// owner can have, and first unpublished the first index the change log
// still holds (everything below was published). BEHIND before. Allowed
// while the shard catches up.
func cmdVFence(c *conn, args [][]byte) {
	sh, err := c.target()
	if err != nil {
		c.writeErr(err)
		return
	}
	want, err := strconv.ParseUint(string(args[1]), 10, 64)
	if err != nil {
		c.writeErr(syntaxf("version must be a non-negative integer"))
		return
	}
	fence, version, ok := sh.Fence()
	if !ok || version < want {
		c.writeErr(fmt.Errorf("%w: %s has not fenced owner version %d", errOwnerBehind, sh.ID(), want))
		return
	}
	first, _ := sh.LogBounds()
	c.w.WriteArray(2)
	c.w.WriteInt(int64(fence))
	c.w.WriteInt(int64(first))
}

// ownerTarget returns the selected shard if it may serve reads and owns
// every key; ErrMoved otherwise.
func (c *conn) ownerTarget(keys ...[]byte) (*store.Shard, error) {
	sh, err := c.readTarget()
	if err != nil {
		return nil, err
	}
	if err := sh.CheckOwned(keys...); err != nil {
		return nil, err
	}
	return sh, nil
}

// ownedItems drops the items o does not own, in place: a resize leaves them
// until store.Shard.RemoveUnowned deletes them.
func ownedItems(o store.Owner, items []store.Item) []store.Item {
	if o.Shards == 0 {
		return items
	}
	kept := items[:0]
	for _, it := range items {
		if o.Owns(it.Key) {
			kept = append(kept, it)
		}
	}
	return kept
}
