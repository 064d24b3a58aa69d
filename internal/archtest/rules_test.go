package archtest

import (
	"fmt"
	"sort"
	"strings"
)

// modulePath is the module whose layering the rules describe.
const modulePath = "github.com/vasto-kv/vasto"

// serverDirs are the module's server-side trees; client must not depend on them.
var serverDirs = []string{"master", "store", "server", "replica", "dc", "bus/embedded", "chaos", "cmd", "internal/storenode", "gateway"}

// testSupport are the test-support packages: helpers and in-memory twins
// that only _test.go files and other test-support packages import.
var testSupport = []string{"internal/bustest", "internal/disktest", "internal/shardtest", "internal/storetest"}

// isTestSupport reports whether path is a test-support package or below one.
func isTestSupport(path string) bool {
	for _, d := range testSupport {
		if under(basePath(path), d) {
			return true
		}
	}
	return false
}

// Package is the subset of `go list -json` output that the rules need.
type Package struct {
	ImportPath string // may carry a test-variant suffix: "p [q.test]"
	Name       string
	Standard   bool
	ForTest    string // set on packages compiled only for q's test binary
	Imports    []string
	Deps       []string
	Module     *struct{ Path string }
	Error      *struct{ Err string }
}

// Violation is one broken import rule.
type Violation struct {
	Rule    string   // rule name, e.g. "lww-stdlib-only"
	Package string   // offending package, as named by label()
	Import  string   // forbidden package that is imported
	Chain   []string // import path from Package to Import, if transitive
	Why     string   // what the rule says
}

func (v Violation) String() string {
	s := fmt.Sprintf("[%s] %s imports %s", v.Rule, v.Package, v.Import)
	if len(v.Chain) > 2 {
		s += " (via " + strings.Join(v.Chain, " -> ") + ")"
	}
	return s + ": " + v.Why
}

// key identifies a violation in tests.
func (v Violation) key() string { return v.Rule + "|" + v.Package + "|" + v.Import }

// basePath strips a test-variant suffix: "p [q.test]" -> "p".
func basePath(importPath string) string {
	if i := strings.Index(importPath, " ["); i >= 0 {
		return importPath[:i]
	}
	return importPath
}

// under reports whether path is the module's package dir or below it.
func under(path, dir string) bool {
	root := modulePath + "/" + dir
	return path == root || strings.HasPrefix(path, root+"/")
}

func inModule(path string) bool {
	return path == modulePath || strings.HasPrefix(path, modulePath+"/")
}

// importMatches reports whether imp is pkg or one of its subpackages.
func importMatches(imp, pkg string) bool {
	return imp == pkg || strings.HasPrefix(imp, pkg+"/")
}

// kind classifies a package from `go list -test -deps`.
type kind int

const (
	kindPlain    kind = iota // ordinary package, non-test files only
	kindTest                 // p [p.test]: p compiled with its _test.go files
	kindXTest                // p_test [p.test]: external test package
	kindRecomp               // d [p.test]: a dependency recompiled for p's test
	kindTestMain             // p.test: generated test main
)

func classify(p *Package) kind {
	base := basePath(p.ImportPath)
	switch {
	case p.ForTest == "" && base == p.ImportPath && p.Name == "main" && strings.HasSuffix(base, ".test"):
		return kindTestMain
	case p.ForTest == "" && base == p.ImportPath:
		return kindPlain
	case base == p.ForTest:
		return kindTest
	case base == p.ForTest+"_test":
		return kindXTest
	default:
		return kindRecomp
	}
}

// owner is the package directory's import path that p's files belong to.
func owner(p *Package) string {
	if classify(p) == kindXTest {
		return p.ForTest
	}
	return basePath(p.ImportPath)
}

// label names p for messages, marking test packages.
func label(p *Package) string {
	switch classify(p) {
	case kindTest:
		return basePath(p.ImportPath) + " (with _test.go files)"
	case kindXTest:
		return basePath(p.ImportPath) + " (external _test.go package)"
	}
	return basePath(p.ImportPath)
}

