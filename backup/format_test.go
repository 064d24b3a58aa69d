package backup

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/lww"
)

// writeTestBackup writes a backup of two shards with n records each (every
// third a tombstone) to a new directory and returns it with its manifest.
func writeTestBackup(t *testing.T, n int) (string, *Manifest) {
	t.Helper()
	dir := t.TempDir()
	m := &Manifest{Format: FormatVersion, Keyspace: "ks", DC: "dc1", Shards: 2, Created: time.Unix(0, 1e18).UTC(), DigestAt: 1e18}
	for shard := uint32(0); shard < 2; shard++ {
		f := ShardFile{Shard: shard, File: fileName(shard), Store: "s1"}
		fw, err := createFile(filepath.Join(dir, f.File))
		require.NoError(t, err)
		for i := 0; i < n; i++ {
			rec := lww.Record{Version: lww.Version{Time: int64(1e18) - int64(i+1), DC: "dc1", Node: "s1"}, Kind: lww.KindValue, Value: []byte("v")}
			if i%3 == 0 {
				rec.Kind, rec.Value = lww.KindTombstone, nil
			} else {
				f.Live++
			}
			require.NoError(t, fw.add(lww.Change{Key: fmt.Appendf(nil, "s%d-k%04d", shard, i), Record: rec}))
			f.Records++
		}
		f.Bytes, f.SHA256, err = fw.finish()
		require.NoError(t, err)
		m.Files = append(m.Files, f)
		m.Records += f.Records
		m.Bytes += f.Bytes
	}
	require.NoError(t, writeManifest(dir, m))
	return dir, m
}

func noNow() time.Time { return time.Unix(0, 0) }

func TestBackupFilesRoundTrip(t *testing.T) {
	dir, m := writeTestBackup(t, 100)
	got, err := Check(dir, nil, noNow)
	require.NoError(t, err)
	require.Equal(t, m.Records, got.Records)
	var keys []string
	var tombstones int
	require.NoError(t, ReadFile(dir, got.Files[1], func(ch lww.Change) error {
		keys = append(keys, string(ch.Key))
		if ch.Record.IsTombstone() {
			tombstones++
		}
		require.Equal(t, "dc1", ch.Record.Version.DC)
		return nil
	}))
	require.Len(t, keys, 100)
	require.Equal(t, "s1-k0000", keys[0])
	require.Equal(t, 34, tombstones)
	// No temporary files are left.
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 3)
}

func TestCheckRefusesDamagedFiles(t *testing.T) {
	for name, damage := range map[string]func(t *testing.T, dir string, m *Manifest){
		"flipped byte": func(t *testing.T, dir string, m *Manifest) {
			p := filepath.Join(dir, m.Files[0].File)
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			b[len(b)-3] ^= 1
			require.NoError(t, os.WriteFile(p, b, 0o600))
		},
		"truncated": func(t *testing.T, dir string, m *Manifest) {
			require.NoError(t, os.Truncate(filepath.Join(dir, m.Files[1].File), m.Files[1].Bytes-5))
		},
		"missing": func(t *testing.T, dir string, m *Manifest) {
			require.NoError(t, os.Remove(filepath.Join(dir, m.Files[1].File)))
		},
		"bad magic": func(t *testing.T, dir string, m *Manifest) {
			p := filepath.Join(dir, m.Files[0].File)
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			b[0] = 'X'
			require.NoError(t, os.WriteFile(p, b, 0o600))
		},
		"swapped files": func(t *testing.T, dir string, m *Manifest) {
			a, b := filepath.Join(dir, m.Files[0].File), filepath.Join(dir, m.Files[1].File)
			require.NoError(t, os.Rename(a, a+".x"))
			require.NoError(t, os.Rename(b, a))
			require.NoError(t, os.Rename(a+".x", b))
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir, m := writeTestBackup(t, 50)
			damage(t, dir, m)
			_, err := Check(dir, nil, noNow)
			require.ErrorIs(t, err, ErrCorrupt)
		})
	}
}

func TestReadManifestRefusesBadManifests(t *testing.T) {
	for name, edit := range map[string]func(m map[string]any){
		"format":        func(m map[string]any) { m["format"] = 2 },
		"keyspace":      func(m map[string]any) { m["keyspace"] = "../x" },
		"shard count":   func(m map[string]any) { m["shards"] = 3 },
		"totals":        func(m map[string]any) { m["records"] = 1 },
		"unknown field": func(m map[string]any) { m["extra"] = true },
		"file path": func(m map[string]any) {
			m["files"].([]any)[0].(map[string]any)["file"] = "../../etc/passwd"
		},
		"file order": func(m map[string]any) {
			f := m["files"].([]any)
			f[0], f[1] = f[1], f[0]
		},
		"checksum": func(m map[string]any) { m["files"].([]any)[0].(map[string]any)["sha256"] = "abc" },
		"live above records": func(m map[string]any) {
			m["files"].([]any)[0].(map[string]any)["live"] = 1000
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir, _ := writeTestBackup(t, 10)
			p := filepath.Join(dir, ManifestName)
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			var raw map[string]any
			require.NoError(t, json.Unmarshal(b, &raw))
			edit(raw)
			b, err = json.Marshal(raw)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(p, b, 0o600))
			_, err = Check(dir, nil, noNow)
			require.ErrorIs(t, err, ErrManifest)
		})
	}
	_, err := ReadManifest(t.TempDir())
	require.ErrorIs(t, err, ErrManifest)
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, DefaultConfig("ks", "/tmp/x").Validate())
	require.NoError(t, DefaultRestoreConfig("/tmp/x").Validate())
	bad := []Config{DefaultConfig("bad name", "d"), DefaultConfig("ks", "")}
	c := DefaultConfig("ks", "d")
	c.PageSize = 0
	bad = append(bad, c)
	for _, c := range bad {
		require.ErrorIs(t, c.Validate(), ErrInvalid)
	}
	r := DefaultRestoreConfig("d")
	r.Replicas = 0
	require.ErrorIs(t, r.Validate(), ErrInvalid)
	r = DefaultRestoreConfig("d")
	r.Keyspace = "a/b"
	require.ErrorIs(t, r.Validate(), ErrInvalid)
}
