package metrics

import (
	"context"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vasto-kv/vasto/store"
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(namespace+"_"+name, help, labels, nil)
}

// The metrics a store reads when scraped.
var (
	shardLabels = []string{"keyspace", "shard"}

	descWrites = desc("store_writes_total",
		"Client writes accepted by this store, by outcome (applied: won under LWW; not_applied: stale, lost to the version the key held).",
		"keyspace", "shard", "outcome")
	descRemoteWrites = desc("store_remote_changes_total",
		"Changes of other replicas (same DC and other DCs) applied to the shard, by outcome.",
		"keyspace", "shard", "outcome")
	descConflicts = desc("store_conflicts_total",
		"Writes decided against a version written in another DC, by side: won (the write replaced it) or lost (the key kept it).",
		"keyspace", "shard", "side")
	descCommits = desc("store_commits_total", "Group commits that decided writes.", shardLabels...)
	descOutbox  = desc("store_outbox_entries",
		"Change-log entries not yet published to the DC's stream and trimmed (the outbox).", shardLabels...)
	descOutboxAge = desc("store_outbox_oldest_age_seconds",
		"Age (by event time) of the oldest write in the outbox; 0 when it is empty.", shardLabels...)
	descServing  = desc("store_shard_serving", "1 when the shard serves reads, 0 while it catches up.", shardLabels...)
	descReadOnly = desc("store_shard_read_only", "1 while the shard is read-only after a failed write (e.g. a full disk).", shardLabels...)

	descMemtable   = desc("rocksdb_memtable_bytes", "Size of the shard's memtables (all column families).", shardLabels...)
	descSST        = desc("rocksdb_sst_bytes", "Size of the shard's live SST files (all column families).", shardLabels...)
	descPending    = desc("rocksdb_pending_compaction_bytes", "Bytes RocksDB estimates compaction must rewrite.", shardLabels...)
	descKeys       = desc("rocksdb_estimated_keys", "Keys RocksDB estimates the shard's data holds (tombstones included).", shardLabels...)
	descStopped    = desc("rocksdb_write_stopped", "1 while RocksDB stops the shard's writes.", shardLabels...)
	descDelayed    = desc("rocksdb_delayed_write_rate_bytes", "Rate (bytes/s) RocksDB slows the shard's writes to; 0 when not delayed.", shardLabels...)
	descCacheHits  = desc("rocksdb_block_cache_hits_total", "Block-cache hits of the shard since it was opened.", shardLabels...)
	descCacheMiss  = desc("rocksdb_block_cache_misses_total", "Block-cache misses of the shard since it was opened.", shardLabels...)
	descCacheRatio = desc("rocksdb_block_cache_hit_ratio", "Block-cache hits over lookups since the shard was opened.", shardLabels...)
	descStall      = desc("rocksdb_write_stall_seconds_total", "Time the shard's writes were stalled by RocksDB.", shardLabels...)

	descPeerLagEntries = desc("replica_lag_entries",
		"Changes of a same-DC peer's shard still to be delivered after the last batch applied.", "keyspace", "shard", "peer")
	descPeerLagSeconds = desc("replica_lag_seconds",
		"Age of the newest change applied from the peer while changes are pending; 0 when caught up.", "keyspace", "shard", "peer")
	descDCLagEntries = desc("dc_lag_entries",
		"Changes of a remote DC held in this DC's copy still to be delivered to this store after the last batch applied.", "remote_dc", "keyspace")
	descDCLagSeconds = desc("dc_lag_seconds",
		"Age of the newest remote change applied while changes are pending; 0 when caught up.", "remote_dc", "keyspace")

	descLinkUp = desc("dc_link_up",
		"1 when this DC's NATS server heard from the remote DC's change stream within 10 s, else 0.", "remote_dc")
	descLinkHeard = desc("dc_link_last_heard_seconds",
		"Seconds since this DC's NATS server last heard from the remote DC's change stream (-1: never).", "remote_dc")
	descCopyLag = desc("dc_copy_lag_messages",
		"Messages the local copy of the remote DC's stream was behind it when the last one arrived.", "remote_dc")
	descCopyMsgs = desc("dc_copy_messages", "Messages held in the local copy of the remote DC's stream.", "remote_dc")

	scrapeDescs = []*prometheus.Desc{descWrites, descRemoteWrites, descConflicts, descCommits, descOutbox, descOutboxAge,
		descServing, descReadOnly, descMemtable, descSST, descPending, descKeys, descStopped, descDelayed,
		descCacheHits, descCacheMiss, descCacheRatio, descStall,
		descPeerLagEntries, descPeerLagSeconds, descDCLagEntries, descDCLagSeconds,
		descLinkUp, descLinkHeard, descCopyLag, descCopyMsgs}
)

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// collectShards reads every open shard's counters and RocksDB figures.
func collectShards(ch chan<- prometheus.Metric, e *store.Engine, now int64) {
	for _, id := range e.Shards() {
		sh, err := e.Shard(id.Keyspace, id.Shard)
		if err != nil {
			continue
		}
		ks, n := id.Keyspace, strconv.FormatUint(uint64(id.Shard), 10)
		st := sh.Stats()
		ch <- counter(descWrites, float64(st.Applied), ks, n, "applied")
		ch <- counter(descWrites, float64(st.NotApplied), ks, n, "not_applied")
		ch <- counter(descRemoteWrites, float64(st.RemoteApplied), ks, n, "applied")
		ch <- counter(descRemoteWrites, float64(st.RemoteNotApplied), ks, n, "not_applied")
		ch <- counter(descConflicts, float64(st.ConflictsWon), ks, n, "won")
		ch <- counter(descConflicts, float64(st.ConflictsLost), ks, n, "lost")
		ch <- counter(descCommits, float64(st.Commits), ks, n)

		first, last := sh.LogBounds()
		var depth, age float64
		if last >= first {
			depth = float64(last - first + 1)
			if t, ok := sh.OldestLogTime(); ok && now > t {
				age = float64(now-t) / 1e9
			}
		}
		ch <- gauge(descOutbox, depth, ks, n)
		ch <- gauge(descOutboxAge, age, ks, n)
		ch <- gauge(descServing, boolFloat(sh.Serving()), ks, n)
		ch <- gauge(descReadOnly, boolFloat(sh.ReadOnly() != ""), ks, n)
		collectDB(ch, sh.DBStats(), ks, n)
	}
}

