package client

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/vasto-kv/vasto/topology"
	"github.com/vasto-kv/vasto/wire"
)

// Command is one store command that Do routes: sent, after "VUSE keyspace
// shard", to a replica of the shard of Key, or of Shard when Key is nil.
// It is how a proxy speaking the Redis protocol for a whole DC (the
// gateway) reuses the client's routing, failover and retries.
type Command struct {
	// Args is the command and its arguments, e.g. GET key.
	Args [][]byte
	// Key routes the command: its shard under the keyspace's current
	// layout. Nil routes to Shard.
	Key []byte
	// Shard is the shard of a command without a Key (DBSIZE, SCAN of one
	// shard).
	Shard uint32
	// Write sends the command to the shard's preferred writable replica;
	// others go to a replica that serves the shard. A write is retried with
	// the same arguments after a failure whose outcome is unknown, so it
	// may apply twice unless it carries its own event time.
	Write bool
}

// Reply is the outcome of one Command.
type Reply struct {
	// Val is the store's reply: string (simple or bulk), int64, []any, or
	// nil for a null bulk or null array (as go-redis parses RESP2; an error
	// inside an array is an error value).
	Val any
	// Err is the store's error reply (a *StoreError: ERR, TOOLARGE,
	// BADTIME, ... are final) or why the command could not be answered
	// (ErrUnavailable, ErrNoReplica, ErrMoved, a context error).
	Err error
}

// Do sends cmds on keyspace ks as the client's own operations do: grouped
// by shard, each shard's commands pipelined in order on one connection to
// one replica (VUSE first), the shards in parallel, the commands that fail
// retryably (connection errors, NOSHARD, CLOSED, CATCHUP, MOVED after a
// resize, ...) sent again on the newest topology. Replies are in input
// order. The error it returns fails every command: a closed client, an
// unknown keyspace, ctx.
//
// The commands of one shard reach the store as one pipeline, so the writes
// among them commit in one batch when nothing else interleaves; commands of
// different shards are independent.
func (c *Client) Do(ctx context.Context, ks string, cmds []Command) ([]Reply, error) {
	if err := checkKeyspace(ks); err != nil {
		return nil, err
	}
	if len(cmds) == 0 {
		return nil, nil
	}
	write, blocking := false, false
	for i, cmd := range cmds {
		if len(cmd.Args) == 0 {
			return nil, itemErr(len(cmds), i, fmt.Errorf("%w: empty command", ErrInvalid))
		}
		if cmd.Key != nil {
			if err := checkKey(cmd.Key); err != nil {
				return nil, itemErr(len(cmds), i, err)
			}
		}
		write = write || cmd.Write
		blocking = blocking || isBlocking(cmd.Args)
	}
	replies := make([]Reply, len(cmds))
	o := &op{
		ks:       ks,
		write:    write,
		blocking: blocking,
		n:        len(cmds),
		shardOf: func(k *topology.Keyspace, i int) (uint32, error) {
			if cmds[i].Key != nil {
				return topology.ShardOf(cmds[i].Key, k.Shards), nil
			}
			if int(cmds[i].Shard) >= k.Shards {
				return 0, fmt.Errorf("%w: keyspace %s has %d shards, not shard %d", ErrInvalid, ks, k.Shards, cmds[i].Shard)
			}
			return cmds[i].Shard, nil
		},
		add: func(b *cmdBuf, i int) { b.addBytes(cmds[i].Args) },
		done: func(i int, v any, _ *topology.Store, _ uint32) error {
			replies[i].Val = v
			return nil
		},
	}
	errs, err := c.run(ctx, o)
	if err != nil {
		return nil, err
	}
	for i, err := range errs {
		replies[i].Err = err
	}
	return replies, nil
}

// ShardOf returns the shard of key in keyspace ks under the latest
// topology, and the keyspace's shard count.
func (c *Client) ShardOf(ks string, key []byte) (shard uint32, shards int, err error) {
	n, err := c.Shards(ks)
	if err != nil {
		return 0, 0, err
	}
	return topology.ShardOf(key, n), n, nil
}

// Shards returns the shard count of keyspace ks under the latest topology.
func (c *Client) Shards(ks string) (int, error) {
	_, k, err := c.keyspace(ks)
	if err != nil {
		return 0, err
	}
	return k.Shards, nil
}

// TopologyVersion returns the version of the topology the client routes by.
func (c *Client) TopologyVersion() uint64 {
	if t := c.top.Load(); t != nil {
		return t.Version
	}
	return 0
}

// blockingCommands wait server-side for an event (Redis' blocking commands,
// WAIT).
var blockingCommands = map[string]bool{
	"WAIT": true, "WAITAOF": true, "BLPOP": true, "BRPOP": true, "BLMOVE": true, "BLMPOP": true,
	"BRPOPLPUSH": true, "BZPOPMIN": true, "BZPOPMAX": true, "BZMPOP": true, "XREAD": true, "XREADGROUP": true,
}

// isBlocking reports whether a command may wait server-side: a blocking
// command, a read with AFTER (it waits for a write), a write with ACK at a
// level above local (it waits for the change log or a replica). Such
// commands go on a dedicated connection.
func isBlocking(args [][]byte) bool {
	if len(args) == 0 {
		return false
	}
	if blockingCommands[strings.ToUpper(string(args[0]))] {
		return true
	}
	for j := 1; j < len(args); j++ {
		a := args[j]
		switch {
		case bytes.EqualFold(a, []byte("AFTER")):
			return true
		case bytes.EqualFold(a, []byte("ACK")) && j+1 < len(args) && !bytes.EqualFold(args[j+1], []byte(wire.AckLocal)):
			return true
		}
	}
	return false
}
