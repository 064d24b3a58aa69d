package gateway

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/vasto-kv/vasto/client"
	"github.com/vasto-kv/vasto/internal/acl"
	"github.com/vasto-kv/vasto/server/resp"
)

// command is one entry of the command table.
type command struct {
	name string
	// arity as Redis counts it: the exact number of arguments including
	// the name when positive, the minimum when negative.
	arity int
	// plan queues the command's store commands and its call in the batch.
	plan func(c *conn, args [][]byte)
	// run answers a command that needs several round trips, the
	// connection's state or no store; it runs once the batch before it is
	// answered.
	run func(c *conn, args [][]byte)
	// noTx: not queued by MULTI (it acts on the transaction itself).
	noTx bool
}

var commands = map[string]*command{}

func init() {
	for _, cmd := range []*command{
		{name: "PING", arity: -1, plan: planPing},
		{name: "ECHO", arity: 2, plan: planEcho},
		{name: "QUIT", arity: 1, run: runQuit, noTx: true},
		{name: "HELLO", arity: -1, run: runHello, noTx: true},
		{name: "AUTH", arity: -2, run: runAuth, noTx: true},
		{name: "COMMAND", arity: -1, plan: planEmptyArray},
		{name: "CONFIG", arity: -2, plan: planEmptyArray},
		{name: "CLIENT", arity: -2, plan: planOK},
		{name: "INFO", arity: -1, run: runInfo},
		{name: "SELECT", arity: 2, run: runSelect},
		{name: "VUSE", arity: -2, run: runUse},
		{name: "DBSIZE", arity: 1, run: runDBSize},
		{name: "SCAN", arity: -2, run: runScan},
		{name: "KEYS", arity: 2, run: runKeys},
		{name: "MULTI", arity: 1, run: runMulti, noTx: true},
		{name: "EXEC", arity: 1, run: runExec, noTx: true},
		{name: "DISCARD", arity: 1, run: runDiscard, noTx: true},
		{name: "WATCH", arity: -2, run: runWatch, noTx: true},
		{name: "UNWATCH", arity: 1, plan: planOK},

		{name: "GET", arity: 2, plan: planForward(kGet, false)},
		{name: "TTL", arity: 2, plan: planForward(kValue, false)},
		{name: "PTTL", arity: 2, plan: planForward(kValue, false)},
		{name: "VGET", arity: -2, plan: planForward(kNullArr, false)},
		{name: "VSET", arity: -3, plan: planForward(kValue, true)},
		{name: "VDEL", arity: -2, plan: planForward(kValue, true)},
		{name: "SET", arity: -3, plan: planSet},
		{name: "SETEX", arity: 4, plan: planSetEx("EX")},
		{name: "PSETEX", arity: 4, plan: planSetEx("PX")},
		{name: "GETSET", arity: 3, plan: planGetSet},
		{name: "GETDEL", arity: 2, plan: planGetDel},
		{name: "TYPE", arity: 2, plan: planType},
		{name: "MGET", arity: -2, plan: planPerKey("GET", kMGet, false)},
		{name: "EXISTS", arity: -2, plan: planPerKey("EXISTS", kSum, false)},
		{name: "DEL", arity: -2, plan: planPerKey("DEL", kSum, true)},
		{name: "UNLINK", arity: -2, plan: planPerKey("DEL", kSum, true)},
		{name: "MSET", arity: -3, plan: planMSet},
		{name: "EXPIRE", arity: 3, run: runExpire(1000)},
		{name: "PEXPIRE", arity: 3, run: runExpire(1)},
		{name: "PERSIST", arity: 2, run: runPersist},
	} {
		commands[cmd.name] = cmd
	}
}

// notString lists commands of Redis' other data types, answered with a
// clear error rather than "unknown command".
var notString = map[string]string{}