func collectDB(ch chan<- prometheus.Metric, db store.DBStats, ks, n string) {
	ch <- gauge(descMemtable, float64(db.MemtableBytes), ks, n)
	ch <- gauge(descSST, float64(db.SSTBytes), ks, n)
	ch <- gauge(descPending, float64(db.PendingCompactionBytes), ks, n)
	ch <- gauge(descKeys, float64(db.EstimatedKeys), ks, n)
	ch <- gauge(descStopped, boolFloat(db.WriteStopped), ks, n)
	ch <- gauge(descDelayed, float64(db.DelayedWriteRate), ks, n)
	if !db.Statistics {
		return
	}
	ch <- counter(descCacheHits, float64(db.BlockCacheHits), ks, n)
	ch <- counter(descCacheMiss, float64(db.BlockCacheMisses), ks, n)
	if lookups := db.BlockCacheHits + db.BlockCacheMisses; lookups > 0 {
		ch <- gauge(descCacheRatio, float64(db.BlockCacheHits)/float64(lookups), ks, n)
	}
	ch <- counter(descStall, float64(db.StallMicros)/1e6, ks, n)
}

// collectLinks reads the state of the copies of the remote DCs' streams.
func collectLinks(ch chan<- prometheus.Metric, f LinkStatus) {
	ctx, cancel := context.WithTimeout(context.Background(), linkStatusTimeout)
	defer cancel()
	infos, err := f(ctx)
	if err != nil {
		// The local NATS server does not answer: no link can be known up.
		return
	}
	for _, in := range infos {
		up := in.Exists && in.Error == "" && in.Active >= 0 && in.Active <= LinkDownAfter
		ch <- gauge(descLinkUp, boolFloat(up), in.RemoteDC)
		heard := -1.0
		if in.Active >= 0 {
			heard = in.Active.Seconds()
		}
		ch <- gauge(descLinkHeard, heard, in.RemoteDC)
		ch <- gauge(descCopyLag, float64(in.Lag), in.RemoteDC)
		ch <- gauge(descCopyMsgs, float64(in.Msgs), in.RemoteDC)
	}
}
