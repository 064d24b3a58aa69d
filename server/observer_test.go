package server

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/store"
)

// seen is one command an Observer was told of.
type seen struct{ name, code string }

type commandRecorder struct {
	mu   sync.Mutex
	cmds []seen
}

func (r *commandRecorder) Command(name string, took time.Duration, code string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if took < 0 {
		panic("negative duration")
	}
	r.cmds = append(r.cmds, seen{name, code})
}

func (r *commandRecorder) got() []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]seen(nil), r.cmds...)
}

// TestObserverSeesEveryCommandOnce sends one pipeline of writes (some
// deferred behind others), reads and errors, and checks that every command
// is reported once, in reply order, with its reply's error code.
func TestObserverSeesEveryCommandOnce(t *testing.T) {
	rec := &commandRecorder{}
	srv, _ := testServer(t, func(c *Config) { c.Observer = rec })
	c := dialRaw(t, srv)
	big := strings.Repeat("k", store.MaxKeySize+1)
	var b strings.Builder
	for _, cmd := range [][]string{{"SET", "a", "1"}, {"SET", "b", "2"}, {"SET", big, "v"}, {"GET", "a"}, {"FOO"},
		{"VUSE", "nope", "0"}, {"SET", "c", "3"}, {"DEL", "a"}, {"PING"}} {
		fmt.Fprintf(&b, "*%d\r\n", len(cmd))
		for _, a := range cmd {
			fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
		}
	}
	c.send(b.String())
	for _, want := range []string{"+OK", "+OK", "-TOOLARGE", "$1", "1", "-ERR unknown", "-NOSHARD", "-NOSHARD", "-NOSHARD", "+PONG"} {
		l := c.line()
		require.True(t, strings.HasPrefix(l, want), "%s: %s", want, l)
	}
	require.Eventually(t, func() bool { return len(rec.got()) == 9 }, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, []seen{
		{"SET", ""}, {"SET", ""}, {"SET", "TOOLARGE"}, {"GET", ""}, {"unknown", "ERR"},
		{"VUSE", "NOSHARD"}, {"SET", "NOSHARD"}, {"DEL", "NOSHARD"}, {"PING", ""},
	}, rec.got())
}
