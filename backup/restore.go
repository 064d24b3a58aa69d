package backup

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vasto-kv/vasto/client"
	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/topology"
)

// RestoreConfig configures a restore.
type RestoreConfig struct {
	// Dir holds the backup.
	Dir string
	// Keyspace is the keyspace to restore into ("": the backup's).
	Keyspace string
	// Shards is the shard count of a keyspace the restore creates (0: the
	// backup's); for an existing keyspace it must be 0 or its count.
	Shards int
	// Replicas is the replica count of a keyspace the restore creates.
	Replicas int
	// PageSize is the number of records one VINGEST carries.
	PageSize int
	// Parallel is how many shard files are restored at once.
	Parallel int
	// Attempts bounds the tries of one page on one replica.
	Attempts int
	// Wait bounds the wait for every replica of every shard to be healthy
	// and to hold the keyspace (after it is created, or a store restarted).
	Wait  time.Duration
	Clock lww.Clock
	// Progress, when set, is called after every page.
	Progress func(Progress)
	Logger   hclog.Logger
}

// DefaultRestoreConfig returns the configuration of a restore of the
// backup in dir.
func DefaultRestoreConfig(dir string) RestoreConfig {
	return RestoreConfig{
		Dir:      dir,
		Replicas: 1,
		PageSize: 1000,
		Parallel: 2,
		Attempts: 10,
		Wait:     2 * time.Minute,
		Clock:    lww.SystemClock(),
		Logger:   hclog.NewNullLogger(),
	}
}

// Validate checks the configuration.
func (c RestoreConfig) Validate() error {
	switch {
	case c.Dir == "":
		return fmt.Errorf("%w: no directory", ErrInvalid)
	case c.Keyspace != "" && !keyspaceName.MatchString(c.Keyspace):
		return fmt.Errorf("%w: keyspace name %q", ErrInvalid, c.Keyspace)
	case c.Shards < 0 || c.Replicas <= 0:
		return fmt.Errorf("%w: %d shards, %d replicas", ErrInvalid, c.Shards, c.Replicas)
	case c.PageSize <= 0 || c.PageSize > 100000:
		return fmt.Errorf("%w: page size %d (1..100000)", ErrInvalid, c.PageSize)
	case c.Parallel <= 0 || c.Attempts <= 0 || c.Wait <= 0:
		return fmt.Errorf("%w: parallel %d, attempts %d", ErrInvalid, c.Parallel, c.Attempts)
	case c.Clock == nil || c.Logger == nil:
		return fmt.Errorf("%w: no clock or logger", ErrInvalid)
	}
	return nil
}

func (c RestoreConfig) now() time.Time { return time.Unix(0, c.Clock.Now()).UTC() }

// RestoreResult tells what a restore did.
type RestoreResult struct {
	Manifest *Manifest
	Keyspace string
	// Shards is the restored keyspace's shard count.
	Shards int
	// Created is set when the restore created the keyspace.
	Created bool
	// Existing is how many live records the keyspace held before the
	// restore (0 when created). Restored records were merged with them by
	// last-writer-wins, so the verification may then find differences.
	Existing int64
	// Written and Skipped count records per replica: written, or dropped
	// because the replica held the same or a newer version.
	Written, Skipped int64
	// Checks are the verification of every replica of every shard.
	Checks []ShardCheck
	// Elapsed is the time the restore took, Rate its records per second
	// (records of the backup, not per replica).
	Elapsed time.Duration
	Rate    float64
}

// ShardCheck is the verification of one replica of one restored shard.
type ShardCheck struct {
	Shard uint32
	Store string
	// ByDigest is set when the digests were compared (same shard count);
	// otherwise the live record counts are.
	ByDigest  bool
	Want, Got string
	WantLive  int64
	GotLive   int64
	OK        bool
}

// Mismatches returns the checks that failed.
func (r *RestoreResult) Mismatches() []ShardCheck {
	var out []ShardCheck
	for _, c := range r.Checks {
		if !c.OK {
			out = append(out, c)
		}
	}
	return out
}

