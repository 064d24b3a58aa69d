package store

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/linxGnu/grocksdb"

	"github.com/vasto-kv/vasto/internal/retry"
	"github.com/vasto-kv/vasto/topology"
)

// A shard turns read-only when a write to its database fails: a commit, an
// ingest, a change-log trim, a meta record, a flush. RocksDB must not be
// written again once a write failed (a failed write-ahead log append leaves
// a writer that aborts the process on its next use), so from then on every
// write is refused with ErrReadOnly before it reaches the database, while
// reads go on. A goroutine of the shard then probes, with back-off, whether
// the disk has room again, and reopens the database when it has: the
// write-ahead log is replayed, so nothing acknowledged is lost, and the
// shard takes writes again.

// maxProbeBackoff bounds the pause between two probes of a read-only shard,
// as a multiple of Config.ReadOnlyProbe.
const maxProbeBackoff = 20

// readOnlyState is why and since when a shard refuses writes.
type readOnlyState struct {
	reason string
	since  time.Time
}

// ReadOnly returns why the shard refuses writes, or "" if it takes them.
func (s *Shard) ReadOnly() string {
	if st := s.halted.Load(); st != nil {
		return st.reason
	}
	return ""
}

// readOnlyErr returns the error a write gets while the shard is read-only,
// or nil.
func (s *Shard) readOnlyErr() error {
	if st := s.halted.Load(); st != nil {
		return fmt.Errorf("%w: %s: %s", ErrReadOnly, s.id, st.reason)
	}
	return nil
}

// dbWrite runs fn, one call that writes to the database (op names it),
// unless the shard is read-only; if fn fails the shard turns read-only.
// Every write to the database goes through dbWrite, one at a time, so none
// reaches it after one failed.
func (s *Shard) dbWrite(op string, fn func() error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.readOnlyErr(); err != nil {
		return err
	}
	err := s.injected(op)
	if err == nil {
		err = fn()
	}
	if err != nil {
		s.turnReadOnly(op, err)
	}
	return err
}

// injected returns the error a test injects for op, if any.
func (s *Shard) injected(op string) error {
	if f := s.fault.Load(); f != nil {
		return (*f)(op)
	}
	return nil
}

// turnReadOnly makes the shard refuse writes after op failed with err and
// starts probing for recovery.
func (s *Shard) turnReadOnly(op string, err error) {
	st := &readOnlyState{reason: readOnlyReason(err), since: time.Now()}
	if !s.halted.CompareAndSwap(nil, st) {
		return
	}
	s.log.Error("write to the shard's database failed; the shard is read-only until it can be reopened",
		"op", op, "error", err)
	s.startRecovery()
}

// readOnlyReason is err's text on one line, at most
// topology.MaxReadOnlyReason bytes.
func readOnlyReason(err error) string {
	r := strings.Join(strings.Fields(err.Error()), " ")
	if len(r) > topology.MaxReadOnlyReason {
		r = r[:topology.MaxReadOnlyReason]
	}
	return r
}

// startRecovery starts the goroutine that reopens the read-only shard, unless
// it runs or the shard is closing.
func (s *Shard) startRecovery() {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	if s.recStopped || s.recRunning {
		return
	}
	s.recRunning = true
	s.recWG.Add(1)
	go s.recoverLoop()
}

// stopRecovery stops the recovery goroutine, if any, and waits for it; none
// starts afterwards.
func (s *Shard) stopRecovery() {
	s.recMu.Lock()
	if !s.recStopped {
		s.recStopped = true
		close(s.recStop)
	}
	s.recMu.Unlock()
	s.recWG.Wait()
}

// recoverLoop probes the read-only shard with back-off until it is writable
// again or closed.
func (s *Shard) recoverLoop() {
	defer s.recWG.Done()
	base := s.e.cfg.probeInterval()
	probe := retry.Backoff{Min: base, Max: maxProbeBackoff * base}
	t := time.NewTimer(probe.Next())
	defer t.Stop()
	for {
		select {
		case <-s.recStop:
			return
		case <-t.C:
		}
		if s.tryReopen() {
			probe.Reset()
		}
		s.recMu.Lock()
		if s.halted.Load() == nil {
			// Writable again; a later failure starts a new loop (the flag
			// is set before startRecovery takes recMu, so none is missed).
			s.recRunning = false
			s.recMu.Unlock()
			return
		}
		s.recMu.Unlock()
		t.Reset(probe.Next())
	}
}

