package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vasto-kv/vasto/client"
	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/topology"
)

// Config configures a backup.
type Config struct {
	// Keyspace is the keyspace to copy and Dir the directory to write
	// (created if missing; it must not hold a backup already).
	Keyspace string
	Dir      string
	// PageSize is the number of records a dump request returns.
	PageSize int
	// Parallel is how many shards are copied at once.
	Parallel int
	// Clock gives the backup's creation time.
	Clock lww.Clock
	// Progress, when set, is called after every page (from several
	// goroutines, one call at a time).
	Progress func(Progress)
	Logger   hclog.Logger
}

// DefaultConfig returns the configuration of a backup of keyspace to dir.
func DefaultConfig(keyspace, dir string) Config {
	return Config{
		Keyspace: keyspace,
		Dir:      dir,
		PageSize: 1000,
		Parallel: 2,
		Clock:    lww.SystemClock(),
		Logger:   hclog.NewNullLogger(),
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case !keyspaceName.MatchString(c.Keyspace):
		return fmt.Errorf("%w: keyspace name %q", ErrInvalid, c.Keyspace)
	case c.Dir == "":
		return fmt.Errorf("%w: no directory", ErrInvalid)
	case c.PageSize <= 0 || c.PageSize > 100000:
		return fmt.Errorf("%w: page size %d (1..100000)", ErrInvalid, c.PageSize)
	case c.Parallel <= 0:
		return fmt.Errorf("%w: parallel %d", ErrInvalid, c.Parallel)
	case c.Clock == nil || c.Logger == nil:
		return fmt.Errorf("%w: no clock or logger", ErrInvalid)
	}
	return nil
}

func (c Config) now() time.Time { return time.Unix(0, c.Clock.Now()).UTC() }

// Backup copies keyspace cfg.Keyspace of the DC c follows to cfg.Dir, one
// healthy caught-up replica per shard, and returns the manifest it wrote.
func Backup(ctx context.Context, c *client.Client, cfg Config) (*Manifest, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(cfg.Dir, ManifestName)); err == nil {
		return nil, fmt.Errorf("%w: %s", ErrExists, cfg.Dir)
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, err
	}
	t := c.Topology()
	if t == nil {
		return nil, fmt.Errorf("%w: no topology", ErrUnavailable)
	}
	ks, ok := t.Keyspaces[cfg.Keyspace]
	if !ok {
		return nil, fmt.Errorf("%w: %q", client.ErrUnknownKeyspace, cfg.Keyspace)
	}
	if ks.Resize != nil {
		return nil, fmt.Errorf("%w: %s", ErrResizing, cfg.Keyspace)
	}
	m := &Manifest{
		Format:   FormatVersion,
		Keyspace: cfg.Keyspace,
		DC:       t.DC,
		Shards:   ks.Shards,
		Created:  cfg.now(),
		Files:    make([]ShardFile, ks.Shards),
	}
	m.DigestAt = m.Created.UnixNano()
	tr := newTracker("backup", ks.Shards, cfg.now, cfg.Progress)
	if err := forShards(ctx, ks.Shards, cfg.Parallel, func(ctx context.Context, shard uint32) error {
		f, err := copyShard(ctx, c, cfg, m, shard, tr)
		m.Files[shard] = f
		return err
	}); err != nil {
		return nil, err
	}
	for _, f := range m.Files {
		m.Records += f.Records
		m.Bytes += f.Bytes
	}
	m.Finished = cfg.now()
	if err := writeManifest(cfg.Dir, m); err != nil {
		return nil, err
	}
	cfg.Logger.Info("backup written", "keyspace", m.Keyspace, "shards", m.Shards, "records", m.Records, "bytes", m.Bytes, "dir", cfg.Dir)
	return m, nil
}

// forShards runs fn for shards 0..n-1, parallel at once, and returns the
// first error (the others are then cancelled).
func forShards(ctx context.Context, n, parallel int, fn func(context.Context, uint32) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	next := make(chan uint32)
	for range min(parallel, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for shard := range next {
				if err := fn(ctx, shard); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					cancel()
				}
			}
		}()
	}
	for i := range n {
		select {
		case next <- uint32(i):
			continue
		case <-ctx.Done():
		}
		break
	}
	close(next)
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// replicasOf lists the healthy replicas of shard that serve it (caught up),
// preferred first.
func replicasOf(t *topology.Topology, ks *topology.Keyspace, shard uint32) []string {
	name := ks.Name + "/" + strconv.FormatUint(uint64(shard), 10)
	var out []string
	for _, id := range ks.Placement[shard] {
		if s := t.Stores[id]; s != nil && s.Healthy && slices.Contains(s.Serving, name) {
			out = append(out, id)
		}
	}
	return out
}

