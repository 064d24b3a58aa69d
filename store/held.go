package store

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"
)

// asideDir is where shards set aside are kept, under the data directory. Its
// name is not a valid keyspace name, so the engine never opens it as one.
const asideDir = ".aside"

// metaReplicas is the replica count of the keyspace when the shard was last
// placed: with the layout (metaLayout) and the epoch, what a master that lost
// its topology rebuilds the keyspace from.
const metaReplicas = "replicas"

// HeldInfo describes a shard this store holds, for the heartbeat.
type HeldInfo struct {
	ID ShardID
	// Epoch is the keyspace incarnation the shard belongs to (0: never
	// placed by a cluster).
	Epoch uint64
	// Shards is the layout's shard count and Replicas the keyspace's
	// replica count when the shard was last placed (0: unknown).
	Shards   int
	Replicas int
}

// Held describes every open shard, in order.
func (e *Engine) Held() []HeldInfo {
	var out []HeldInfo
	for _, id := range e.Shards() {
		sh, err := e.Shard(id.Keyspace, id.Shard)
		if err != nil {
			continue
		}
		h := HeldInfo{ID: id, Epoch: sh.Epoch()}
		if v, err := sh.Layout(); err == nil {
			h.Shards = int(min(v, 1<<20))
		}
		if v, err := sh.Replicas(); err == nil {
			h.Replicas = int(min(v, 1<<10))
		}
		out = append(out, h)
	}
	return out
}

// SetAside closes a shard and moves its files out of the way, under
// <dir>/.aside/<keyspace>.<shard>.<tag>.<unix time>, instead of deleting
// them: the shard's number is free for a new shard, and the old data is
// still there for an operator. It returns the new path.
func (e *Engine) SetAside(keyspace string, shard uint32, tag string) (string, error) {
	id := ShardID{Keyspace: keyspace, Shard: shard}
	if err := e.detach(id); err != nil {
		return "", err
	}
	root := filepath.Join(e.cfg.Dir, asideDir)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("store: set aside %s: %w", id, err)
	}
	to := filepath.Join(root, keyspace+"."+strconv.FormatUint(uint64(shard), 10)+"."+tag+"."+
		strconv.FormatInt(time.Now().Unix(), 10))
	if err := os.Rename(e.shardDir(id), to); err != nil {
		return "", fmt.Errorf("store: set aside %s: %w", id, err)
	}
	if err := syncDir(root); err != nil {
		return "", err
	}
	e.log.Warn("shard set aside", "keyspace", keyspace, "shard", shard, "path", to)
	return to, nil
}

// AsideShards lists the shards set aside (their directory names), sorted.
func (e *Engine) AsideShards() []string {
	ents, err := os.ReadDir(filepath.Join(e.cfg.Dir, asideDir))
	if err != nil {
		return nil
	}
	var out []string
	for _, ent := range ents {
		if ent.IsDir() {
			out = append(out, ent.Name())
		}
	}
	sort.Strings(out)
	return out
}

// SetUnplaced records the shards held here that the cluster's topology
// does not place here, with why, for INFO. The cluster agent sets it.
func (e *Engine) SetUnplaced(m map[ShardID]string) {
	e.notesMu.Lock()
	e.unplaced = m
	e.notesMu.Unlock()
}

// Unplaced returns what SetUnplaced recorded.
func (e *Engine) Unplaced() map[ShardID]string {
	e.notesMu.Lock()
	defer e.notesMu.Unlock()
	return e.unplaced
}

// syncDir fsyncs a directory, making a rename in it durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("store: sync %s: %w", dir, err)
	}
	defer func() { _ = f.Close() }()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("store: sync %s: %w", dir, err)
	}
	return nil
}