// tryReopen reopens the database if the disk has room for it, and reports
// whether the shard takes writes again.
func (s *Shard) tryReopen() bool {
	if err := s.injected("probe"); err != nil {
		s.log.Debug("read-only shard not reopened yet", "error", err)
		return false
	}
	free, need, err := s.room()
	if err != nil {
		s.log.Warn("cannot probe the free space of a read-only shard", "error", err)
		return false
	}
	if free < need {
		s.log.Debug("read-only shard waits for disk space", "free_bytes", free, "need_bytes", need)
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if err := s.reopen(); err != nil {
		s.log.Error("read-only shard could not be reopened for writes; will retry", "error", err)
		return false
	}
	var since time.Duration
	if st := s.halted.Swap(nil); st != nil {
		since = time.Since(st.since).Round(time.Millisecond)
	}
	s.log.Info("shard reopened and writable again", "read_only_for", since.String(), "free_bytes", free)
	return true
}

// room returns the bytes free for the shard on its file system and the bytes
// a reopen needs: its memtables, which it replays from the write-ahead log
// and writes out as tables, plus one write buffer of headroom so the shard
// does not fill the disk again at once.
func (s *Shard) room() (free, need uint64, err error) {
	var fs syscall.Statfs_t
	if err := syscall.Statfs(s.dir, &fs); err != nil {
		return 0, 0, fmt.Errorf("store: statfs %s: %w", s.dir, err)
	}
	return fs.Bavail * uint64(fs.Bsize), s.e.cfg.WriteBufferBytes + s.memtableBytes(), nil
}

// memtableBytes is the size of the shard's memtables, 0 if it has no
// database open.
func (s *Shard) memtableBytes() uint64 {
	if err := s.acquire(); err != nil {
		return 0
	}
	defer s.mu.RUnlock()
	var n uint64
	for _, cf := range []*grocksdb.ColumnFamilyHandle{s.cfData, s.cfLog, s.cfMeta} {
		v, _ := strconv.ParseUint(s.db.GetPropertyCF("rocksdb.cur-size-all-mem-tables", cf), 10, 64)
		n += v
	}
	return n
}

// reopen closes the database and opens it again for writes; s.mu must be
// held for writing. Should that fail, it opens it read-only so reads go on,
// and returns the error.
func (s *Shard) reopen() error {
	if s.db != nil {
		// No FlushWAL: the log writer may be the one that failed.
		s.closeDB()
		s.db = nil
	}
	err := s.injected("reopen")
	if err == nil {
		if err = s.openDB(false); err == nil {
			if err = s.reload(); err == nil {
				return nil
			}
			s.closeDB()
			s.db = nil
		}
	}
	if rerr := s.openDB(true); rerr != nil {
		return errors.Join(err, rerr)
	}
	if rerr := s.reload(); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}

// reload reads back what the shard keeps in memory of its database after a
// reopen: a write that failed may have reached the write-ahead log.
func (s *Shard) reload() error {
	epoch, err := s.metaUint(metaEpoch)
	if err != nil {
		return err
	}
	if err := s.loadLogBounds(); err != nil {
		return err
	}
	if err := s.loadCachedMeta(); err != nil {
		return err
	}
	s.epoch.Store(epoch)
	s.cursorMu.Lock()
	clear(s.cursors)
	s.cursorMu.Unlock()
	return nil
}

// openDBReadOnly opens the shard's database without writing to it.
func openDBReadOnly(base *grocksdb.Options, dir string, cfOpts []*grocksdb.Options) (*grocksdb.DB, []*grocksdb.ColumnFamilyHandle, error) {
	return grocksdb.OpenDbForReadOnlyColumnFamilies(base, dir,
		[]string{cfNameData, cfNameLog, cfNameMeta}, cfOpts, false)
}
