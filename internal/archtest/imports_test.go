package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// moduleRoot returns the directory holding the go.mod of the module under
// test, and checks that it is the vasto module.
func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		t.Fatalf("go env GOMOD = %q: not inside a module", gomod)
	}
	data, err := os.ReadFile(gomod)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		fields := strings.Fields(line)
		if len(fields) >= 2 && fields[0] == "module" {
			if got := strings.Trim(fields[1], `"`); got != modulePath {
				t.Fatalf("%s declares module %q, rules are written for %q", gomod, got, modulePath)
			}
			return filepath.Dir(gomod)
		}
	}
	t.Fatalf("%s: no module line", gomod)
	return ""
}

// loadPackages runs `go list -e -deps -test -json ./...` in dir.
func loadPackages(t *testing.T, dir string) []*Package {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-deps", "-test", "-json", "./...")
	cmd.Dir = dir
	// Always see cgo files (store/ imports grocksdb from them), even where
	// the toolchain would default to CGO_ENABLED=0.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list in %s: %v\n%s", dir, err, stderr.String())
	}
	var pkgs []*Package
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		p := new(Package)
		if err := dec.Decode(p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// TestImportRules checks the import rules on the real module.
func TestImportRules(t *testing.T) {
	root := moduleRoot(t)
	pkgs := loadPackages(t, root)

	// Guard against a vacuous pass: the loader must at least see this
	// package and its test variant.
	const self = modulePath + "/internal/archtest"
	var sawSelf, sawSelfTest bool
	present := map[string]int{}
	for _, p := range pkgs {
		switch classify(p) {
		case kindPlain:
			if p.ImportPath == self {
				sawSelf = true
			}
			if inModule(p.ImportPath) {
				for _, d := range append([]string{"lww", "client"}, serverDirs...) {
					if under(p.ImportPath, d) {
						present[d]++
					}
				}
			}
			if p.Error != nil && inModule(p.ImportPath) {
				t.Logf("note: %s has load errors (checked as far as possible): %s", p.ImportPath, p.Error.Err)
			}
		case kindTest:
			if p.ForTest == self {
				sawSelfTest = true
			}
		}
	}
	if !sawSelf || !sawSelfTest {
		t.Fatalf("go list output did not include %s and its test variant (got %d packages): loader is broken", self, len(pkgs))
	}
	for _, d := range append([]string{"lww", "client"}, serverDirs...) {
		if present[d] == 0 {
			t.Logf("%s/: no packages yet, its rules are vacuous for now", d)
		} else {
			t.Logf("%s/: %d package(s) checked", d, present[d])
		}
	}

	for _, v := range Check(pkgs) {
		t.Errorf("import rule violated: %s", v)
	}
}