// isStd reports whether path is a standard-library package.
func isStd(byPath map[string]*Package, path string) bool {
	if p, ok := byPath[path]; ok && p.Standard {
		return true
	}
	if path == "C" {
		return false
	}
	first, _, _ := strings.Cut(basePath(path), "/")
	// Standard-library import paths never have a dot in their first element.
	return !strings.Contains(first, ".") && !inModule(basePath(path))
}

// reach walks p's import graph breadth-first and returns, for every package
// for which bad is true, the shortest import chain from p to it. The walk
// does not continue through bad packages.
func reach(byPath map[string]*Package, from *Package, bad func(string) bool) map[string][]string {
	found := map[string][]string{}
	prev := map[string]string{from.ImportPath: ""}
	queue := []string{from.ImportPath}
	chain := func(to string) []string {
		var c []string
		for n := to; n != ""; n = prev[n] {
			c = append([]string{basePath(n)}, c...)
		}
		return c
	}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		p, ok := byPath[cur]
		if !ok {
			continue
		}
		for _, imp := range p.Imports {
			if _, seen := prev[imp]; seen {
				continue
			}
			prev[imp] = cur
			if bad(imp) {
				if _, dup := found[basePath(imp)]; !dup {
					found[basePath(imp)] = chain(imp)
				}
				continue
			}
			queue = append(queue, imp)
		}
	}
	// Deps is authoritative even where the graph is incomplete (packages
	// with load errors): report anything the walk could not reach, except
	// what lies behind a package already reported.
	covered := map[string]bool{}
	for n := range prev {
		if bad(n) {
			covered[n] = true
			if p, ok := byPath[n]; ok {
				for _, d := range p.Deps {
					covered[d] = true
				}
			}
		}
	}
	for _, d := range from.Deps {
		if bad(d) && !covered[d] {
			if _, ok := found[basePath(d)]; !ok {
				found[basePath(d)] = []string{basePath(from.ImportPath), "...", basePath(d)}
			}
		}
	}
	return found
}

// directRule forbids a direct import outside an allowed directory.
type directRule struct {
	name      string
	forbidden string // package (and subpackages) that may not be imported
	prefix    bool   // forbidden is a path prefix such as "github.com/nats-io/"
	allowedIn string // module dir whose packages may import it
	why       string
}

var directRules = []directRule{
	{
		name:      "rocksdb-only-in-store",
		forbidden: "github.com/linxGnu/grocksdb",
		allowedIn: "store",
		why:       "only packages under store/ may import RocksDB (grocksdb) directly",
	},
	{
		name:      "nats-only-in-bus",
		forbidden: "github.com/nats-io/",
		prefix:    true,
		allowedIn: "bus",
		why:       "only packages under bus/ may import github.com/nats-io/... directly",
	},
	{
		name:      "prometheus-only-in-metrics",
		forbidden: "github.com/prometheus/",
		prefix:    true,
		allowedIn: "internal/metrics",
		why:       "only packages under internal/metrics/ may import the Prometheus client (github.com/prometheus/...) directly; other packages expose numbers and Observer interfaces",
	},
	{
		name:      "flag-only-in-cmd",
		forbidden: "flag",
		allowedIn: "cmd",
		why:       `only packages under cmd/ may import "flag"; take configuration as parameters`,
	},
}

// denyRule forbids the packages under dir to import the listed packages,
// directly or, with transitive, through any chain of imports.
type denyRule struct {
	name       string
	dir        string
	forbidden  []string // module dirs, or external import paths; a trailing "/" makes a path prefix
	transitive bool
	why        string
}

