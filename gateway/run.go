package gateway

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/vasto-kv/vasto/client"
	"github.com/vasto-kv/vasto/internal/acl"
	"github.com/vasto-kv/vasto/topology"
	"github.com/vasto-kv/vasto/wire"
)

// errNoKeyspace answers the commands after a failed VUSE or SELECT: they
// must not act on the keyspace selected before.
var errNoKeyspace = fmt.Errorf("%w: no keyspace selected (the last VUSE failed)", errSyntax)

func runQuit(c *conn, _ [][]byte) {
	c.w.WriteSimple("OK")
	c.quit = true
}

// HELLO [2 [AUTH user pass] [SETNAME name]]: the gateway speaks RESP2
// only; AUTH authenticates as AUTH does.
func runHello(c *conn, args [][]byte) {
	if err := c.sess.Hello(c.g.acl.Load(), args[1:]); err != nil {
		c.authFailed(err)
		return
	}
	c.w.WriteHello("gateway")
}

// AUTH [user] password: authenticate the connection as user (or the
// default user). Gateway users are the gateway's own (its ACL file); the
// gateway reaches the stores with its own credentials.
func runAuth(c *conn, args [][]byte) {
	if err := c.sess.Auth(c.g.acl.Load(), args[1:]); err != nil {
		c.authFailed(err)
		return
	}
	c.w.WriteSimple("OK")
}

// authFailed answers a failed AUTH, counts and logs it: with the user's
// name only when the ACL knows it, never with the password.
func (c *conn) authFailed(err error) {
	c.writeErr(err)
	if user, ok := acl.FailedUser(err); ok {
		c.g.authFailures.Add(1)
		c.g.log.Warn("authentication failed", "user", user, "remote", c.nc.RemoteAddr().String())
	}
}