// Check reads the backup in dir and checks every shard file against the
// manifest (size, checksum, decoding, record count, key order), reading
// each file once. It changes nothing.
func Check(dir string, progress func(Progress), now func() time.Time) (*Manifest, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	tr := newTracker("check", m.Shards, now, progress)
	for _, f := range m.Files {
		if err := ReadFile(dir, f, func(lww.Change) error { return nil }); err != nil {
			return nil, err
		}
		tr.add(f.Records, f.Bytes, true)
	}
	return m, nil
}

// Restore brings the backup in cfg.Dir into the DC c follows: it checks the
// backup, creates the keyspace if it is missing, merges every record into
// every replica of its shard with its version, and verifies the result.
// A failed verification returns ErrVerify with the result, unless the
// keyspace held data before (the result's Mismatches then say where the
// merged data differs from the backup).
func Restore(ctx context.Context, c *client.Client, cfg RestoreConfig) (*RestoreResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := Check(cfg.Dir, cfg.Progress, cfg.now)
	if err != nil {
		return nil, err
	}
	res := &RestoreResult{Manifest: m, Keyspace: cfg.Keyspace}
	if res.Keyspace == "" {
		res.Keyspace = m.Keyspace
	}
	if err := prepare(ctx, c, cfg, m, res); err != nil {
		return nil, err
	}
	start := cfg.now()
	live, err := ingest(ctx, c, cfg, m, res)
	if err != nil {
		return res, err
	}
	res.Elapsed = cfg.now().Sub(start)
	if res.Elapsed > 0 {
		res.Rate = float64(m.Records) / res.Elapsed.Seconds()
	}
	if err := verify(ctx, c, m, res, live); err != nil {
		return res, err
	}
	if bad := res.Mismatches(); len(bad) > 0 && res.Existing == 0 {
		return res, fmt.Errorf("%w: %d of %d replica checks failed (first: shard %d on %s)", ErrVerify, len(bad), len(res.Checks), bad[0].Shard, bad[0].Store)
	}
	cfg.Logger.Info("restore done", "keyspace", res.Keyspace, "shards", res.Shards, "records", m.Records,
		"written", res.Written, "skipped", res.Skipped, "existing", res.Existing)
	return res, nil
}

// prepare creates the keyspace if it is missing, or checks the existing
// one and counts its live records, and waits until every shard is served
// with every replica healthy.
func prepare(ctx context.Context, c *client.Client, cfg RestoreConfig, m *Manifest, res *RestoreResult) error {
	ks, ok := c.Topology().Keyspaces[res.Keyspace]
	switch {
	case !ok:
		res.Shards = cfg.Shards
		if res.Shards == 0 {
			res.Shards = m.Shards
		}
		if err := c.CreateKeyspace(ctx, res.Keyspace, res.Shards, cfg.Replicas); err != nil {
			return err
		}
		res.Created = true
	case ks.Resize != nil:
		return fmt.Errorf("%w: %s", ErrResizing, res.Keyspace)
	case cfg.Shards != 0 && cfg.Shards != ks.Shards:
		return fmt.Errorf("%w: %s has %d shards, not %d (resize it first, or leave the shard count out)", ErrShardCount, res.Keyspace, ks.Shards, cfg.Shards)
	default:
		res.Shards = ks.Shards
	}
	if err := c.WaitForServing(ctx, res.Keyspace); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, cfg.Wait)
	defer cancel()
	if err := waitReplicas(wctx, c, res.Keyspace); err != nil {
		return err
	}
	if !res.Created {
		n, err := liveRecords(ctx, c, res.Keyspace, res.Shards)
		if err != nil {
			return err
		}
		res.Existing = n
		if n > 0 {
			cfg.Logger.Warn("keyspace already holds data: restored records are merged by last-writer-wins, newer versions are kept",
				"keyspace", res.Keyspace, "records", n)
		}
	}
	return nil
}

// liveRecords sums DBSIZE over the shards of ks.
func liveRecords(ctx context.Context, c *client.Client, ks string, shards int) (int64, error) {
	cmds := make([]client.Command, shards)
	for i := range cmds {
		cmds[i] = client.Command{Args: [][]byte{[]byte("DBSIZE")}, Shard: uint32(i)}
	}
	replies, err := c.Do(ctx, ks, cmds)
	if err != nil {
		return 0, err
	}
	var n int64
	for i, r := range replies {
		if r.Err != nil {
			return 0, fmt.Errorf("shard %d: %w", i, r.Err)
		}
		v, _ := r.Val.(int64)
		n += v
	}
	return n, nil
}

