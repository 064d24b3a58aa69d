package server

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vasto-kv/vasto/internal/acl"
	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/server/resp"
	"github.com/vasto-kv/vasto/store"
	"github.com/vasto-kv/vasto/wire"
)

// redisError is an error worded exactly as Redis words it, sent with the ERR
// code, so tools that match Redis' messages keep working.
type redisError string

func (e redisError) Error() string { return string(e) }

func syntaxf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errSyntax, fmt.Sprintf(format, args...))
}

// command is one entry of the command table.
type command struct {
	name string
	// arity as Redis counts it: the exact number of arguments including the
	// name when positive, the minimum when negative.
	arity int
	// write commands queue their writes; others run after the queued
	// writes of the batch have been committed, so a pipeline reads its own
	// writes.
	write bool
	fn    func(c *conn, args [][]byte)
}

var commands = map[string]*command{}

func init() {
	for _, cmd := range []*command{
		{"PING", -1, false, cmdPing},
		{"ECHO", 2, false, cmdEcho},
		{"QUIT", 1, false, cmdQuit},
		{"COMMAND", -1, false, cmdEmptyArray},
		{"CONFIG", -2, false, cmdEmptyArray},
		{"CLIENT", -2, false, cmdOK},
		{"HELLO", -1, false, cmdHello},
		{"AUTH", -2, false, cmdAuth},
		{"SELECT", 2, false, cmdSelect},
		{"VUSE", -2, false, cmdUse},
		{"INFO", -1, false, cmdInfo},
		{"DBSIZE", 1, false, cmdDBSize},
		{"VSHARDS", 1, false, cmdShards},

		{"SET", -3, true, cmdSet},
		{"MSET", -3, true, cmdMSet},
		{"DEL", -2, true, cmdDel},
		{"VSET", -3, true, cmdVSet},
		{"VDEL", -2, true, cmdVDel},
		{"WAIT", 3, false, cmdWait},

		{"GET", 2, false, cmdGet},
		{"VGET", -2, false, cmdVGet},
		{"MGET", -2, false, cmdMGet},
		{"EXISTS", -2, false, cmdExists},
		{"PTTL", 2, false, cmdPTTL},
		{"TTL", 2, false, cmdTTL},
		{"SCAN", -2, false, cmdScan},
		{"VSCAN", -1, false, cmdVScan},
		{"VLOG", -2, false, cmdVLog},
		{"VDUMP", -1, false, cmdVDump},
		{"VLOGINFO", 1, false, cmdVLogInfo},
		{"VFENCE", 2, false, cmdVFence},
		{"VDIGEST", -1, false, cmdDigest},
		{"VINGEST", -3, false, cmdVIngest},
		{"VSNAPSHOT", -1, false, cmdVSnapshot},
		{"VFAULT", -2, false, cmdFault},
	} {
		commands[cmd.name] = cmd
	}
}

// lookup finds a command case-insensitively without allocating for the
// usual upper-case names.
func lookup(name []byte) *command {
	if cmd, ok := commands[string(name)]; ok {
		return cmd
	}
	return commands[string(bytes.ToUpper(name))]
}

// dispatch runs one command: writes are queued, reads and the rest run once
// the queued writes are committed.
func (c *conn) dispatch(args [][]byte) {
	if c.srv.cfg.Observer == nil {
		c.exec(args)
		return
	}
	c.observed(args)
}

// exec runs one command and returns its name ("unknown" for a command the
// server does not know).
func (c *conn) exec(args [][]byte) string {
	cmd := lookup(args[0])
	a := c.srv.acl.Load()
	name := unknownName
	if cmd != nil {
		name = cmd.name
	}
	// Nothing is said about a command, not even that it is unknown, to a
	// connection that has not authenticated.
	if err := c.sess.Gate(a, acl.StoreCommands, name); err != nil {
		c.deferError(err)
		return name
	}
	if cmd == nil {
		c.deferError(unknownCommand(args))
		return unknownName
	}
	if (cmd.arity > 0 && len(args) != cmd.arity) || (cmd.arity < 0 && len(args) < -cmd.arity) {
		c.deferError(redisError(fmt.Sprintf("wrong number of arguments for '%s' command", strings.ToLower(cmd.name))))
		return cmd.name
	}
	if err := c.sess.Permit(a, acl.StoreCommands, cmd.name, c.keyspace); err != nil {
		c.deferError(err)
		return cmd.name
	}
	if !cmd.write {
		c.flushWrites()
		c.code = ""
	}
	cmd.fn(c, args)
	return cmd.name
}