var denyRules = []denyRule{
	{name: "store-engine-only", dir: "store", transitive: true,
		forbidden: []string{"bus", "github.com/nats-io/", "server", "internal/peerclient", "replica", "dc"},
		why:       "packages under store/ must not reach bus/, github.com/nats-io/..., a RESP package (server/, internal/peerclient/) or the packages that drive the engine (replica/, dc/): store is the shard engine only"},
	{name: "server-no-bus", dir: "server", transitive: true, forbidden: []string{"bus", "github.com/nats-io/"},
		why: "packages under server/ must not reach bus/ or github.com/nats-io/...: the RESP server serves the engine; the cluster agent talks to the cluster"},
	{name: "replica-no-dc", dir: "replica", transitive: true, forbidden: []string{"dc"},
		why: "packages under replica/ must not reach dc/: the agent drives cross-DC replication through its CrossDC interface"},
	{name: "dc-no-replica", dir: "dc", transitive: true, forbidden: []string{"replica"},
		why: "packages under dc/ must not reach replica/: the store wiring joins the two"},
	{name: "chaos-from-outside", dir: "chaos", transitive: true,
		forbidden: []string{"store", "server", "replica", "dc", "master", "internal/storenode", "internal/devcluster",
			"internal/peerclient", "bus/embedded", "github.com/linxGnu/grocksdb"},
		why: "packages under chaos/ must not reach store/, server/, replica/, dc/, master/, internal/storenode/, internal/devcluster/, internal/peerclient/, bus/embedded/ or RocksDB: drills act on a running deployment from outside, through the stores' RESP port (VFAULT, VDIGEST, VDUMP), NATS (bus, for topologies), client, lww, topology and wire"},
	{name: "storenode-wires-a-store", dir: "internal/storenode", transitive: true,
		forbidden: []string{"master", "client", "bus/embedded", "internal/devcluster"},
		why:       "packages under internal/storenode/ must not reach master/, client/, bus/embedded/ or internal/devcluster/: it wires one store process"},
	{name: "gateway-no-engine", dir: "gateway", transitive: true,
		forbidden: []string{"store", "replica", "dc", "master", "internal/storenode", "internal/peerclient", "bus/embedded"},
		why:       "packages under gateway/ must not reach store/ (nor server/, which serves it), replica/, dc/, master/, internal/storenode/, internal/peerclient/ or bus/embedded/: the gateway routes with the client and speaks RESP with server/resp"},
	{name: "backup-through-client", dir: "backup", transitive: true,
		forbidden: []string{"store", "replica", "dc", "master", "chaos", "internal/storenode", "internal/devcluster",
			"internal/peerclient", "bus/embedded", "github.com/linxGnu/grocksdb"},
		why: "packages under backup/ must not reach store/ (nor server/, which serves it), replica/, dc/, master/, chaos/, internal/storenode/, internal/devcluster/, internal/peerclient/, bus/embedded/ or RocksDB: backups and restores act on a running DC from outside, through the client (VDUMP, VINGEST, VDIGEST)"},
}

func (r denyRule) matches(imp string) bool {
	b := basePath(imp)
	for _, f := range r.forbidden {
		switch {
		case strings.HasSuffix(f, "/"):
			if strings.HasPrefix(b, f) {
				return true
			}
		case strings.Contains(f, "."):
			if importMatches(b, f) {
				return true
			}
		case under(b, f):
			return true
		}
	}
	return false
}

// pureRule keeps a package tree free of I/O libraries: the standard library
// and the listed module dirs (or external modules) only.
type pureRule struct {
	name    string
	dir     string
	allowed []string // module dirs, or full import paths of external modules
	why     string
}

var pureRules = []pureRule{
	{name: "lww-stdlib-only", dir: "lww", allowed: []string{"lww"},
		why: "packages under lww/ may use only the standard library (and other lww/ packages)"},
	{name: "wire-stdlib-only", dir: "wire", allowed: []string{"wire"},
		why: "packages under wire/ may use only the standard library: client and servers share them"},
	{name: "acl-pure", dir: "internal/acl", allowed: []string{"internal/acl", "wire"},
		why: "packages under internal/acl/ may use only the standard library and wire/ (the reply codes): the stores and the gateway share the ACL rules"},
	{name: "topology-pure", dir: "topology", allowed: []string{"topology", "lww", "github.com/cespare/xxhash/v2"},
		why: "packages under topology/ may use only the standard library, lww/ and xxhash: the routing rules stay pure"},
	{name: "chaos-check-pure", dir: "chaos/check", allowed: []string{"chaos/check", "lww", "topology", "github.com/cespare/xxhash/v2"},
		why: "packages under chaos/check/ may use only the standard library, lww/ and topology/ (and xxhash through it): the checker stays pure"},
}

