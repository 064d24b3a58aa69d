package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vasto-kv/vasto/backup"
	"github.com/vasto-kv/vasto/client"
)

// BenchmarkBackupRestore loads VASTO_BACKUP_KEYS keys (default 200 000,
// 100-byte values) into a keyspace of 4 shards x 2 replicas in a DC of 3
// stores through the Go client (the baseline: records/s written), backs
// it up, deletes the keyspace, restores it with 4 shards, then restores
// the backup again into a keyspace of 3 shards, and reports records/s of
// each (whole restore: checking the files, creating the keyspace and
// waiting for its replicas, ingesting, verifying; and the ingest alone):
//
//	go test -run='^$' -bench=BackupRestore -benchtime=1x ./internal/e2e/
func BenchmarkBackupRestore(b *testing.B) {
	n := envInt("VASTO_BACKUP_KEYS", 200000)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		c := startCluster(b, 3, nil)
		cl := newClient(b, c)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		if err := cl.CreateKeyspace(ctx, "bb", 4, 2); err != nil {
			b.Fatal(err)
		}
		if err := cl.WaitForServing(ctx, "bb"); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		loadKeys(ctx, b, cl, "bb", n)
		load := time.Since(start)

		dir := filepath.Join(b.TempDir(), "bb")
		start = time.Now()
		m, err := backup.Backup(ctx, cl, backup.DefaultConfig("bb", dir))
		if err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		deleteKeyspace(b, cl, "bb")
		// restore returns the whole restore's time (checking the files,
		// creating the keyspace, ingesting, verifying) and the ingest's.
		restore := func(ks string, shards int) (total, ingest time.Duration) {
			cfg := backup.DefaultRestoreConfig(dir)
			cfg.Keyspace, cfg.Shards, cfg.Replicas = ks, shards, 2
			start := time.Now()
			res, err := backup.Restore(ctx, cl, cfg)
			if err != nil {
				b.Fatal(err)
			}
			return time.Since(start), res.Elapsed
		}
		same, sameIngest := restore("bb", 4)
		other, otherIngest := restore("bb3", 3)
		b.StopTimer()
		cancel()
		b.ReportMetric(float64(n)/load.Seconds(), "load-rec/s")
		b.ReportMetric(float64(m.Records)/took.Seconds(), "backup-rec/s")
		b.ReportMetric(float64(m.Records)/same.Seconds(), "restore-rec/s")
		b.ReportMetric(float64(m.Records)/sameIngest.Seconds(), "restore-ingest-rec/s")
		b.ReportMetric(float64(m.Records)/other.Seconds(), "restore-3sh-rec/s")
		b.ReportMetric(float64(m.Records)/otherIngest.Seconds(), "restore-3sh-ingest-rec/s")
		b.ReportMetric(float64(m.Bytes)/1e6, "backup-MB")
	}
}

// loadKeys writes n keys with 100-byte values in batches of 500 from four
// writers.
func loadKeys(ctx context.Context, b *testing.B, cl *client.Client, ks string, n int) {
	const writers, batch = 4, 500
	value := make([]byte, 100)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w * batch; i < n; i += writers * batch {
				kvs := make([]client.KV, 0, batch)
				for j := i; j < min(i+batch, n); j++ {
					kvs = append(kvs, client.KV{Key: fmt.Appendf(nil, "key%09d", j), Value: value})
				}
				if _, err := cl.BatchPut(ctx, ks, kvs); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}