func unknownCommand(args [][]byte) error { return redisError(resp.UnknownCommand(args)) }

// clip shortens an argument for an error message.
func clip(b []byte) string { return resp.Clip(b) }

// target returns the connection's selected shard.
func (c *conn) target() (*store.Shard, error) {
	return c.srv.cfg.Engine.Shard(c.keyspace, c.shard)
}

// noTarget is the target after a failed VUSE or SELECT: no shard has an
// empty keyspace name, so every data command fails with NOSHARD.
const noTarget = ""

// readTarget returns the selected shard if it may serve reads.
func (c *conn) readTarget() (*store.Shard, error) {
	sh, err := c.target()
	if err == nil && !sh.Serving() {
		return nil, fmt.Errorf("%w: %s", store.ErrCatchingUp, sh.ID())
	}
	return sh, err
}

// --- connection and server commands ---

func cmdPing(c *conn, args [][]byte) {
	switch len(args) {
	case 1:
		c.w.WriteSimple("PONG")
	case 2:
		c.w.WriteBulk(args[1])
	default:
		c.writeErr(redisError("wrong number of arguments for 'ping' command"))
	}
}

func cmdEcho(c *conn, args [][]byte) { c.w.WriteBulk(args[1]) }

func cmdQuit(c *conn, _ [][]byte) {
	c.w.WriteSimple("OK")
	c.quit = true
}

func cmdEmptyArray(c *conn, _ [][]byte) { c.w.WriteArray(0) }

func cmdOK(c *conn, _ [][]byte) { c.w.WriteSimple("OK") }

// HELLO [2 [AUTH user password] [SETNAME name]]: RESP2 only; AUTH
// authenticates as AUTH does.
func cmdHello(c *conn, args [][]byte) {
	if err := c.sess.Hello(c.srv.acl.Load(), args[1:]); err != nil {
		c.authFailed(err)
		return
	}
	c.w.WriteHello("standalone")
}

// AUTH [user] password: authenticate the connection as user (or the
// default user).
func cmdAuth(c *conn, args [][]byte) {
	if err := c.sess.Auth(c.srv.acl.Load(), args[1:]); err != nil {
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
		c.srv.authFailures.Add(1)
		c.srv.log.Warn("authentication failed", "user", user, "remote", c.nc.RemoteAddr().String())
	}
}

// cmdSelect selects shard n of the current keyspace.
func cmdSelect(c *conn, args [][]byte) {
	n, err := strconv.ParseUint(string(args[1]), 10, 32)
	if err != nil {
		c.writeErr(syntaxf("shard must be a non-negative integer"))
		return
	}
	c.use(c.keyspace, uint32(n))
}

// cmdUse selects a keyspace and shard (default 0): VUSE keyspace [shard
// [EPOCH e]]. With EPOCH the selection fails with NOSHARD unless the shard
// belongs to that incarnation of the keyspace.
func cmdUse(c *conn, args [][]byte) {
	if len(args) == 5 && strings.EqualFold(string(args[3]), "EPOCH") {
		want, err := strconv.ParseUint(string(args[4]), 10, 64)
		if err != nil {
			c.writeErr(syntaxf("EPOCH must be a non-negative integer"))
			return
		}
		shard, err := strconv.ParseUint(string(args[2]), 10, 32)
		if err != nil {
			c.writeErr(syntaxf("shard must be a non-negative integer"))
			return
		}
		if sh, err := c.srv.cfg.Engine.Shard(string(args[1]), uint32(shard)); err == nil && sh.Epoch() != want {
			c.keyspace, c.shard = noTarget, 0
			c.writeErr(fmt.Errorf("%w: %s is epoch %d, not %d", store.ErrNoShard, sh.ID(), sh.Epoch(), want))
			return
		}
		args = args[:3]
	}
	if len(args) > 3 {
		c.writeErr(syntaxf("VUSE keyspace [shard [EPOCH e]]"))
		return
	}
	shard := uint64(0)
	if len(args) == 3 {
		n, err := strconv.ParseUint(string(args[2]), 10, 32)
		if err != nil {
			c.writeErr(syntaxf("shard must be a non-negative integer"))
			return
		}
		shard = n
	}
	c.use(string(args[1]), uint32(shard))
}

func (c *conn) use(keyspace string, shard uint32) {
	if _, err := c.srv.cfg.Engine.Shard(keyspace, shard); err != nil {
		// Clear the target: the commands pipelined after a failed
		// selection must fail too, not act on the previous target.
		c.keyspace, c.shard = noTarget, 0
		c.writeErr(err)
		return
	}
	c.keyspace, c.shard = keyspace, shard
	c.scans = wire.ScanCursors{}
	c.w.WriteSimple("OK")
}

