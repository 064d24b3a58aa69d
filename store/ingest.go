package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"

	"github.com/hashicorp/go-hclog"
	"github.com/linxGnu/grocksdb"

	"github.com/vasto-kv/vasto/lww"
)

// IngestResult tells what became of an ingested page.
type IngestResult struct {
	// Written is how many records were ingested; Skipped how many were
	// dropped because the shard held the same or a winning record.
	Written, Skipped int
	// Bytes is the size of the keys and record encodings written.
	Bytes int64
}

// ingestFilePrefix names the temporary SST files Ingest writes in the shard
// directory. RocksDB ignores files whose names it does not recognise.
const ingestFilePrefix = "ingest-"

// Ingest merges a page of records copied from another shard, versions
// unchanged, into the shard's data: a record is written only if it wins
// under last-writer-wins over the one the shard holds, so a newer version
// is never overwritten. page must be sorted by key, ascending, with
// distinct keys (ErrBadPage otherwise).
//
// Ingest holds the shard's commit leadership, so no write interleaves
// between the check and the write: it reads the stored records of the
// page's range with one iterator, writes the winners to an SST file and
// ingests that file into the data column family. Nothing enters the change
// log and no cursor moves; the owner is not checked. The records are durable
// when Ingest returns. ctx only bounds the wait to queue, as for Commit.
func (s *Shard) Ingest(ctx context.Context, page []lww.Change) (IngestResult, error) {
	now := s.e.cfg.Clock.Now()
	latest := int64(0)
	for i := range page {
		ch := &page[i]
		if err := CheckKey(ch.Key); err != nil {
			return IngestResult{}, fmt.Errorf("change %d: %w", i, err)
		}
		if i > 0 && bytes.Compare(page[i-1].Key, ch.Key) >= 0 {
			return IngestResult{}, fmt.Errorf("%w: key %d not after key %d", ErrBadPage, i, i-1)
		}
		if err := ch.Record.Validate(); err != nil {
			return IngestResult{}, fmt.Errorf("change %d: %w", i, err)
		}
		if t := ch.Record.Version.Time; t > latest && s.e.guard.CheckEventTime(t, now) == nil {
			latest = t
		}
	}
	if len(page) == 0 {
		return IngestResult{}, nil
	}
	// As ApplyRemote: later local writes get later event times.
	s.e.hlc.Observe(latest)
	req := &commitReq{ingest: page}
	if _, err := s.submit(ctx, req); err != nil {
		return IngestResult{}, err
	}
	return req.ingested, nil
}

// ingestPage writes the records of page that win over the stored ones and
// ingests them. Only the commit leader calls it.
func (s *Shard) ingestPage(page []lww.Change) (IngestResult, error) {
	if err := s.readOnlyErr(); err != nil {
		return IngestResult{}, err
	}
	keep, err := s.winners(page)
	if err != nil {
		return IngestResult{}, err
	}
	res := IngestResult{Written: len(keep), Skipped: len(page) - len(keep)}
	if len(keep) == 0 {
		return res, nil
	}
	c := &s.c
	c.ingests++
	path := filepath.Join(s.dir, ingestFilePrefix+strconv.FormatUint(c.ingests, 10)+".sst")
	defer s.removeFile(path)
	eo := grocksdb.NewDefaultEnvOptions()
	defer eo.Destroy()
	w := grocksdb.NewSSTFileWriter(eo, s.data)
	defer w.Destroy()
	if err := w.Open(path); err != nil {
		return IngestResult{}, fmt.Errorf("store: ingest: open sst: %w", err)
	}
	for i, ch := range keep {
		if i%dumpYieldEvery == dumpYieldEvery-1 {
			runtime.Gosched() // a long run of cgo calls: let others run
		}
		c.scratch, err = lww.AppendRecord(c.scratch[:0], ch.Record)
		if err != nil {
			return IngestResult{}, err
		}
		if err := w.Add(ch.Key, c.scratch); err != nil {
			return IngestResult{}, fmt.Errorf("store: ingest: write sst: %w", err)
		}
		res.Bytes += int64(len(ch.Key) + len(c.scratch))
	}
	if err := w.Finish(); err != nil {
		return IngestResult{}, fmt.Errorf("store: ingest: finish sst: %w", err)
	}
	opts := grocksdb.NewDefaultIngestExternalFileOptions()
	defer opts.Destroy()
	opts.SetMoveFiles(true)
	if err := s.dbWrite("ingest", func() error { return s.db.IngestExternalFileCF(s.cfData, []string{path}, opts) }); err != nil {
		s.log.Error("ingest failed", "records", len(keep), "error", err)
		return IngestResult{}, fmt.Errorf("store: ingest: %w", err)
	}
	return res, nil
}

// winners returns the records of page (sorted, distinct keys) that win over
// the records the shard holds, walking the stored keys of the page's range
// alongside the page with one iterator.
func (s *Shard) winners(page []lww.Change) ([]lww.Change, error) {
	ro := grocksdb.NewDefaultReadOptions()
	defer ro.Destroy()
	ro.SetFillCache(false)
	upper := append(bytes.Clone(page[len(page)-1].Key), 0)
	ro.SetIterateUpperBound(upper)
	it := s.db.NewIteratorCF(ro, s.cfData)
	defer it.Close()
	// cmp compares the iterator's key with key; past the end counts as
	// after every key.
	cmp := func(key []byte) int {
		if !it.Valid() {
			return 1
		}
		k := it.Key()
		defer k.Free()
		return bytes.Compare(k.Data(), key)
	}
	keep := make([]lww.Change, 0, len(page))
	it.Seek(page[0].Key)
	for i, ch := range page {
		if i%dumpYieldEvery == dumpYieldEvery-1 {
			runtime.Gosched()
		}
		c := cmp(ch.Key)
		// Step over stored keys the page does not have; seek past long
		// runs of them.
		for n := 0; c < 0; n++ {
			if n < 8 {
				it.Next()
			} else {
				it.Seek(ch.Key)
			}
			c = cmp(ch.Key)
		}
		if c == 0 {
			v := it.Value()
			cur, err := lww.DecodeRecord(v.Data())
			wins := err == nil && lww.Wins(ch.Record, cur)
			v.Free()
			if err != nil {
				return nil, fmt.Errorf("%w: key %q: %w", ErrCorrupt, ch.Key, err)
			}
			if !wins {
				continue
			}
		}
		keep = append(keep, ch)
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("store: ingest: read: %w", err)
	}
	return keep, nil
}

// removeFile removes a temporary file if it is still there.
func (s *Shard) removeFile(path string) {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("cannot remove temporary file", "path", path, "error", err)
	}
}

// removeIngestFiles removes the temporary SST files an Ingest interrupted by
// a crash left in a shard directory.
func removeIngestFiles(log hclog.Logger, dir string) {
	paths, _ := filepath.Glob(filepath.Join(dir, ingestFilePrefix+"*.sst"))
	for _, p := range paths {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			log.Warn("cannot remove temporary file", "path", p, "error", err)
		}
	}
}
