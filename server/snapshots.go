package server

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vasto-kv/vasto/store"
)

// Limits of the dump snapshots a server keeps open for paged dumps
// (VSNAPSHOT, VDUMP ... SNAPSHOT id): each pins the data it sees, so there
// are few, and one not read for snapshotIdle is released.
const (
	maxSnapshots  = 16
	snapshotIdle  = 5 * time.Minute
	snapshotUsage = "VSNAPSHOT | VSNAPSHOT RELEASE id"
)

var errNoSnapshot = errors.New("no such dump snapshot (released, expired, or of another shard)")

// snapshots are the open dump snapshots by id.
type snapshots struct {
	mu   sync.Mutex
	next uint64
	m    map[uint64]*snapshot
}

type snapshot struct {
	sn       *store.DumpSnapshot
	lastUsed int64 // ns, the engine's clock
}

// open takes a snapshot of sh and returns its id, after releasing the
// snapshots idle since before now-snapshotIdle.
func (ss *snapshots) open(sh *store.Shard, now int64) (uint64, *store.DumpSnapshot, error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for id, e := range ss.m {
		if now-e.lastUsed > int64(snapshotIdle) {
			e.sn.Release()
			delete(ss.m, id)
		}
	}
	if len(ss.m) >= maxSnapshots {
		return 0, nil, fmt.Errorf("%w: %d dump snapshots open already", errSyntax, maxSnapshots)
	}
	sn, err := sh.NewDumpSnapshot()
	if err != nil {
		return 0, nil, err
	}
	if ss.m == nil {
		ss.m = map[uint64]*snapshot{}
	}
	ss.next++
	ss.m[ss.next] = &snapshot{sn: sn, lastUsed: now}
	return ss.next, sn, nil
}

// get returns snapshot id of sh.
func (ss *snapshots) get(id uint64, sh *store.Shard, now int64) (*store.DumpSnapshot, error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	e, ok := ss.m[id]
	if !ok || e.sn.Shard() != sh {
		return nil, fmt.Errorf("%w: %w", errSyntax, errNoSnapshot)
	}
	e.lastUsed = now
	return e.sn, nil
}

// release releases snapshot id; it reports whether there was one.
func (ss *snapshots) release(id uint64) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	e, ok := ss.m[id]
	if ok {
		e.sn.Release()
		delete(ss.m, id)
	}
	return ok
}

// VSNAPSHOT: takes a point-in-time snapshot of the selected shard for a
// paged dump and answers [id, last change-log index it holds]; VDUMP ...
// SNAPSHOT id then reads it, and the page that ends the dump releases it.
// VSNAPSHOT RELEASE id releases it earlier (1: released, 0: no such
// snapshot). A snapshot not read for 5 minutes is released; a server keeps
// at most 16.
func cmdVSnapshot(c *conn, args [][]byte) {
	switch {
	case len(args) == 3 && strings.EqualFold(string(args[1]), "RELEASE"):
		id, err := strconv.ParseUint(string(args[2]), 10, 64)
		if err != nil {
			c.writeErr(syntaxf("%s", snapshotUsage))
			return
		}
		if c.srv.snaps.release(id) {
			c.w.WriteInt(1)
		} else {
			c.w.WriteInt(0)
		}
		return
	case len(args) != 1:
		c.writeErr(syntaxf("%s", snapshotUsage))
		return
	}
	sh, err := c.target()
	if err != nil {
		c.writeErr(err)
		return
	}
	id, sn, err := c.srv.snaps.open(sh, c.srv.cfg.Engine.Config().Clock.Now())
	if err != nil {
		c.writeErr(err)
		return
	}
	c.w.WriteArray(2)
	c.w.WriteInt(int64(id))
	c.w.WriteInt(int64(sn.LogLast))
}

// dumpSnapshot serves a VDUMP page from snapshot id of sh, releasing the
// snapshot with the last page.
func (c *conn) dumpSnapshot(id uint64, sh *store.Shard, start []byte, shards int, target uint32, limit int) (store.ScanResult, error) {
	sn, err := c.srv.snaps.get(id, sh, c.srv.cfg.Engine.Config().Clock.Now())
	if err != nil {
		return store.ScanResult{}, err
	}
	res, err := sn.DumpShardOf(start, shards, target, limit)
	if err != nil || res.Next == nil {
		c.srv.snaps.release(id)
	}
	return res, err
}

// releaseAll releases every snapshot (the server stops: no connection can
// read them any more).
func (ss *snapshots) releaseAll() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for id, e := range ss.m {
		e.sn.Release()
		delete(ss.m, id)
	}
}