func cmdInfo(c *conn, _ [][]byte) {
	e := c.srv.cfg.Engine
	cfg := e.Config()
	var b strings.Builder
	fmt.Fprintf(&b, "# Server\r\nvasto_mode:store\r\ndc:%s\r\nnode:%s\r\ntcp_addr:%s\r\n", cfg.DC, cfg.Node, c.srv.Addr())
	fmt.Fprintf(&b, "sync:%t\r\n\r\n# Keyspace\r\n", cfg.Sync)
	var readOnly []string
	for _, id := range e.Shards() {
		sh, err := e.Shard(id.Keyspace, id.Shard)
		if err != nil {
			continue
		}
		first, last := sh.LogBounds()
		ro := sh.ReadOnly()
		fmt.Fprintf(&b, "%s:shard=%d,keys=%s,log_first=%d,log_last=%d,epoch=%d,read_only=%d\r\n",
			id.Keyspace, id.Shard, sh.Property("rocksdb.estimate-num-keys"), first, last, sh.Epoch(), boolInt(ro != ""))
		if ro != "" {
			readOnly = append(readOnly, id.String()+":"+ro+"\r\n")
		}
	}
	// Why each read-only shard refuses writes.
	fmt.Fprintf(&b, "\r\n# Readonly\r\nread_only_shards:%d\r\n%s", len(readOnly), strings.Join(readOnly, ""))
	writeHeldNotes(&b, e)
	c.w.WriteBulkString(b.String())
}