func (r directRule) matches(imp string) bool {
	if r.prefix {
		return strings.HasPrefix(imp, r.forbidden)
	}
	return importMatches(imp, r.forbidden)
}

// Check applies every import rule to pkgs (the output of
// `go list -e -deps -test -json ./...`) and returns the violations, sorted.
func Check(pkgs []*Package) []Violation {
	byPath := make(map[string]*Package, len(pkgs))
	for _, p := range pkgs {
		byPath[p.ImportPath] = p
	}

	var out []Violation
	seen := map[string]bool{}
	add := func(v Violation) {
		if !seen[v.key()] {
			seen[v.key()] = true
			out = append(out, v)
		}
	}

	for _, p := range pkgs {
		k := classify(p)
		own := owner(p)
		if !inModule(own) || k == kindTestMain {
			continue
		}

		// Rules that ignore _test.go files look at plain packages only:
		// every package matched by ./... is listed in plain form.
		if k == kindPlain {
			for _, r := range directRules {
				if under(own, r.allowedIn) {
					continue
				}
				for _, imp := range p.Imports {
					if r.matches(imp) {
						add(Violation{Rule: r.name, Package: label(p), Import: imp, Chain: []string{own, imp}, Why: r.why})
					}
				}
			}

			if !isTestSupport(own) {
				for _, imp := range p.Imports {
					if isTestSupport(imp) {
						add(Violation{Rule: "test-support-only-in-tests", Package: label(p), Import: basePath(imp),
							Chain: []string{own, basePath(imp)},
							Why:   "test-support packages (" + strings.Join(testSupport, ", ") + ") are imported only by _test.go files and other test-support packages"})
					}
				}
			}

			for _, r := range denyRules {
				if !under(own, r.dir) {
					continue
				}
				if !r.transitive {
					for _, imp := range p.Imports {
						if r.matches(imp) {
							add(Violation{Rule: r.name, Package: label(p), Import: imp, Chain: []string{own, imp}, Why: r.why})
						}
					}
					continue
				}
				for imp, chain := range reach(byPath, p, r.matches) {
					add(Violation{Rule: r.name, Package: label(p), Import: imp, Chain: chain, Why: r.why})
				}
			}

			for _, r := range pureRules {
				if !under(own, r.dir) {
					continue
				}
				for _, imp := range p.Imports {
					if imp == "C" {
						add(Violation{Rule: r.name, Package: label(p), Import: "C", Chain: []string{own, "C"}, Why: r.why + "; cgo is not allowed"})
					}
				}
				bad := func(path string) bool {
					b := basePath(path)
					if isStd(byPath, path) {
						return false
					}
					for _, ok := range r.allowed {
						if under(b, ok) || importMatches(b, ok) {
							return false
						}
					}
					return true
				}
				for imp, chain := range reach(byPath, p, bad) {
					add(Violation{Rule: r.name, Package: label(p), Import: imp, Chain: chain, Why: r.why})
				}
			}
		}

		// The client rule also holds for client's own tests.
		if under(own, "client") && k != kindRecomp {
			bad := func(path string) bool {
				b := basePath(path)
				for _, d := range serverDirs {
					if under(b, d) {
						return true
					}
				}
				return false
			}
			for imp, chain := range reach(byPath, p, bad) {
				add(Violation{
					Rule: "client-no-server", Package: label(p), Import: imp, Chain: chain,
					Why: "client/ must not depend, even transitively, on server packages (" + strings.Join(serverDirs, ", ") + ")",
				})
			}
		}
	}

	sort.Slice(out, func(i, j int) bool { return out[i].key() < out[j].key() })
	return out
}
