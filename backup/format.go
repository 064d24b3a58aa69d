package backup

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/vasto-kv/vasto/lww"
)

// FormatVersion is the version of the backup layout this package writes
// and reads.
const FormatVersion = 1

// ManifestName is the manifest's file name in a backup directory. It is
// written last: a directory without it holds no complete backup.
const ManifestName = "manifest.json"

// fileMagic starts every shard file.
const fileMagic = "VASTOBK1"

// maxEntry bounds one encoded change in a shard file (a key and a record
// with the largest value a store accepts fit well within it).
const maxEntry = 64 << 20

// Manifest describes a backup.
type Manifest struct {
	Format   int    `json:"format"`
	Keyspace string `json:"keyspace"`
	DC       string `json:"dc"`
	Shards   int    `json:"shards"`
	// Created is when the backup started.
	Created time.Time `json:"created"`
	// DigestAt (nanoseconds since the Unix epoch) is the time the shard
	// digests count records live at (VDIGEST AT).
	DigestAt int64 `json:"digest_at"`
	// Finished is when the last shard was copied.
	Finished time.Time `json:"finished"`
	// Records and Bytes total the shard files.
	Records int64       `json:"records"`
	Bytes   int64       `json:"bytes"`
	Files   []ShardFile `json:"files"`
}

// ShardFile describes the copy of one shard.
type ShardFile struct {
	Shard uint32 `json:"shard"`
	File  string `json:"file"`
	// Store is the replica the shard was copied from.
	Store string `json:"store"`
	// Records counts every record (tombstones and expired values
	// included); Live those live at the manifest's DigestAt.
	Records int64 `json:"records"`
	Live    int64 `json:"live"`
	// Bytes is the file's size and SHA256 its checksum.
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
	// Digest is the digest of the live records (as VDIGEST AT DigestAt
	// computes it on a replica holding exactly these records).
	Digest string `json:"digest"`
	// MaxEventTime is the highest event time of the file's records.
	MaxEventTime int64 `json:"max_event_time"`
	// PointInTime is set when the file is one point in time of the
	// replica's data (a snapshot read page by page); otherwise (a store
	// without VSNAPSHOT) pages were read one after the other, and writes
	// made during the dump may or may not be in the file.
	PointInTime bool `json:"point_in_time"`
	// LogFirst..LogLast is the replica's change log: with PointInTime,
	// LogLast is the last index the snapshot holds; otherwise the last
	// index when the dump started. Every write the replica had applied by
	// then is in the file. LogLastAfter is the last index when the dump
	// ended.
	LogFirst     uint64    `json:"log_first"`
	LogLast      uint64    `json:"log_last"`
	LogLastAfter uint64    `json:"log_last_after"`
	Started      time.Time `json:"started"`
	Finished     time.Time `json:"finished"`
}

var (
	keyspaceName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	shardFile    = regexp.MustCompile(`^shard-[0-9]{5}\.vbk$`)
)

// fileName names the file of shard i.
func fileName(i uint32) string { return fmt.Sprintf("shard-%05d.vbk", i) }

// Validate checks the manifest's own consistency.
func (m *Manifest) Validate() error {
	switch {
	case m.Format != FormatVersion:
		return fmt.Errorf("%w: format %d, this version reads %d", ErrManifest, m.Format, FormatVersion)
	case !keyspaceName.MatchString(m.Keyspace):
		return fmt.Errorf("%w: keyspace name %q", ErrManifest, m.Keyspace)
	case m.Shards <= 0 || len(m.Files) != m.Shards:
		return fmt.Errorf("%w: %d shards but %d files", ErrManifest, m.Shards, len(m.Files))
	}
	var records, size int64
	for i, f := range m.Files {
		switch {
		case f.Shard != uint32(i):
			return fmt.Errorf("%w: file %d is for shard %d", ErrManifest, i, f.Shard)
		case !shardFile.MatchString(f.File):
			return fmt.Errorf("%w: file name %q", ErrManifest, f.File)
		case f.Records < 0 || f.Live < 0 || f.Live > f.Records || f.Bytes < int64(len(fileMagic)):
			return fmt.Errorf("%w: shard %d: counts", ErrManifest, i)
		case len(f.SHA256) != 2*sha256.Size:
			return fmt.Errorf("%w: shard %d: checksum %q", ErrManifest, i, f.SHA256)
		}
		records += f.Records
		size += f.Bytes
	}
	if records != m.Records || size != m.Bytes {
		return fmt.Errorf("%w: totals (%d records, %d bytes) do not add up (%d, %d)", ErrManifest, m.Records, m.Bytes, records, size)
	}
	return nil
}

