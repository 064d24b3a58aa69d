package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/vasto-kv/vasto/backup"
	"github.com/vasto-kv/vasto/lww"
)

// progressPrinter prints a backup's or a restore's progress to w at most
// once a second (and at each phase's last shard).
func progressPrinter(w io.Writer) func(backup.Progress) {
	var next time.Duration
	phase := ""
	return func(p backup.Progress) {
		if p.Phase != phase {
			phase, next = p.Phase, 0
		}
		if p.Elapsed < next && p.ShardsDone < p.Shards {
			return
		}
		next = p.Elapsed.Truncate(time.Second) + time.Second
		fmt.Fprintf(w, "%s: shards %d/%d, %d records, %.1f MB, %.0f records/s\n",
			p.Phase, p.ShardsDone, p.Shards, p.Records, float64(p.Bytes)/1e6, p.Rate())
	}
}

// runBackup: vasto backup KEYSPACE --to DIR.
func runBackup(ctx context.Context, e *env, args []string) error {
	var to *string
	var page, parallel *int
	cl, pos, err := clientCmd(ctx, e, "backup", args, 1, "vasto backup KEYSPACE --to DIR", func(fs *flag.FlagSet) {
		to = fs.String("to", "", "directory to write the backup to (created; must not hold a backup)")
		page = fs.Int("page", 1000, "records per dump request")
		parallel = fs.Int("parallel", 2, "shards copied at once")
	})
	if err != nil {
		return err
	}
	defer cl.Close()
	if *to == "" {
		return fmt.Errorf("%w: --to DIR is required", errUsage)
	}
	cfg := backup.DefaultConfig(pos[0], *to)
	cfg.PageSize, cfg.Parallel = *page, *parallel
	cfg.Progress = progressPrinter(e.stderr)
	cfg.Logger = e.rootLogger().Named("backup")
	if err := cl.WaitForServing(ctx, pos[0]); err != nil {
		return err
	}
	m, err := backup.Backup(ctx, cl, cfg)
	if err != nil {
		return err
	}
	took := m.Finished.Sub(m.Created)
	fmt.Fprintf(e.stdout, "backup of keyspace %s (dc %s) in %s: %d shards, %d records, %.1f MB in %s (%.0f records/s)\n",
		m.Keyspace, m.DC, *to, m.Shards, m.Records, float64(m.Bytes)/1e6, took.Round(time.Millisecond), rate(m.Records, took))
	for _, f := range m.Files {
		how := "point in time"
		if !f.PointInTime {
			how = "pages read one after the other"
		}
		fmt.Fprintf(e.stdout, "  shard %d from %s (%s, up to log index %d): %d records (%d live), digest %.16s\n",
			f.Shard, f.Store, how, f.LogLast, f.Records, f.Live, f.Digest)
	}
	return nil
}

func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// runRestore: vasto restore DIR [--keyspace NAME] [--shards N].
func runRestore(ctx context.Context, e *env, args []string) error {
	var ks *string
	var shards, replicas, page, parallel *int
	var check *bool
	cl, pos, err := clientCmd(ctx, e, "restore", args, 1, "vasto restore DIR [--keyspace NAME] [--shards N] [--replicas R] [--check]", func(fs *flag.FlagSet) {
		ks = fs.String("keyspace", "", "keyspace to restore into (default: the backup's)")
		shards = fs.Int("shards", 0, "shard count of a keyspace the restore creates (default: the backup's)")
		replicas = fs.Int("replicas", 1, "replicas of each shard of a keyspace the restore creates")
		page = fs.Int("page", 1000, "records per ingest request")
		parallel = fs.Int("parallel", 2, "backup shard files restored at once")
		check = fs.Bool("check", false, "only check the backup (manifest, checksums, records) and change nothing")
	})
	if err != nil {
		return err
	}
	defer cl.Close()
	progress := progressPrinter(e.stderr)
	if *check {
		m, err := backup.Check(pos[0], progress, func() time.Time { return time.Unix(0, lww.SystemClock().Now()) })
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "backup of keyspace %s (dc %s, %s): %d shards, %d records, %.1f MB: every file checks\n",
			m.Keyspace, m.DC, m.Created.Format(time.RFC3339), m.Shards, m.Records, float64(m.Bytes)/1e6)
		return nil
	}
	cfg := backup.DefaultRestoreConfig(pos[0])
	cfg.Keyspace, cfg.Shards, cfg.Replicas = *ks, *shards, *replicas
	cfg.PageSize, cfg.Parallel = *page, *parallel
	cfg.Progress = progress
	cfg.Logger = e.rootLogger().Named("restore")
	res, err := backup.Restore(ctx, cl, cfg)
	if res != nil {
		printRestore(e.stdout, res)
	}
	return err
}

func printRestore(w io.Writer, res *backup.RestoreResult) {
	m := res.Manifest
	verb := "into existing"
	if res.Created {
		verb = "into new"
	}
	fmt.Fprintf(w, "restored backup of %s (%d shards, %s) %s keyspace %s (%d shards): %d records in %s (%.0f records/s); per replica %d written, %d already held the same or a newer version\n",
		m.Keyspace, m.Shards, m.Created.Format(time.RFC3339), verb, res.Keyspace, res.Shards, m.Records,
		res.Elapsed.Round(time.Millisecond), res.Rate, res.Written, res.Skipped)
	if res.Existing > 0 {
		fmt.Fprintf(w, "note: keyspace %s held %d live records before: restored records were merged by last-writer-wins (newer versions kept), so it may differ from the backup\n",
			res.Keyspace, res.Existing)
	}
	ok := len(res.Checks) - len(res.Mismatches())
	how := "live record counts"
	if len(res.Checks) > 0 && res.Checks[0].ByDigest {
		how = "digests"
	}
	fmt.Fprintf(w, "verified %s: %d/%d replicas match the backup\n", how, ok, len(res.Checks))
	for _, ck := range res.Mismatches() {
		fmt.Fprintf(w, "  shard %d on %s differs: %d live records, backup %d", ck.Shard, ck.Store, ck.GotLive, ck.WantLive)
		if ck.ByDigest {
			fmt.Fprintf(w, ", digest %.16s, backup %.16s", ck.Got, ck.Want)
		}
		fmt.Fprintln(w)
	}
}