// INFO: the DC, the topology version the gateway routes by, and the
// keyspaces.
func runInfo(c *conn, _ [][]byte) {
	t := c.g.cl.Topology()
	var b strings.Builder
	fmt.Fprintf(&b, "# Server\r\nvasto_mode:gateway\r\ndc:%s\r\ntcp_addr:%s\r\n", c.g.cfg.DC, c.g.Addr())
	fmt.Fprintf(&b, "topology_version:%d\r\nkeyspace:%s\r\n", t.Version, c.keyspace)
	healthy := 0
	for _, s := range t.Stores {
		if s != nil && s.Healthy {
			healthy++
		}
	}
	fmt.Fprintf(&b, "stores:%d\r\nstores_healthy:%d\r\n\r\n# Keyspace\r\n", len(t.Stores), healthy)
	names := make([]string, 0, len(t.Keyspaces))
	for n := range t.Keyspaces {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ks := t.Keyspaces[n]
		fmt.Fprintf(&b, "%s:shards=%d,replicas=%d,resizing=%d\r\n", n, ks.Shards, ks.Replicas, boolInt(ks.Resize != nil))
	}
	c.w.WriteBulkString(b.String())
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// SELECT keyspace: as VUSE keyspace. SELECT 0 (sent by tools for the
// default database) changes nothing; other numbers are refused.
func runSelect(c *conn, args [][]byte) {
	if n, err := strconv.ParseUint(string(args[1]), 10, 64); err == nil {
		if n == 0 {
			c.w.WriteSimple("OK")
			return
		}
		c.writeErr(redisError("the gateway has no numbered databases: SELECT keyspace or VUSE keyspace"))
		return
	}
	c.use(string(args[1]))
}

// VUSE keyspace: the gateway routes by key, so no shard.
func runUse(c *conn, args [][]byte) {
	if len(args) != 2 {
		c.keyspace = ""
		c.writeErr(fmt.Errorf("%w: the gateway routes keys to shards itself: VUSE keyspace (no shard)", errSyntax))
		return
	}
	c.use(string(args[1]))
}

// use selects a keyspace of the topology; on failure no keyspace is
// selected, so the commands pipelined after fail too.
func (c *conn) use(name string) {
	c.keyspace = ""
	c.scans = wire.ScanCursors{}
	if !topology.ValidName(name) {
		c.writeErr(fmt.Errorf("%w: keyspace %q: use 1-64 of A-Z a-z 0-9 - _", client.ErrBadName, clip([]byte(name))))
		return
	}
	if _, err := c.g.cl.Shards(name); err != nil {
		c.writeErr(err)
		return
	}
	c.keyspace = name
	c.w.WriteSimple("OK")
}

// DBSIZE: the sum of every shard's estimate (DBSIZE of one replica each).
func runDBSize(c *conn, _ [][]byte) {
	if c.keyspace == "" {
		c.writeErr(errNoKeyspace)
		return
	}
	n, err := c.g.cl.Shards(c.keyspace)
	if err != nil {
		c.writeErr(err)
		return
	}
	cmds := make([]client.Command, n)
	for i := range cmds {
		cmds[i] = client.Command{Args: [][]byte{[]byte("DBSIZE")}, Shard: uint32(i)}
	}
	reps, ok := c.doAlone(cmds)
	if !ok {
		return
	}
	var sum int64
	for _, r := range reps {
		v, _ := r.Val.(int64)
		sum += v
	}
	c.w.WriteInt(sum)
}

// doAlone sends cmds and answers the first error; ok is false when it did.
func (c *conn) doAlone(cmds []client.Command) ([]client.Reply, bool) {
	if c.keyspace == "" {
		c.writeErr(errNoKeyspace)
		return nil, false
	}
	reps, err := c.do(cmds)
	if err == nil {
		for _, r := range reps {
			if r.Err != nil {
				err = r.Err
				break
			}
		}
	}
	if err != nil {
		c.writeErr(err)
		return nil, false
	}
	return reps, true
}

// SCAN cursor [MATCH pattern] [COUNT n] [TYPE string]: a page of the
// keyspace in key order across every shard (Client.Scan), COUNT keys
// looked at, those matching the pattern returned. The cursor names the
// key after the page; the connection keeps it (wire.ScanCursors).
func runScan(c *conn, args [][]byte) {
	cur, err := strconv.ParseUint(string(args[1]), 10, 64)
	if err != nil {
		c.writeErr(fmt.Errorf("%w: invalid cursor", errSyntax))
		return
	}
	var pattern []byte
	count := 10
	for i := 2; i < len(args); i += 2 {
		if i+1 >= len(args) {
			c.writeErr(fmt.Errorf("%w: option %s needs a value", errSyntax, clip(args[i])))
			return
		}
		switch strings.ToUpper(string(args[i])) {
		case "MATCH":
			pattern = args[i+1]
		case "COUNT":
			n, err := strconv.Atoi(string(args[i+1]))
			if err != nil || n <= 0 || n > MaxScanCount {
				c.writeErr(fmt.Errorf("%w: COUNT must be in 1..%d", errSyntax, MaxScanCount))
				return
			}
			count = n
		case "TYPE":
			if !strings.EqualFold(string(args[i+1]), "string") {
				// Only strings here: an empty, final page.
				c.w.WriteArray(2)
				c.w.WriteBulkString("0")
				c.w.WriteArray(0)
				return
			}
		default:
			c.writeErr(fmt.Errorf("%w: unsupported SCAN option %s", errSyntax, clip(args[i])))
			return
		}
	}
	var start []byte
	if cur != 0 {
		var ok bool
		if start, ok = c.scans.Take(cur); !ok {
			c.writeErr(fmt.Errorf("%w: unknown or expired cursor %d", errSyntax, cur))
			return
		}
	}
	keys, next, ok := c.scanPage(pattern, start, count)
	if !ok {
		return
	}
	id := uint64(0)
	if next != nil {
		id = c.scans.Put(next)
	}
	c.w.WriteArray(2)
	c.w.WriteBulkString(intText(id))
	writeBulks(c.w, keys)
}

// scanPage reads count keys from start (with the pattern's literal prefix)
// and returns those matching the pattern, and where the next page starts
// (nil: done).
func (c *conn) scanPage(pattern, start []byte, count int) (keys [][]byte, next []byte, ok bool) {
	if c.keyspace == "" {
		c.writeErr(errNoKeyspace)
		return nil, nil, false
	}
	ctx, cancel := c.ctx()
	defer cancel()
	items, err := c.g.cl.Scan(ctx, c.keyspace, client.ScanOptions{Prefix: wire.GlobPrefix(pattern), Start: start, Limit: count})
	if err != nil {
		c.writeErr(err)
		return nil, nil, false
	}
	for _, it := range items {
		if pattern == nil || wire.GlobMatch(pattern, it.Key) {
			keys = append(keys, it.Key)
		}
	}
	if len(items) == count {
		last := items[len(items)-1].Key
		next = append(append(make([]byte, 0, len(last)+1), last...), 0)
	}
	return keys, next, true
}

// KEYS pattern: every matching key, in key order, looking at no more than
// Config.MaxKeys keys (else an error: use SCAN).
func runKeys(c *conn, args [][]byte) {
	pattern := args[1]
	var all [][]byte
	var start []byte
	seen := 0
	for {
		page := min(1000, c.g.cfg.MaxKeys+1-seen)
		keys, next, ok := c.scanPage(pattern, start, page)
		if !ok {
			return
		}
		all = append(all, keys...)
		if next == nil {
			break
		}
		seen += page
		if seen > c.g.cfg.MaxKeys {
			c.writeErr(redisError(fmt.Sprintf("KEYS would look at more than %d keys: use SCAN", c.g.cfg.MaxKeys)))
			return
		}
		start = next
	}
	writeBulks(c.w, all)
}

func runMulti(c *conn, _ [][]byte) {
	if c.inTx {
		c.writeErr(redisError("MULTI calls can not be nested"))
		return
	}
	c.inTx, c.tx, c.txBad = true, nil, false
	c.w.WriteSimple("OK")
}

// EXEC runs the queued commands as one batch: one pipeline per shard.
func runExec(c *conn, _ [][]byte) {
	if !c.inTx {
		c.writeErr(redisError("EXEC without MULTI"))
		return
	}
	tx, bad := c.tx, c.txBad
	c.inTx, c.tx, c.txBad = false, nil, false
	if bad {
		c.w.WriteError("EXECABORT Transaction discarded because of previous errors.")
		return
	}
	c.w.WriteArray(len(tx))
	for _, args := range tx {
		cmd, _ := lookup(args[0])
		if err := c.permitted(cmd); err != nil {
			c.refuse(err)
			continue
		}
		c.exec(cmd, args)
	}
	c.flush()
}

func runDiscard(c *conn, _ [][]byte) {
	if !c.inTx {
		c.writeErr(redisError("DISCARD without MULTI"))
		return
	}
	c.inTx, c.tx, c.txBad = false, nil, false
	c.w.WriteSimple("OK")
}

func runWatch(c *conn, _ [][]byte) {
	if c.inTx {
		c.txBad = true
		c.writeErr(redisError("WATCH inside MULTI is not allowed"))
		return
	}
	c.writeErr(redisError("WATCH is not supported by the gateway (no optimistic locking across shards)"))
}

// EXPIRE key seconds, PEXPIRE key ms: read the value, then write it again
// with the TTL (SET ... XX, so a key deleted in between stays deleted). A
// write of the key between the two steps may be overwritten: not atomic.
// A TTL that is not positive deletes the key, as in Redis.
func runExpire(unitMS int64) func(c *conn, args [][]byte) {
	return func(c *conn, args [][]byte) {
		key := args[1]
		if c.badKeys(key) {
			return
		}
		n, err := strconv.ParseInt(string(args[2]), 10, 64)
		if err != nil || n > math.MaxInt64/unitMS {
			c.writeErr(redisError("value is not an integer or out of range"))
			return
		}
		get := client.Command{Args: [][]byte{[]byte("GET"), key}, Key: key, Write: true}
		reps, ok := c.doAlone([]client.Command{get})
		if !ok {
			return
		}
		v, found := asBytes(reps[0].Val)
		if !found {
			c.w.WriteInt(0)
			return
		}
		if n <= 0 {
			if _, ok := c.doAlone([]client.Command{{Args: [][]byte{[]byte("DEL"), key}, Key: key, Write: true}}); ok {
				c.w.WriteInt(1)
			}
			return
		}
		ms := []byte(strconv.FormatInt(n*unitMS, 10))
		c.setXX(key, v, []byte("PX"), ms)
	}
}

// PERSIST key: drop the TTL by writing the value again without one.
func runPersist(c *conn, args [][]byte) {
	key := args[1]
	if c.badKeys(key) {
		return
	}
	reps, ok := c.doAlone([]client.Command{
		{Args: [][]byte{[]byte("GET"), key}, Key: key, Write: true},
		{Args: [][]byte{[]byte("PTTL"), key}, Key: key, Write: true},
	})
	if !ok {
		return
	}
	v, found := asBytes(reps[0].Val)
	if ttl, _ := reps[1].Val.(int64); !found || ttl < 0 {
		c.w.WriteInt(0)
		return
	}
	c.setXX(key, v)
}

// setXX writes key's value again if it still has one, and answers 1, or 0
// when it was gone.
func (c *conn) setXX(key, value []byte, opts ...[]byte) {
	args := append([][]byte{[]byte("SET"), key, value}, opts...)
	args = append(args, []byte("XX"))
	reps, ok := c.doAlone([]client.Command{{Args: args, Key: key, Write: true}})
	if !ok {
		return
	}
	if reps[0].Val == nil {
		c.w.WriteInt(0)
		return
	}
	c.w.WriteInt(1)
}

// asBytes returns a bulk reply's bytes; false for a null.
func asBytes(v any) ([]byte, bool) {
	switch x := v.(type) {
	case string:
		return []byte(x), true
	case []byte:
		return bytes.Clone(x), true
	}
	return nil, false
}
