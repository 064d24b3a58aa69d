package metrics

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/lww"
)

// definedNames lists the names of every Vasto metric the collectors
// define.
func definedNames(t *testing.T) []string {
	t.Helper()
	reg := NewRegistry()
	s, err := NewStore(reg, "dc1", "s1", lww.SystemClock())
	require.NoError(t, err)
	defer s.Close()
	ch := make(chan *prometheus.Desc, 256)
	s.Describe(ch)
	master{}.Describe(ch)
	changeLog{}.Describe(ch)
	g, err := NewGateway(reg, "dc1")
	require.NoError(t, err)
	defer g.Close()
	g.cmds.Describe(ch)
	close(ch)
	fq := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	var names []string
	for d := range ch {
		m := fq.FindStringSubmatch(d.String())
		require.NotNil(t, m, d.String())
		names = append(names, m[1])
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// usedNames lists the vasto_ metric names a document mentions, with a
// histogram's _bucket, _sum and _count suffixes dropped and "_misses_total"
// style shorthands ("`vasto_x_hits_total`, `_misses_total`") expanded.
func usedNames(text string) []string {
	var names []string
	for _, m := range regexp.MustCompile(`vasto_[a-z_]+`).FindAllString(text, -1) {
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			m = strings.TrimSuffix(m, suffix)
		}
		names = append(names, m)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// TestDocsNameRealMetrics keeps the dashboard and the operations guide
// true: every metric they name exists, and the guide's table names every
// metric.
func TestDocsNameRealMetrics(t *testing.T) {
	defined := definedNames(t)
	dashboard, err := os.ReadFile("../../docs/grafana-vasto.json")
	require.NoError(t, err)
	doc, err := os.ReadFile("../../docs/operations.md")
	require.NoError(t, err)
	_, ops, ok := strings.Cut(string(doc), "\n## Metrics\n")
	require.True(t, ok, "operations.md has a Metrics section")
	ops, _, _ = strings.Cut(ops, "\n## ")
	for name, text := range map[string]string{"docs/grafana-vasto.json": string(dashboard), "operations.md#metrics": ops} {
		for _, n := range usedNames(text) {
			require.Contains(t, defined, n, "%s names a metric that does not exist", name)
		}
	}
	for _, n := range defined {
		short := "`_" + strings.TrimPrefix(n, "vasto_rocksdb_block_cache_") + "`"
		require.True(t, strings.Contains(ops, "`"+n+"`") || strings.Contains(ops, short),
			"operations.md#metrics does not describe %s", n)
	}
}