// copyShard writes the file of shard from the first replica that can
// serve the whole dump.
func copyShard(ctx context.Context, c *client.Client, cfg Config, m *Manifest, shard uint32, tr *tracker) (ShardFile, error) {
	var errs []error
	for attempt := 0; attempt < 3; attempt++ {
		t := c.Topology()
		ks, ok := t.Keyspaces[cfg.Keyspace]
		if !ok || ks.Shards != m.Shards || ks.Resize != nil {
			return ShardFile{}, fmt.Errorf("%w: keyspace %s changed during the backup", ErrUnavailable, cfg.Keyspace)
		}
		for _, store := range replicasOf(t, ks, shard) {
			f, err := dumpShard(ctx, c, cfg, m, shard, store, tr)
			if err == nil {
				return f, nil
			}
			if ctx.Err() != nil {
				return ShardFile{}, ctx.Err()
			}
			if final(err) {
				return ShardFile{}, fmt.Errorf("%s/%d on %s: %w", cfg.Keyspace, shard, store, err)
			}
			cfg.Logger.Warn("shard copy failed, trying another replica", "shard", shard, "store", store, "error", err)
			errs = append(errs, fmt.Errorf("%s: %w", store, err))
		}
		if err := c.WaitForServing(ctx, cfg.Keyspace); err != nil {
			return ShardFile{}, err
		}
	}
	return ShardFile{}, fmt.Errorf("%w: %s/%d: %w", ErrUnavailable, cfg.Keyspace, shard, errors.Join(errs...))
}

// final reports whether err will not go away on another replica or a
// later attempt: a store's error reply that is not retryable (NOPERM, a
// syntax error), or an authentication failure.
func final(err error) bool {
	var se *client.StoreError
	return errors.Is(err, client.ErrAuth) || errors.Is(err, client.ErrNoPerm) ||
		(errors.As(err, &se) && !se.Retryable())
}

// dumpShard copies shard from store to its file: one point in time of the
// replica's data (VSNAPSHOT, then VDUMP ... SNAPSHOT id page by page), or,
// from a store without VSNAPSHOT, pages read one after the other.
func dumpShard(ctx context.Context, c *client.Client, cfg Config, m *Manifest, shard uint32, store string, tr *tracker) (ShardFile, error) {
	f := ShardFile{Shard: shard, File: fileName(shard), Store: store, Started: cfg.now()}
	var err error
	if f.LogFirst, f.LogLast, err = logInfo(ctx, c, cfg.Keyspace, shard, store); err != nil {
		return f, err
	}
	snap, logLast, err := openSnapshot(ctx, c, cfg.Keyspace, shard, store)
	if err != nil {
		return f, err
	}
	if snap != "" {
		f.PointInTime, f.LogLast = true, logLast
		defer releaseSnapshot(c, cfg.Keyspace, shard, store, snap)
	}
	fw, err := createFile(filepath.Join(cfg.Dir, f.File))
	if err != nil {
		return f, err
	}
	d := lww.NewDigest()
	args := [][]byte{[]byte("VDUMP"), []byte("LIMIT"), []byte(strconv.Itoa(cfg.PageSize)),
		[]byte("SHARDS"), []byte(strconv.Itoa(m.Shards)), []byte("TARGET"), []byte(strconv.FormatUint(uint64(shard), 10))}
	if snap != "" {
		args = append(args, []byte("SNAPSHOT"), []byte(snap))
	}
	var start []byte
	for {
		a := args
		if start != nil {
			a = append(slices.Clip(args), []byte("START"), start)
		}
		val, err := c.DoOn(ctx, cfg.Keyspace, shard, store, a...)
		if err != nil {
			fw.abort()
			return f, err
		}
		next, changes, err := parseDump(val)
		if err != nil {
			fw.abort()
			return f, err
		}
		before := fw.n
		for _, ch := range changes {
			if err := fw.add(ch); err != nil {
				fw.abort()
				return f, err
			}
			f.Records++
			f.MaxEventTime = max(f.MaxEventTime, ch.Record.Version.Time)
			if ch.Record.Kind == lww.KindValue && (ch.Record.ExpiresAt == 0 || ch.Record.ExpiresAt > m.DigestAt) {
				d.Add(ch.Key, ch.Record.Value, ch.Record.Version.Time)
				f.Live++
			}
		}
		tr.add(int64(len(changes)), fw.n-before, false)
		if next == nil {
			break
		}
		start = next
	}
	if _, f.LogLastAfter, err = logInfo(ctx, c, cfg.Keyspace, shard, store); err != nil {
		fw.abort()
		return f, err
	}
	if f.Bytes, f.SHA256, err = fw.finish(); err != nil {
		return f, err
	}
	f.Digest = d.Sum()
	f.Finished = cfg.now()
	tr.add(0, 0, true)
	return f, nil
}

