package archtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// testOnly are packages that hold tests or test helpers only; the diagram
// shows the code (the package list of docs/architecture.md names them).
var testOnly = append([]string{"internal/archtest", "internal/e2e"}, testSupport...)

// diagramPackages lists the package directories the layers diagram of
// docs/architecture.md names.
func diagramPackages(doc string) []string {
	_, after, ok := strings.Cut(doc, "## Layers and packages")
	if !ok {
		return nil
	}
	_, block, _ := strings.Cut(after, "```\n")
	block, _, _ = strings.Cut(block, "```")
	// A package starts a line ("cmd/vasto ..."), follows the tree's "+--"
	// ("  +-- store ...") or a "|" and five spaces ("  |     server/resp
	// ..."); longer indents continue the line above.
	word := regexp.MustCompile(`^(?:|\s*\+--\s+|\s*\|\s{5})([a-z][a-z0-9]*(?:/[a-z][a-z0-9]*)*)\s`)
	var out []string
	for line := range strings.Lines(block) {
		if m := word.FindStringSubmatch(line); m != nil {
			out = append(out, m[1])
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestArchitectureDiagramMatchesGoList keeps the layers diagram true: every
// package of the module is in it, and it names no package that does not
// exist.
func TestArchitectureDiagramMatchesGoList(t *testing.T) {
	root := moduleRoot(t)
	doc, err := os.ReadFile(filepath.Join(root, "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-e", "-f", "{{.ImportPath}}", "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []string
	for line := range strings.Lines(string(out)) {
		p := strings.TrimPrefix(strings.TrimSpace(line), modulePath+"/")
		if p != "" && !slices.Contains(testOnly, p) {
			pkgs = append(pkgs, p)
		}
	}
	slices.Sort(pkgs)
	drawn := diagramPackages(string(doc))
	for _, p := range pkgs {
		if !slices.Contains(drawn, p) {
			t.Errorf("package %s is missing from the layers diagram of docs/architecture.md", p)
		}
	}
	_, support, _ := strings.Cut(string(doc), "### Test support")
	support, _, _ = strings.Cut(support, "\n### ")
	for _, p := range testOnly {
		if exists := slices.Contains(strings.Fields(string(out)), modulePath+"/"+p); exists != strings.Contains(support, "`"+p+"`") {
			t.Errorf("package %s: exists %v, but the test support list of docs/architecture.md says otherwise", p, exists)
		}
	}
	for _, p := range drawn {
		if !slices.Contains(pkgs, p) {
			t.Errorf("the layers diagram of docs/architecture.md names %s, which is not a package", p)
		}
	}
}