// writeHeldNotes adds INFO's "# Unplaced" section: shards held here that the
// topology does not place here (kept, never deleted because of it), and
// shards set aside.
func writeHeldNotes(b *strings.Builder, e *store.Engine) {
	un, aside := e.Unplaced(), e.AsideShards()
	if len(un) == 0 && len(aside) == 0 {
		return
	}
	b.WriteString("\r\n# Unplaced\r\n")
	ids := make([]store.ShardID, 0, len(un))
	for id := range un {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].String() < ids[j].String() })
	for _, id := range ids {
		fmt.Fprintf(b, "unplaced:%s,reason=%s\r\n", id, un[id])
	}
	for _, a := range aside {
		fmt.Fprintf(b, "aside:%s\r\n", a)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func cmdDBSize(c *conn, _ [][]byte) {
	sh, err := c.target()
	if err != nil {
		c.writeErr(err)
		return
	}
	n, _ := strconv.ParseInt(sh.Property("rocksdb.estimate-num-keys"), 10, 64)
	c.w.WriteInt(n)
}

// cmdShards lists the shards this store holds as keyspace, shard pairs.
func cmdShards(c *conn, _ [][]byte) {
	ids := c.srv.cfg.Engine.Shards()
	c.w.WriteArray(len(ids))
	for _, id := range ids {
		c.w.WriteArray(2)
		c.w.WriteBulkString(id.Keyspace)
		c.w.WriteInt(int64(id.Shard))
	}
}

// --- writes ---

// writeOpts are the options SET, VSET and VDEL accept.
type writeOpts struct {
	ttl       time.Duration
	eventTime int64
	cond      store.Cond
	// ack is the acknowledgement level asked for ("": local).
	ack string
}

// parseWriteOpts parses [EX s | PX ms] [NX | XX] [EVENTTIME ns] [ACK level];
// allowTime enables EVENTTIME and ACK, and allowTTL enables EX/PX and
// NX/XX, which take no value.
func parseWriteOpts(args [][]byte, allowTTL, allowTime bool) (writeOpts, error) {
	var o writeOpts
	for i := 0; i < len(args); i++ {
		opt := strings.ToUpper(string(args[i]))
		if (opt == "NX" || opt == "XX") && allowTTL {
			if o.cond != store.CondNone {
				return o, syntaxf("NX and XX are exclusive and given once")
			}
			o.cond = store.CondAbsent
			if opt == "XX" {
				o.cond = store.CondPresent
			}
			continue
		}
		if i+1 >= len(args) {
			return o, syntaxf("option %s needs a value", clip(args[i]))
		}
		if opt == "ACK" && allowTime && o.ack == "" {
			level := strings.ToLower(string(args[i+1]))
			if !slices.Contains(wire.AckLevels, level) {
				return o, syntaxf("ACK level %s is not one of %s", clip(args[i+1]), strings.Join(wire.AckLevels, ", "))
			}
			o.ack = level
			i++
			continue
		}
		n, err := strconv.ParseInt(string(args[i+1]), 10, 64)
		if err != nil {
			return o, syntaxf("value of %s is not an integer", opt)
		}
		switch {
		case (opt == "EX" || opt == "PX") && allowTTL && o.ttl == 0:
			unit := time.Millisecond
			if opt == "EX" {
				unit = time.Second
			}
			if n <= 0 || n > int64(1<<62)/int64(unit) {
				return o, fmt.Errorf("%w: invalid expire time in '%s' command", lww.ErrInvalidTTL, strings.ToLower(opt))
			}
			o.ttl = time.Duration(n) * unit
		case opt == "EVENTTIME" && allowTime && o.eventTime == 0:
			if n <= 0 {
				return o, fmt.Errorf("%w: event time %d", lww.ErrEventTimeNotPositive, n)
			}
			o.eventTime = n
		default:
			return o, syntaxf("unsupported or repeated option %s", clip(args[i]))
		}
		i++
	}
	return o, nil
}

// queue prepares a command's writes for the selected shard and queues
// them with the command's reply.
func (c *conn) queue(kind replyKind, muts ...store.Mutation) {
	c.queueAck(kind, "", muts...)
}

// queueAck is queue for a command that asked for acknowledgement level
// ack ("" or local: none beyond the commit).
func (c *conn) queueAck(kind replyKind, ack string, muts ...store.Mutation) {
	sh, err := c.target()
	if err != nil {
		c.deferError(err)
		return
	}
	if len(muts) > store.MaxBatchWrites {
		c.deferError(fmt.Errorf("%w: %d writes", store.ErrBatchTooLarge, len(muts)))
		return
	}
	writes := make([]store.Prepared, len(muts))
	for i, m := range muts {
		p, err := sh.Prepare(m)
		if err != nil {
			c.deferError(err)
			return
		}
		writes[i] = p
	}
	// The commit checks the owner again, and fails every write of the
	// pipeline's group for this shard then; checking here first fails only
	// this command.
	for _, m := range muts {
		if err := sh.CheckOwned(m.Key); err != nil {
			c.deferError(err)
			return
		}
	}
	c.pending.add(sh, kind, writes...)
	c.pending.replies[len(c.pending.replies)-1].ack = ack
}

// SET key value [EX seconds | PX milliseconds] [NX | XX]: +OK, or a null
// reply when NX or XX did not hold.
func cmdSet(c *conn, args [][]byte) {
	o, err := parseWriteOpts(args[3:], true, false)
	if err != nil {
		c.deferError(err)
		return
	}
	kind := replyOK
	if o.cond != store.CondNone {
		kind = replyCond
	}
	c.queue(kind, store.Mutation{Key: args[1], Value: args[2], TTL: o.ttl, Cond: o.cond})
}

// MSET key value [key value ...]
func cmdMSet(c *conn, args [][]byte) {
	if len(args)%2 != 1 {
		c.deferError(redisError("wrong number of arguments for 'mset' command"))
		return
	}
	muts := make([]store.Mutation, 0, len(args)/2)
	for i := 1; i < len(args); i += 2 {
		muts = append(muts, store.Mutation{Key: args[i], Value: args[i+1]})
	}
	c.queue(replyOK, muts...)
}

// DEL key [key ...]
func cmdDel(c *conn, args [][]byte) {
	muts := make([]store.Mutation, 0, len(args)-1)
	for _, k := range args[1:] {
		muts = append(muts, store.Mutation{Key: k, Delete: true})
	}
	c.queue(replyDelCount, muts...)
}

// VSET key value [EVENTTIME ns] [EX seconds | PX milliseconds] [ACK level]
func cmdVSet(c *conn, args [][]byte) {
	o, err := parseWriteOpts(args[3:], true, true)
	if err == nil && o.cond != store.CondNone {
		err = syntaxf("VSET takes no NX or XX")
	}
	if err != nil {
		c.deferError(err)
		return
	}
	c.queueAck(replyVersioned, o.ack, store.Mutation{Key: args[1], Value: args[2], TTL: o.ttl, EventTime: o.eventTime})
}

// VDEL key [EVENTTIME ns] [ACK level]
func cmdVDel(c *conn, args [][]byte) {
	o, err := parseWriteOpts(args[2:], false, true)
	if err != nil {
		c.deferError(err)
		return
	}
	c.queueAck(replyVersioned, o.ack, store.Mutation{Key: args[1], Delete: true, EventTime: o.eventTime})
}
