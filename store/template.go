package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// templateDir holds an empty shard database, created once per engine, that
// new shards start as a copy of. Creating a RocksDB database from nothing
// costs several times what opening one does: it writes a manifest, creates
// each column family (each writes and reads back an OPTIONS file) and
// fsyncs several times; a copy of an empty one only needs its manifest and
// CURRENT file, which opening replaces with its own. Its name is not a valid
// keyspace name, so the engine never opens it as one.
const templateDir = ".template"

// cloneSuffix names the directory a new shard is copied into before it is
// renamed into place; Open removes any left by a crash.
const cloneSuffix = ".new"

// cloneTemplate makes dir (which must not exist) an empty shard database
// by copying the engine's template, creating the template first if needed.
// The copy is made in a temporary directory, synced, and renamed into
// place, so a crash leaves either no shard or a complete one.
func (e *Engine) cloneTemplate(dir string) error {
	files, err := e.template()
	if err != nil {
		return err
	}
	tmp := dir + cloneSuffix
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("store: clone template: %w", err)
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return fmt.Errorf("store: clone template: %w", err)
	}
	for name, data := range files {
		if err := writeFileSync(filepath.Join(tmp, name), data); err != nil {
			return errors.Join(fmt.Errorf("store: clone template: %w", err), os.RemoveAll(tmp))
		}
	}
	if err := syncDir(tmp); err != nil {
		return errors.Join(err, os.RemoveAll(tmp))
	}
	if err := os.Rename(tmp, dir); err != nil {
		return errors.Join(fmt.Errorf("store: clone template: %w", err), os.RemoveAll(tmp))
	}
	return syncDir(filepath.Dir(dir))
}

// template returns the files a new shard starts with (name to contents),
// creating the template database the first time.
func (e *Engine) template() (map[string][]byte, error) {
	e.tmplMu.Lock()
	defer e.tmplMu.Unlock()
	if e.tmplFiles != nil {
		return e.tmplFiles, nil
	}
	dir := filepath.Join(e.cfg.Dir, templateDir)
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("store: create shard template: %w", err)
	}
	t := &Shard{e: e, dir: dir}
	if err := t.openDB(false); err != nil {
		return nil, fmt.Errorf("store: create shard template: %w", err)
	}
	t.closeDB()
	current, err := os.ReadFile(filepath.Join(dir, "CURRENT"))
	if err != nil {
		return nil, fmt.Errorf("store: read shard template: %w", err)
	}
	manifest := strings.TrimSpace(string(current))
	if !strings.HasPrefix(manifest, "MANIFEST-") || strings.ContainsAny(manifest, "/\\") {
		return nil, fmt.Errorf("%w: shard template CURRENT names %q", ErrCorrupt, manifest)
	}
	data, err := os.ReadFile(filepath.Join(dir, manifest))
	if err != nil {
		return nil, fmt.Errorf("store: read shard template: %w", err)
	}
	e.tmplFiles = map[string][]byte{"CURRENT": current, manifest: data}
	return e.tmplFiles, nil
}

// writeFileSync writes data to a new file name and fsyncs it.
func writeFileSync(name string, data []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return errors.Join(err, f.Close())
	}
	if err := f.Sync(); err != nil {
		return errors.Join(err, f.Close())
	}
	return f.Close()
}
