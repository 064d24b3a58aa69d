package archtest

import (
	"slices"
	"strings"
	"testing"
)

// Self-checks: run Check on synthetic `go list -deps -test` graphs so that the
// rule engine is shown to catch violations, not just to pass on a clean tree.

const m = modulePath + "/"

// graph builds a package list from "path: imp1 imp2 ..." lines. Paths without
// a dot in the first element are standard library. "p [q.test]" variants get
// ForTest = q; Deps are computed transitively from Imports.
func graph(t *testing.T, lines ...string) []*Package {
	t.Helper()
	byPath := map[string]*Package{}
	var order []string
	get := func(path string) *Package {
		if p, ok := byPath[path]; ok {
			return p
		}
		p := &Package{ImportPath: path, Name: "x"}
		base := basePath(path)
		if strings.HasSuffix(path, ".test") {
			p.Name = "main" // generated test main
		}
		if i := strings.Index(path, " ["); i >= 0 {
			p.ForTest = strings.TrimSuffix(path[i+2:len(path)-1], ".test")
			if base == p.ForTest+"_test" {
				p.Name = "x_test"
			}
		}
		first, _, _ := strings.Cut(base, "/")
		p.Standard = !strings.Contains(first, ".") && path != "C"
		byPath[path] = p
		order = append(order, path)
		return p
	}
	for _, l := range lines {
		from, imps, ok := strings.Cut(l, ":")
		if !ok {
			t.Fatalf("bad graph line %q", l)
		}
		p := get(strings.ReplaceAll(strings.TrimSpace(from), "+", " "))
		for _, imp := range strings.Fields(imps) {
			imp = strings.ReplaceAll(imp, "+", " ") // "p+[q.test]" spells a variant
			get(imp)
			p.Imports = append(p.Imports, imp)
		}
	}
	var deps func(string, map[string]bool)
	deps = func(path string, acc map[string]bool) {
		for _, imp := range byPath[path].Imports {
			if imp != "C" && !acc[imp] {
				acc[imp] = true
				deps(imp, acc)
			}
		}
	}
	var pkgs []*Package
	for _, path := range order {
		acc := map[string]bool{}
		deps(path, acc)
		for d := range acc {
			byPath[path].Deps = append(byPath[path].Deps, d)
		}
		slices.Sort(byPath[path].Deps)
		pkgs = append(pkgs, byPath[path])
	}
	return pkgs
}

// cleanTree is a layering that respects every rule, including test files
// that import things the non-test rules would forbid.
func cleanTree() []string {
	return []string{
		m + "lww: fmt sort " + m + "lww/codec",
		m + "lww/codec: encoding/binary",
		m + "lww+[" + m + "lww.test]: fmt testing github.com/stretchr/testify/require",
		"github.com/stretchr/testify/require: fmt",
		m + "store: " + m + "lww github.com/linxGnu/grocksdb",
		m + "server/resp: bufio",
		m + "server: net " + m + "server/resp " + m + "store " + m + "wire " + m + "lww",
		"github.com/linxGnu/grocksdb: C unsafe",
		m + "store+[" + m + "store.test]: " + m + "lww github.com/linxGnu/grocksdb flag testing",
		m + "bus: github.com/nats-io/nats.go",
		"github.com/nats-io/nats.go: net",
		m + "master: " + m + "bus " + m + "lww",
		m + "internal/peerclient: bufio " + m + "lww",
		m + "replica: " + m + "store " + m + "bus " + m + "internal/peerclient " + m + "topology",
		m + "dc: " + m + "store " + m + "bus " + m + "internal/peerclient " + m + "topology",
		m + "replica+[" + m + "replica.test]: " + m + "store " + m + "server testing " + m + "internal/bustest " + m + "internal/shardtest",
		m + "dc_test+[" + m + "dc.test]: " + m + "dc+[" + m + "dc.test] " + m + "internal/bustest",
		m + "dc+[" + m + "dc.test]: " + m + "store " + m + "bus",
		m + "internal/bustest: " + m + "bus",
		m + "internal/shardtest: " + m + "store " + m + "internal/storetest",
		m + "internal/storetest: " + m + "store",
		m + "client: net " + m + "lww " + m + "wire",
		m + "wire: strconv",
		m + "topology: " + m + "lww github.com/cespare/xxhash/v2",
		"github.com/cespare/xxhash/v2: math/bits",
		m + "client_test+[" + m + "client.test]: " + m + "client+[" + m + "client.test] testing github.com/stretchr/testify/require",
		m + "client+[" + m + "client.test]: net " + m + "lww",
		// Names that merely start like a guarded directory are not in it.
		m + "clientutil: " + m + "store",
		m + "cmd/vasto: flag os " + m + "store " + m + "master " + m + "client",
		m + "cmd/vasto.test: testing",
	}
}

func keys(vs []Violation) []string {
	var ks []string
	for _, v := range vs {
		ks = append(ks, v.key())
	}
	return ks
}