// waitReplicas waits until every replica of every shard of ks is healthy
// and holds the keyspace's current incarnation of the shard (a keyspace
// deleted and created again under the same name is swapped on each store
// a little after the topology names it): each answers DBSIZE after VUSE
// with the shard's epoch.
func waitReplicas(ctx context.Context, c *client.Client, ks string) error {
	var last error
	for {
		last = replicasReady(ctx, c, ks)
		if last == nil || final(last) {
			return last
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %w (%w)", ErrUnavailable, last, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// replicasReady returns why a replica of a shard of ks is not ready, or nil.
func replicasReady(ctx context.Context, c *client.Client, ks string) error {
	t := c.Topology()
	k, ok := t.Keyspaces[ks]
	if !ok {
		return fmt.Errorf("%w: %q", client.ErrUnknownKeyspace, ks)
	}
	for i, p := range k.Placement {
		if len(p) == 0 {
			return fmt.Errorf("shard %d has no replica", i)
		}
		for _, id := range p {
			if s := t.Stores[id]; s == nil || !s.Healthy {
				return fmt.Errorf("shard %d: replica %s is not healthy", i, id)
			}
			if _, err := c.DoOn(ctx, ks, uint32(i), id, []byte("DBSIZE")); err != nil {
				return fmt.Errorf("shard %d on %s: %w", i, id, err)
			}
		}
	}
	return nil
}

// ingest sends every record of the backup to every replica of its shard
// under the keyspace's layout, and returns the live records (at the
// manifest's DigestAt) each shard received.
func ingest(ctx context.Context, c *client.Client, cfg RestoreConfig, m *Manifest, res *RestoreResult) ([]int64, error) {
	var (
		mu   sync.Mutex
		live = make([]int64, res.Shards)
	)
	tr := newTracker("restore", m.Shards, cfg.now, cfg.Progress)
	err := forShards(ctx, m.Shards, cfg.Parallel, func(ctx context.Context, src uint32) error {
		r := &router{c: c, cfg: cfg, ks: res.Keyspace, shards: res.Shards, at: m.DigestAt,
			pages: map[uint32]*page{}, live: make([]int64, res.Shards)}
		err := ReadFile(cfg.Dir, m.Files[src], func(ch lww.Change) error {
			n, b, err := r.add(ctx, ch)
			if n > 0 {
				tr.add(int64(n), b, false)
			}
			return err
		})
		if err == nil {
			var n int
			var b int64
			n, b, err = r.flushAll(ctx)
			tr.add(int64(n), b, true)
		}
		mu.Lock()
		defer mu.Unlock()
		res.Written += r.written
		res.Skipped += r.skipped
		for i, v := range r.live {
			live[i] += v
		}
		return err
	})
	return live, err
}

// maxPageBytes bounds the keys and records of one VINGEST, well below a
// store's largest request (64 MiB by default) even with the largest value.
const maxPageBytes = 8 << 20

// page is the records bound for one shard, in key order.
type page struct {
	args  [][]byte
	bytes int64
}

// router routes the records of one backup file to the shards of the target
// layout and sends them in pages.
type router struct {
	c                *client.Client
	cfg              RestoreConfig
	ks               string
	shards           int
	at               int64
	pages            map[uint32]*page
	live             []int64
	written, skipped int64
}

// add queues ch for its shard and sends the shard's page once full; it
// returns the records and bytes sent.
func (r *router) add(ctx context.Context, ch lww.Change) (int, int64, error) {
	shard := topology.ShardOf(ch.Key, r.shards)
	rec, err := lww.AppendRecord(nil, ch.Record)
	if err != nil {
		return 0, 0, err
	}
	if ch.Record.Kind == lww.KindValue && (ch.Record.ExpiresAt == 0 || ch.Record.ExpiresAt > r.at) {
		r.live[shard]++
	}
	p := r.pages[shard]
	if p == nil {
		p = &page{args: [][]byte{[]byte("VINGEST")}}
		r.pages[shard] = p
	}
	p.args = append(p.args, append([]byte(nil), ch.Key...), rec)
	p.bytes += int64(len(ch.Key) + len(rec))
	if len(p.args)/2 < r.cfg.PageSize && p.bytes < maxPageBytes {
		return 0, 0, nil
	}
	return r.flush(ctx, shard)
}

func (r *router) flushAll(ctx context.Context) (int, int64, error) {
	var n int
	var b int64
	for shard := range r.pages {
		pn, pb, err := r.flush(ctx, shard)
		n += pn
		b += pb
		if err != nil {
			return n, b, err
		}
	}
	return n, b, nil
}

// flush sends the page of shard to every replica of the shard.
func (r *router) flush(ctx context.Context, shard uint32) (int, int64, error) {
	p := r.pages[shard]
	n := len(p.args) / 2
	if n == 0 {
		return 0, 0, nil
	}
	k, ok := r.c.Topology().Keyspaces[r.ks]
	if !ok || k.Shards != r.shards {
		return 0, 0, fmt.Errorf("%w: keyspace %s changed during the restore", ErrUnavailable, r.ks)
	}
	for _, store := range k.Placement[shard] {
		w, s, err := r.send(ctx, shard, store, p.args)
		if err != nil {
			return 0, 0, fmt.Errorf("%w: shard %d on %s: %w", ErrUnavailable, shard, store, err)
		}
		r.written += w
		r.skipped += s
	}
	b := p.bytes
	p.args = p.args[:1]
	p.bytes = 0
	return n, b, nil
}

// send sends one VINGEST to store, trying again after a retryable failure
// (the records carry their versions: sending them twice is harmless).
func (r *router) send(ctx context.Context, shard uint32, store string, args [][]byte) (written, skipped int64, err error) {
	for attempt := 1; ; attempt++ {
		var val any
		val, err = r.c.DoOn(ctx, r.ks, shard, store, args...)
		if err == nil {
			v, ok := val.([]any)
			if !ok || len(v) != 2 {
				return 0, 0, fmt.Errorf("backup: VINGEST reply %v", val)
			}
			w, _ := v[0].(int64)
			s, _ := v[1].(int64)
			return w, s, nil
		}
		if attempt >= r.cfg.Attempts || ctx.Err() != nil || final(err) {
			return 0, 0, err
		}
		r.cfg.Logger.Warn("restore page failed, trying again", "shard", shard, "store", store, "error", err)
		select {
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		case <-time.After(min(time.Duration(attempt)*200*time.Millisecond, 2*time.Second)):
		}
	}
}

// verify compares every replica of every restored shard with the backup:
// VDIGEST AT the manifest's DigestAt against the shard file's digest when
// the layouts match, the live record count otherwise.
func verify(ctx context.Context, c *client.Client, m *Manifest, res *RestoreResult, live []int64) error {
	k, ok := c.Topology().Keyspaces[res.Keyspace]
	if !ok {
		return fmt.Errorf("%w: %q", client.ErrUnknownKeyspace, res.Keyspace)
	}
	at := []byte(strconv.FormatInt(m.DigestAt, 10))
	for shard, stores := range k.Placement {
		for _, store := range stores {
			val, err := c.DoOn(ctx, res.Keyspace, uint32(shard), store, []byte("VDIGEST"), []byte("AT"), at)
			if err != nil {
				return fmt.Errorf("verify shard %d on %s: %w", shard, store, err)
			}
			v, ok := val.([]any)
			if !ok || len(v) != 2 {
				return fmt.Errorf("backup: VDIGEST reply %v", val)
			}
			ck := ShardCheck{Shard: uint32(shard), Store: store, WantLive: live[shard], ByDigest: res.Shards == m.Shards}
			ck.Got, _ = v[0].(string)
			ck.GotLive, _ = v[1].(int64)
			if ck.ByDigest {
				ck.Want = m.Files[shard].Digest
				ck.OK = ck.Got == ck.Want && ck.GotLive == ck.WantLive
			} else {
				ck.OK = ck.GotLive == ck.WantLive
			}
			res.Checks = append(res.Checks, ck)
		}
	}
	return nil
}