// ReadManifest reads and validates the manifest of the backup in dir.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrManifest, err)
	}
	m := &Manifest{}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(m); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrManifest, ManifestName, err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return m, nil
}

// writeManifest writes m to dir atomically (a temporary file renamed).
func writeManifest(dir string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, ManifestName), append(b, '\n'))
}

func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// fileWriter writes one shard file: the magic, then each change as a
// uvarint length and its lww change encoding.
type fileWriter struct {
	f    *os.File
	w    *bufio.Writer
	h    hash.Hash
	n    int64
	buf  []byte
	path string
}

func createFile(path string) (*fileWriter, error) {
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return nil, err
	}
	fw := &fileWriter{f: f, h: sha256.New(), path: path}
	fw.w = bufio.NewWriterSize(io.MultiWriter(f, fw.h), 1<<20)
	if err := fw.write([]byte(fileMagic)); err != nil {
		fw.abort()
		return nil, err
	}
	return fw, nil
}

func (fw *fileWriter) write(b []byte) error {
	n, err := fw.w.Write(b)
	fw.n += int64(n)
	return err
}

// add appends one change.
func (fw *fileWriter) add(ch lww.Change) error {
	var err error
	fw.buf, err = lww.AppendChange(fw.buf[:0], ch)
	if err != nil {
		return err
	}
	var l [binary.MaxVarintLen64]byte
	if err := fw.write(l[:binary.PutUvarint(l[:], uint64(len(fw.buf)))]); err != nil {
		return err
	}
	return fw.write(fw.buf)
}

// finish flushes, syncs and renames the file into place; it returns its
// size and checksum.
func (fw *fileWriter) finish() (int64, string, error) {
	if err := fw.w.Flush(); err != nil {
		fw.abort()
		return 0, "", err
	}
	if err := fw.f.Sync(); err != nil {
		fw.abort()
		return 0, "", err
	}
	if err := fw.f.Close(); err != nil {
		_ = os.Remove(fw.f.Name())
		return 0, "", err
	}
	if err := os.Rename(fw.f.Name(), fw.path); err != nil {
		return 0, "", err
	}
	return fw.n, hex.EncodeToString(fw.h.Sum(nil)), nil
}

func (fw *fileWriter) abort() {
	_ = fw.f.Close()
	_ = os.Remove(fw.f.Name())
}

// ReadFile reads the shard file f of the backup in dir and calls fn with
// each change in order (its key and value are valid only during the call).
// It checks the file against its manifest entry: size, checksum (once the
// whole file is read; fn may have seen changes by then, so callers read a
// file once to check it before they act on it), record count, key order.
func ReadFile(dir string, f ShardFile, fn func(lww.Change) error) error {
	file, err := os.Open(filepath.Join(dir, f.File))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	defer file.Close()
	st, err := file.Stat()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if st.Size() != f.Bytes {
		return fmt.Errorf("%w: %s is %d bytes, the manifest says %d", ErrCorrupt, f.File, st.Size(), f.Bytes)
	}
	h := sha256.New()
	r := bufio.NewReaderSize(io.TeeReader(file, h), 1<<20)
	magic := make([]byte, len(fileMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != fileMagic {
		return fmt.Errorf("%w: %s is not a shard file", ErrCorrupt, f.File)
	}
	var (
		n    int64
		buf  []byte
		prev []byte
	)
	for {
		l, err := binary.ReadUvarint(r)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil || l == 0 || l > maxEntry {
			return fmt.Errorf("%w: %s: record %d: bad length", ErrCorrupt, f.File, n)
		}
		if uint64(cap(buf)) < l {
			buf = make([]byte, l)
		}
		buf = buf[:l]
		if _, err := io.ReadFull(r, buf); err != nil {
			return fmt.Errorf("%w: %s: record %d: %w", ErrCorrupt, f.File, n, err)
		}
		ch, err := lww.DecodeChange(buf)
		if err != nil {
			return fmt.Errorf("%w: %s: record %d: %w", ErrCorrupt, f.File, n, err)
		}
		if prev != nil && string(ch.Key) <= string(prev) {
			return fmt.Errorf("%w: %s: record %d out of key order", ErrCorrupt, f.File, n)
		}
		prev = append(prev[:0], ch.Key...)
		if err := fn(ch); err != nil {
			return err
		}
		n++
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != f.SHA256 {
		return fmt.Errorf("%w: %s: checksum %s, the manifest says %s", ErrCorrupt, f.File, sum, f.SHA256)
	}
	if n != f.Records {
		return fmt.Errorf("%w: %s holds %d records, the manifest says %d", ErrCorrupt, f.File, n, f.Records)
	}
	return nil
}