func init() {
	for typ, names := range map[string]string{
		"list":       "LPUSH RPUSH LPOP RPOP LRANGE LLEN LINDEX LSET LREM LINSERT LTRIM LPOS LMOVE BLPOP BRPOP RPOPLPUSH",
		"hash":       "HSET HGET HMSET HMGET HGETALL HDEL HEXISTS HKEYS HVALS HLEN HINCRBY HINCRBYFLOAT HSETNX HSCAN HSTRLEN",
		"set":        "SADD SREM SMEMBERS SISMEMBER SMISMEMBER SCARD SPOP SRANDMEMBER SINTER SUNION SDIFF SMOVE SSCAN",
		"sorted set": "ZADD ZREM ZRANGE ZRANGEBYSCORE ZREVRANGE ZSCORE ZCARD ZINCRBY ZRANK ZREVRANK ZCOUNT ZPOPMIN ZPOPMAX ZSCAN",
		"stream":     "XADD XRANGE XREAD XLEN XDEL XTRIM XGROUP XREADGROUP XACK",
		"counter":    "INCR INCRBY INCRBYFLOAT DECR DECRBY",
		"string":     "APPEND SETRANGE GETRANGE STRLEN SETNX MSETNX GETEX",
		"pub/sub":    "PUBLISH SUBSCRIBE PSUBSCRIBE UNSUBSCRIBE",
		"script":     "EVAL EVALSHA SCRIPT FUNCTION FCALL",
	} {
		for _, n := range strings.Fields(names) {
			notString[n] = typ
		}
	}
}

// lookup finds a command case-insensitively.
func lookup(name []byte) (*command, string) {
	if cmd, ok := commands[string(name)]; ok {
		return cmd, string(name)
	}
	up := string(bytes.ToUpper(name))
	return commands[up], up
}

// dispatch handles one command: queued in the batch, run alone, or queued
// in the transaction.
func (c *conn) dispatch(args [][]byte) {
	cmd, name := lookup(args[0])
	a := c.g.acl.Load()
	// Nothing is said about a command, not even that it is unknown, to a
	// connection that has not authenticated.
	if err := c.sess.Gate(a, acl.GatewayCommands, tableName(cmd)); err != nil {
		c.refuse(err)
		return
	}
	if cmd == nil {
		c.refuse(unsupported(name, args))
		return
	}
	if (cmd.arity > 0 && len(args) != cmd.arity) || (cmd.arity < 0 && len(args) < -cmd.arity) {
		c.refuse(redisError(fmt.Sprintf("wrong number of arguments for '%s' command", strings.ToLower(cmd.name))))
		return
	}
	if err := c.sess.Permit(a, acl.GatewayCommands, cmd.name, c.keyspace); err != nil {
		c.refuse(err)
		return
	}
	if c.inTx && !cmd.noTx {
		c.tx = append(c.tx, args)
		c.local(call{kind: kSimple, text: "QUEUED"})
		return
	}
	c.exec(cmd, args)
}

// tableName is the name of cmd in the command tables ("unknown" for
// none).
func tableName(cmd *command) string {
	if cmd == nil {
		return unknownName
	}
	return cmd.name
}

// permitted checks a command queued by MULTI again when EXEC runs it: the
// keyspace (a queued VUSE) or the ACL may have changed since.
func (c *conn) permitted(cmd *command) error {
	a := c.g.acl.Load()
	if err := c.sess.Gate(a, acl.GatewayCommands, cmd.name); err != nil {
		return err
	}
	return c.sess.Permit(a, acl.GatewayCommands, cmd.name, c.keyspace)
}

// exec runs a known command with valid arity.
func (c *conn) exec(cmd *command, args [][]byte) {
	if cmd.plan != nil {
		cmd.plan(c, args)
		return
	}
	c.flush()
	c.code = ""
	cmd.run(c, args)
}

// refuse answers a command that cannot run; inside MULTI it also dooms
// the transaction, as Redis does.
func (c *conn) refuse(err error) {
	if c.inTx {
		c.txBad = true
	}
	c.local(call{kind: kError, err: err})
}

func unsupported(name string, args [][]byte) error {
	if typ, ok := notString[name]; ok {
		return redisError(fmt.Sprintf("'%s' is a %s command: Vasto stores strings (GET, SET, MGET, ...) only",
			strings.ToLower(name), typ))
	}
	return redisError(resp.UnknownCommand(args))
}

// clip shortens an argument for an error message.
func clip(b []byte) string { return resp.Clip(b) }

// --- commands answered in the batch ---

func planPing(c *conn, args [][]byte) {
	switch len(args) {
	case 1:
		c.local(call{kind: kSimple, text: "PONG"})
	case 2:
		c.local(call{kind: kBulk, data: args[1]})
	default:
		c.refuse(redisError("wrong number of arguments for 'ping' command"))
	}
}

func planEcho(c *conn, args [][]byte) { c.local(call{kind: kBulk, data: args[1]}) }