func TestCheckCleanTree(t *testing.T) {
	if vs := Check(graph(t, cleanTree()...)); len(vs) != 0 {
		for _, v := range vs {
			t.Errorf("unexpected violation: %s", v)
		}
	}
}

func TestCheckCatchesViolations(t *testing.T) {
	clean := cleanTree()

	cases := []struct {
		name  string
		extra []string // lines added to the clean tree
		want  []string // violation keys
	}{
		{
			name:  "lww imports third-party directly",
			extra: []string{m + "lww/clock: time github.com/cespare/xxhash/v2", "github.com/cespare/xxhash/v2: math/bits"},
			want:  []string{"lww-stdlib-only|" + m + "lww/clock|github.com/cespare/xxhash/v2"},
		},
		{
			name: "lww imports third-party transitively",
			extra: []string{
				m + "lww/x: " + m + "lww/y",
				m + "lww/y: " + m + "internal/hash",
				m + "internal/hash: github.com/cespare/xxhash/v2",
				"github.com/cespare/xxhash/v2: math/bits",
			},
			// lww/x reaches a non-lww module package through lww/y.
			want: []string{
				"lww-stdlib-only|" + m + "lww/x|" + m + "internal/hash",
				"lww-stdlib-only|" + m + "lww/y|" + m + "internal/hash",
			},
		},
		{
			name:  "lww uses cgo",
			extra: []string{m + "lww/fast: C unsafe"},
			want:  []string{"lww-stdlib-only|" + m + "lww/fast|C"},
		},
		{
			name:  "wire imports a module package",
			extra: []string{m + "wire: strconv " + m + "topology", m + "topology: " + m + "lww"},
			want:  []string{"wire-stdlib-only|" + m + "wire|" + m + "topology"},
		},
		{
			name:  "topology reaches the bus",
			extra: []string{m + "topology/x: " + m + "bus"},
			want:  []string{"topology-pure|" + m + "topology/x|" + m + "bus"},
		},
		{
			name:  "the drill checker reaches the bus",
			extra: []string{m + "chaos/check: " + m + "lww " + m + "bus"},
			want:  []string{"chaos-check-pure|" + m + "chaos/check|" + m + "bus"},
		},
		{
			name:  "the drill checker uses lww and topology",
			extra: []string{m + "chaos/check: encoding/json " + m + "lww " + m + "topology"},
		},
		{
			name:  "chaos reaches a store's internals",
			extra: []string{m + "chaos: " + m + "internal/glue", m + "internal/glue: " + m + "server"},
			want:  []string{"chaos-from-outside|" + m + "chaos|" + m + "server"},
		},
		{
			name:  "chaos imports the embedded NATS server",
			extra: []string{m + "chaos/x: " + m + "bus/embedded"},
			want:  []string{"chaos-from-outside|" + m + "chaos/x|" + m + "bus/embedded"},
		},
		{
			name:  "chaos uses the bus, the client and go-redis",
			extra: []string{m + "chaos: " + m + "bus " + m + "client " + m + "lww " + m + "topology " + m + "wire github.com/redis/go-redis/v9 github.com/hashicorp/go-hclog"},
		},
		{
			name:  "grocksdb outside store",
			extra: []string{m + "dc: github.com/linxGnu/grocksdb"},
			want:  []string{"rocksdb-only-in-store|" + m + "dc|github.com/linxGnu/grocksdb"},
		},
		{
			name:  "grocksdb in a sibling named like store",
			extra: []string{m + "storefront: github.com/linxGnu/grocksdb"},
			want:  []string{"rocksdb-only-in-store|" + m + "storefront|github.com/linxGnu/grocksdb"},
		},
		{
			name:  "prometheus outside internal/metrics",
			extra: []string{m + "store: github.com/prometheus/client_golang/prometheus", "github.com/prometheus/client_golang/prometheus: net"},
			want:  []string{"prometheus-only-in-metrics|" + m + "store|github.com/prometheus/client_golang/prometheus"},
		},
		{
			name:  "prometheus in internal/metrics",
			extra: []string{m + "internal/metrics: github.com/prometheus/client_golang/prometheus " + m + "store"},
		},
		{
			name:  "nats outside bus",
			extra: []string{m + "master/elect: github.com/nats-io/nats-server/v2/server", "github.com/nats-io/nats-server/v2/server: net"},
			want:  []string{"nats-only-in-bus|" + m + "master/elect|github.com/nats-io/nats-server/v2/server"},
		},
		{
			name:  "server imports the bus",
			extra: []string{m + "server/admin: " + m + "server " + m + "bus"},
			want:  []string{"server-no-bus|" + m + "server/admin|" + m + "bus"},
		},
		{
			name:  "server imports nats",
			extra: []string{m + "server: net " + m + "store github.com/nats-io/nats.go"},
			want: []string{
				"nats-only-in-bus|" + m + "server|github.com/nats-io/nats.go",
				"server-no-bus|" + m + "server|github.com/nats-io/nats.go",
			},
		},
		{
			name:  "server reaches the bus through store",
			extra: []string{m + "store: " + m + "store/agent", m + "store/agent: " + m + "bus"},
			want: []string{
				"server-no-bus|" + m + "server|" + m + "bus",
				"store-engine-only|" + m + "store/agent|" + m + "bus",
				"store-engine-only|" + m + "store|" + m + "bus",
			},
		},
		{
			name:  "store imports a RESP package",
			extra: []string{m + "store: " + m + "internal/peerclient"},
			want:  []string{"store-engine-only|" + m + "store|" + m + "internal/peerclient"},
		},
		{
			name:  "store reaches nats",
			extra: []string{m + "store/x: " + m + "internal/q", m + "internal/q: github.com/nats-io/nats.go"},
			want: []string{
				"nats-only-in-bus|" + m + "internal/q|github.com/nats-io/nats.go",
				"store-engine-only|" + m + "store/x|github.com/nats-io/nats.go",
			},
		},
		{
			name:  "replica imports dc",
			extra: []string{m + "replica: " + m + "dc"},
			want:  []string{"replica-no-dc|" + m + "replica|" + m + "dc"},
		},
		{
			name:  "dc reaches replica",
			extra: []string{m + "dc/x: " + m + "internal/glue", m + "internal/glue: " + m + "replica"},
			want:  []string{"dc-no-replica|" + m + "dc/x|" + m + "replica"},
		},
		{
			name:  "client imports replica",
			extra: []string{m + "client/x: " + m + "replica"},
			want:  []string{"client-no-server|" + m + "client/x|" + m + "replica"},
		},
		{
			name:  "flag outside cmd",
			extra: []string{m + "chaos: flag os"},
			want:  []string{"flag-only-in-cmd|" + m + "chaos|flag"},
		},
		{
			name:  "client imports a server package transitively",
			extra: []string{m + "client/pool: " + m + "client/internal/wire", m + "client/internal/wire: " + m + "server/resp"},
			want: []string{
				"client-no-server|" + m + "client/internal/wire|" + m + "server/resp",
				"client-no-server|" + m + "client/pool|" + m + "server/resp",
			},
		},
		{
			name:  "client test imports a server package",
			extra: []string{m + "client_test+[" + m + "client.test]: " + m + "client+[" + m + "client.test] " + m + "bus/embedded"},
			want:  []string{"client-no-server|" + m + "client_test (external _test.go package)|" + m + "bus/embedded"},
		},
		{
			name:  "code imports a test-support package",
			extra: []string{m + "replica: " + m + "store " + m + "internal/bustest"},
			want:  []string{"test-support-only-in-tests|" + m + "replica|" + m + "internal/bustest"},
		},
		{
			name:  "storenode imports an in-memory twin",
			extra: []string{m + "internal/storenode: " + m + "internal/shardtest"},
			want:  []string{"test-support-only-in-tests|" + m + "internal/storenode|" + m + "internal/shardtest"},
		},
		{
			name:  "client imports the gateway",
			extra: []string{m + "client/x: " + m + "gateway"},
			want:  []string{"client-no-server|" + m + "client/x|" + m + "gateway"},
		},
		{
			name:  "gateway reaches store through server",
			extra: []string{m + "gateway: " + m + "client " + m + "server/resp " + m + "server"},
			want:  []string{"gateway-no-engine|" + m + "gateway|" + m + "store"},
		},
		{
			name:  "client imports cmd",
			extra: []string{m + "client/cli: " + m + "cmd/vasto"},
			want:  []string{"client-no-server|" + m + "client/cli|" + m + "cmd/vasto"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := keys(Check(graph(t, append(slices.Clone(clean), tc.extra...)...)))
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("violations:\n got  %q\n want %q", got, want)
			}
		})
	}
}

// An import graph that lost edges (load errors) must still be caught through
// Deps.
func TestCheckUsesDepsWhenGraphIncomplete(t *testing.T) {
	pkgs := []*Package{{
		ImportPath: m + "client",
		Imports:    []string{m + "client/broken"},
		Deps:       []string{m + "client/broken", m + "master"},
	}}
	got := Check(pkgs)
	if len(got) != 1 || got[0].key() != "client-no-server|"+m+"client|"+m+"master" {
		t.Fatalf("got %v, want one client-no-server violation for master", got)
	}
	if msg := got[0].String(); !strings.Contains(msg, m+"client imports "+m+"master") {
		t.Errorf("message does not name package and import: %q", msg)
	}
}

func TestViolationMessageShowsChain(t *testing.T) {
	v := Violation{Rule: "r", Package: "a", Import: "c", Chain: []string{"a", "b", "c"}, Why: "because"}
	if got, want := v.String(), "[r] a imports c (via a -> b -> c): because"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
