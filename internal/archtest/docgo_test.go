package archtest

import (
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryPackageHasDocGo: every package of the module has a doc.go whose
// package comment says what the package is for ("Package p ...") and what
// it may import.
func TestEveryPackageHasDocGo(t *testing.T) {
	root := moduleRoot(t)
	cmd := exec.Command("go", "list", "-e", "-f", "{{.Dir}} {{.Name}}", "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	n := 0
	for line := range strings.Lines(string(out)) {
		dir, name, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		n++
		rel, _ := filepath.Rel(root, dir)
		f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, "doc.go"), nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			t.Errorf("%s: no readable doc.go: %v", rel, err)
			continue
		}
		doc := ""
		if f.Doc != nil {
			doc = f.Doc.Text()
		}
		if want := "Package " + name + " "; name != "main" && !strings.HasPrefix(doc, want) {
			t.Errorf("%s/doc.go: the package comment must start with %q", rel, want)
		}
		if !strings.Contains(strings.ToLower(doc), "import") {
			t.Errorf("%s/doc.go: the package comment does not say what the package may import", rel)
		}
	}
	if n == 0 {
		t.Fatal("go list found no package")
	}
}