func planEmptyArray(c *conn, _ [][]byte) { c.local(call{kind: kArray}) }

func planOK(c *conn, _ [][]byte) { c.local(call{kind: kSimple, text: "OK"}) }

// badKeys refuses a call with an empty or oversized key, alone: the batch
// around it goes on.
func (c *conn) badKeys(keys ...[]byte) bool {
	for _, k := range keys {
		switch {
		case len(k) == 0:
			c.refuse(fmt.Errorf("%w: empty key", errSyntax))
			return true
		case len(k) > client.MaxKeySize:
			c.refuse(fmt.Errorf("%w: key of %d bytes, limit %d", client.ErrTooLarge, len(k), client.MaxKeySize))
			return true
		}
	}
	return false
}

// planForward sends the command as it is to the shard of its key.
func planForward(k kind, write bool) func(c *conn, args [][]byte) {
	return func(c *conn, args [][]byte) {
		if c.badKeys(args[1]) {
			return
		}
		i := c.queue(client.Command{Args: args, Key: args[1], Write: write})
		c.add(k, i, 1)
	}
}

// SET key value [EX s | PX ms] [NX | XX]: the store parses the options.
func planSet(c *conn, args [][]byte) {
	if c.badKeys(args[1]) {
		return
	}
	i := c.queue(client.Command{Args: args, Key: args[1], Write: true})
	c.add(kOK, i, 1)
}

// SETEX key seconds value, PSETEX key ms value: SET key value EX|PX n.
func planSetEx(unit string) func(c *conn, args [][]byte) {
	return func(c *conn, args [][]byte) {
		if c.badKeys(args[1]) {
			return
		}
		set := [][]byte{[]byte("SET"), args[1], args[3], []byte(unit), args[2]}
		i := c.queue(client.Command{Args: set, Key: args[1], Write: true})
		c.add(kOK, i, 1)
	}
}

// GETSET key value: GET then SET in one pipeline to the key's replica.
func planGetSet(c *conn, args [][]byte) {
	if c.badKeys(args[1]) {
		return
	}
	i := c.queue(client.Command{Args: [][]byte{[]byte("GET"), args[1]}, Key: args[1], Write: true})
	c.queue(client.Command{Args: [][]byte{[]byte("SET"), args[1], args[2]}, Key: args[1], Write: true})
	c.add(kFirst, i, 2)
}

// GETDEL key: GET then DEL in one pipeline to the key's replica.
func planGetDel(c *conn, args [][]byte) {
	if c.badKeys(args[1]) {
		return
	}
	i := c.queue(client.Command{Args: [][]byte{[]byte("GET"), args[1]}, Key: args[1], Write: true})
	c.queue(client.Command{Args: [][]byte{[]byte("DEL"), args[1]}, Key: args[1], Write: true})
	c.add(kFirst, i, 2)
}

// TYPE key: "string" when the key has a live value, else "none".
func planType(c *conn, args [][]byte) {
	if c.badKeys(args[1]) {
		return
	}
	i := c.queue(client.Command{Args: [][]byte{[]byte("EXISTS"), args[1]}, Key: args[1]})
	c.add(kType, i, 1)
}

// planPerKey splits a multi-key command into one store command per key,
// each sent to its shard.
func planPerKey(name string, k kind, write bool) func(c *conn, args [][]byte) {
	verb := []byte(name)
	return func(c *conn, args [][]byte) {
		if c.badKeys(args[1:]...) {
			return
		}
		first := len(c.cmds)
		for _, key := range args[1:] {
			c.queue(client.Command{Args: [][]byte{verb, key}, Key: key, Write: write})
		}
		c.add(k, first, len(args)-1)
	}
}

// MSET key value [key value ...]: one SET per pair, each on its shard (not
// atomic across shards).
func planMSet(c *conn, args [][]byte) {
	if len(args)%2 != 1 {
		c.refuse(redisError("wrong number of arguments for 'mset' command"))
		return
	}
	for i := 1; i < len(args); i += 2 {
		if c.badKeys(args[i]) {
			return
		}
	}
	first := len(c.cmds)
	set := []byte("SET")
	for i := 1; i < len(args); i += 2 {
		c.queue(client.Command{Args: [][]byte{set, args[i], args[i+1]}, Key: args[i], Write: true})
	}
	c.add(kAllOK, first, len(args)/2)
}