// openSnapshot takes a dump snapshot of store's replica of shard and
// returns its id and the last change-log index it holds; id "" when the
// store has no VSNAPSHOT (an older version).
func openSnapshot(ctx context.Context, c *client.Client, ks string, shard uint32, store string) (string, uint64, error) {
	val, err := c.DoOn(ctx, ks, shard, store, []byte("VSNAPSHOT"))
	var se *client.StoreError
	if errors.As(err, &se) && strings.Contains(strings.ToLower(se.Error()), "unknown command") {
		return "", 0, nil
	}
	if err != nil {
		return "", 0, err
	}
	v, ok := val.([]any)
	if !ok || len(v) != 2 {
		return "", 0, fmt.Errorf("backup: VSNAPSHOT reply %v", val)
	}
	id, ok1 := v[0].(int64)
	last, ok2 := v[1].(int64)
	if !ok1 || !ok2 || id <= 0 || last < 0 {
		return "", 0, fmt.Errorf("backup: VSNAPSHOT reply %v", val)
	}
	return strconv.FormatInt(id, 10), uint64(last), nil
}

// releaseSnapshot releases a snapshot the dump did not finish (the store
// releases it with the last page, and after 5 idle minutes in any case).
func releaseSnapshot(c *client.Client, ks string, shard uint32, store, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = c.DoOn(ctx, ks, shard, store, []byte("VSNAPSHOT"), []byte("RELEASE"), []byte(id))
}

// logInfo returns the change-log bounds of store's replica of shard.
func logInfo(ctx context.Context, c *client.Client, ks string, shard uint32, store string) (first, last uint64, err error) {
	val, err := c.DoOn(ctx, ks, shard, store, []byte("VLOGINFO"))
	if err != nil {
		return 0, 0, err
	}
	v, ok := val.([]any)
	if !ok || len(v) != 2 {
		return 0, 0, fmt.Errorf("backup: VLOGINFO reply %v", val)
	}
	a, ok1 := v[0].(int64)
	b, ok2 := v[1].(int64)
	if !ok1 || !ok2 || a < 0 || b < 0 {
		return 0, 0, fmt.Errorf("backup: VLOGINFO reply %v", val)
	}
	return uint64(a), uint64(b), nil
}

// parseDump reads a VDUMP reply: the next start key (nil at the end) and
// the page's changes.
func parseDump(val any) (next []byte, changes []lww.Change, err error) {
	v, ok := val.([]any)
	if !ok || len(v) != 2 {
		return nil, nil, fmt.Errorf("backup: VDUMP reply of %T", val)
	}
	if s, ok := v[0].(string); ok {
		next = []byte(s)
	} else if v[0] != nil {
		return nil, nil, fmt.Errorf("backup: VDUMP next of %T", v[0])
	}
	flat, ok := v[1].([]any)
	if !ok || len(flat)%2 != 0 {
		return nil, nil, errors.New("backup: VDUMP entries")
	}
	changes = make([]lww.Change, 0, len(flat)/2)
	for i := 0; i < len(flat); i += 2 {
		k, _ := flat[i].(string)
		r, _ := flat[i+1].(string)
		rec, err := lww.DecodeRecord([]byte(r))
		if err != nil {
			return nil, nil, fmt.Errorf("backup: VDUMP record of %q: %w", k, err)
		}
		changes = append(changes, lww.Change{Key: []byte(k), Record: rec})
	}
	return next, changes, nil
}
