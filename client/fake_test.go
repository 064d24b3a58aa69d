package client

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/vasto-kv/vasto/topology"
)

// fakeStore is a minimal in-process RESP2 server with the Vasto commands
// the client uses (VUSE, VSET, VDEL, VGET, VSCAN, HELLO), for unit tests of
// routing, pipelining and retries without a real store.
type fakeStore struct {
	t    *testing.T
	id   string
	ln   net.Listener
	wg   sync.WaitGroup
	addr string

	mu    sync.Mutex
	held  map[string]bool                // "ks/shard" the store holds
	data  map[string]map[string]fakeItem // "ks/shard" -> key -> item
	clock int64
	index uint64
	// fail answers every data command of a held shard with this error.
	fail string
	// failVUSE answers VUSE with this error (when set).
	failVUSE string
	log      []string // "CMD ks/shard [key]" of every command served
	vuses    []string // every VUSE with its arguments, e.g. "VUSE ks 1 EPOCH 9"
	pipes    int      // VUSE commands seen (one per pipeline)
	conns    map[net.Conn]bool
	// gate, when set, holds every command read until it is closed: the
	// store is frozen (like a process stopped with SIGSTOP, its socket
	// still accepts connections and requests, and go-redis' HELLO on a
	// new connection waits like the rest). stalled counts the commands
	// waiting at it, by name.
	gate    chan struct{}
	stalled map[string]int
	// times lists the event time of every VSET and VDEL served, by key.
	times map[string][]int64
	// dropReply makes the next write be applied (and copied to peer, as
	// replication would) and then the connection closed without a reply.
	dropReply bool
	peer      *fakeStore
	// afters lists the AFTER token of every VGET served ("" for none).
	afters []string
	// caughtUp is, per peer, the index of its log up to which catchUp
	// applied it.
	caughtUp map[string]uint64
}

type fakeItem struct {
	value   []byte
	time    int64
	dc      string
	node    string
	expires int64
	deleted bool
}

func newFakeStore(t *testing.T, id string, held ...string) *fakeStore {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeStore{t: t, id: id, ln: ln, addr: ln.Addr().String(),
		held: map[string]bool{}, data: map[string]map[string]fakeItem{}, clock: 1000, conns: map[net.Conn]bool{},
		times: map[string][]int64{}, stalled: map[string]int{}, caughtUp: map[string]uint64{}}
	for _, h := range held {
		f.held[h] = true
	}
	f.wg.Add(1)
	go f.accept()
	t.Cleanup(f.stop)
	return f
}

// stop closes the listener and every connection (the store is "dead":
// dials are refused).
func (f *fakeStore) stop() {
	f.thaw()
	_ = f.ln.Close()
	f.mu.Lock()
	for c := range f.conns {
		_ = c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

func (f *fakeStore) accept() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.conns[c] = true
		f.mu.Unlock()
		f.wg.Add(1)
		go f.serve(c)
	}
}

// freeze holds every command until thaw; the store still accepts
// connections and reads requests.
func (f *fakeStore) freeze() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gate == nil {
		f.gate = make(chan struct{})
	}
}

// thaw serves the held commands and the next ones again.
func (f *fakeStore) thaw() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gate != nil {
		close(f.gate)
		f.gate = nil
	}
}

// waiting returns how many commands named cmd (e.g. "VUSE": requests;
// "HELLO": new connections) wait at the gate.
func (f *fakeStore) waiting(cmd string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stalled[cmd]
}

// afterTokens returns the AFTER token of every VGET served.
func (f *fakeStore) afterTokens() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.afters...)
}

// eventTimes returns the event times of the writes of key served so far.
func (f *fakeStore) eventTimes(key string) []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int64(nil), f.times[key]...)
}

func (f *fakeStore) setFail(code string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = code
}

func (f *fakeStore) commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}

// vuseCommands returns every VUSE the store got, with its arguments.
func (f *fakeStore) vuseCommands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.vuses...)
}

func (f *fakeStore) pipelines() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pipes
}

func (f *fakeStore) serve(c net.Conn) {
	defer f.wg.Done()
	defer func() {
		f.mu.Lock()
		delete(f.conns, c)
		f.mu.Unlock()
		_ = c.Close()
	}()
	r := bufio.NewReader(c)
	w := bufio.NewWriter(c)
	target := "default/0"
	for {
		args, err := readCommand(r)
		if err != nil {
			return
		}
		name := strings.ToUpper(string(args[0]))
		f.mu.Lock()
		gate := f.gate
		if gate != nil {
			f.stalled[name]++
		}
		f.mu.Unlock()
		if gate != nil {
			<-gate
			f.mu.Lock()
			f.stalled[name]--
			f.mu.Unlock()
		}
		if f.dispatch(w, &target, args) {
			return // the reply is dropped with the connection
		}
		if r.Buffered() == 0 {
			if err := w.Flush(); err != nil {
				return
			}
		}
	}
}

func readCommand(r *bufio.Reader) ([][]byte, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(line, "*") {
		return nil, errors.New("inline commands not supported")
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil {
		return nil, err
	}
	args := make([][]byte, n)
	for i := range args {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		l, err := strconv.Atoi(strings.TrimSpace(line[1:]))
		if err != nil {
			return nil, err
		}
		buf := make([]byte, l+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		args[i] = buf[:l]
	}
	return args, nil
}

// ws writes a reply; write errors surface at Flush.
func ws(w *bufio.Writer, s string) { _, _ = w.WriteString(s) }

func writeBulk(w *bufio.Writer, b []byte) {
	fmt.Fprintf(w, "$%d\r\n", len(b))
	_, _ = w.Write(b)
	ws(w, "\r\n")
}

// dispatch serves one command; it returns true when the connection must
// close without a reply (dropReply).
func (f *fakeStore) dispatch(w *bufio.Writer, target *string, args [][]byte) (drop bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cmd := strings.ToUpper(string(args[0]))
	switch cmd {
	case "HELLO":
		fmt.Fprintf(w, "*6\r\n")
		for _, s := range []string{"server", "vasto", "proto"} {
			writeBulk(w, []byte(s))
		}
		fmt.Fprintf(w, ":2\r\n")
		writeBulk(w, []byte("mode"))
		writeBulk(w, []byte("standalone"))
		return
	case "PING":
		ws(w, "+PONG\r\n")
		return
	case "VUSE":
		f.pipes++
		shard := "0"
		if len(args) > 2 {
			shard = string(args[2])
		}
		t := string(args[1]) + "/" + shard
		f.log = append(f.log, "VUSE "+t)
		full := make([]string, len(args))
		for i, a := range args {
			full[i] = string(a)
		}
		f.vuses = append(f.vuses, strings.Join(full, " "))
		switch {
		case f.failVUSE != "":
			ws(w, "-"+f.failVUSE+"\r\n")
		case !f.held[t]:
			ws(w, "-NOSHARD "+t+" is not held by "+f.id+"\r\n")
		default:
			*target = t
			ws(w, "+OK\r\n")
		}
		return
	}
	entry := cmd + " " + *target
	if len(args) > 1 && cmd != "VSCAN" {
		entry += " " + string(args[1])
	}
	f.log = append(f.log, entry)
	if !f.held[*target] {
		ws(w, "-NOSHARD "+*target+"\r\n")
		return
	}
	if f.fail != "" {
		ws(w, "-"+f.fail+" injected\r\n")
		return
	}
	m := f.data[*target]
	if m == nil {
		m = map[string]fakeItem{}
		f.data[*target] = m
	}
	switch cmd {
	case "VSET", "VDEL":
		key := string(args[1])
		it := fakeItem{dc: "dc1", node: f.id, deleted: cmd == "VDEL"}
		rest := args[3:]
		if cmd == "VSET" {
			it.value = args[2]
		} else {
			rest = args[2:]
		}
		var ttl int64
		for i := 0; i+1 < len(rest); i += 2 {
			n, _ := strconv.ParseInt(string(rest[i+1]), 10, 64)
			switch strings.ToUpper(string(rest[i])) {
			case "EVENTTIME":
				it.time = n
			case "PX":
				ttl = n * 1e6
			default:
				ws(w, "-ERR unsupported option\r\n")
				return
			}
		}
		if it.time == 0 {
			f.clock++
			it.time = f.clock
		}
		if it.time > 1<<62 {
			ws(w, "-BADTIME event time too far in the future\r\n")
			return
		}
		if ttl > 0 {
			it.expires = it.time + ttl
		}
		f.times[key] = append(f.times[key], it.time)
		old, ok := m[key]
		applied := !ok || old.time < it.time
		var idx uint64
		if applied {
			m[key] = it
			f.index++
			idx = f.index
		} else {
			it = old
		}
		if f.dropReply {
			f.dropReply = false
			if f.peer != nil {
				f.peer.replicate(*target, key, it)
			}
			return true
		}
		fmt.Fprintf(w, "*5\r\n:%d\r\n:%d\r\n", map[bool]int{true: 1, false: 0}[applied], it.time)
		writeBulk(w, []byte(it.dc))
		writeBulk(w, []byte(it.node))
		fmt.Fprintf(w, ":%d\r\n", idx)
	case "VGET":
		f.afters = append(f.afters, "")
		if len(args) > 3 && strings.EqualFold(string(args[2]), "AFTER") {
			// A fake has applied its own writes, and a peer's up to
			// where catchUp left it.
			tok := string(args[3])
			f.afters[len(f.afters)-1] = tok
			parts := strings.Split(tok, ":")
			if len(parts) != 4 {
				ws(w, "-ERR bad token\r\n")
				return
			}
			idx, _ := strconv.ParseUint(parts[3], 10, 64)
			if parts[1] != f.id && f.caughtUp[parts[1]] < idx {
				ws(w, "-BEHIND "+tok+" not applied\r\n")
				return
			}
		}
		it, ok := m[string(args[1])]
		if !ok || it.deleted {
			ws(w, "*-1\r\n")
			return
		}
		ws(w, "*5\r\n")
		writeBulk(w, it.value)
		fmt.Fprintf(w, ":%d\r\n", it.time)
		writeBulk(w, []byte(it.dc))
		writeBulk(w, []byte(it.node))
		fmt.Fprintf(w, ":%d\r\n", it.expires)
	case "VSCAN":
		var prefix, start, end []byte
		limit, versions := 100, false
		for i := 1; i < len(args); i++ {
			switch strings.ToUpper(string(args[i])) {
			case "WITHVERSIONS":
				versions = true
			case "PREFIX":
				i++
				prefix = args[i]
			case "START":
				i++
				start = args[i]
			case "END":
				i++
				end = args[i]
			case "LIMIT":
				i++
				limit, _ = strconv.Atoi(string(args[i]))
			}
		}
		if limit <= 0 {
			ws(w, "-ERR bad limit\r\n")
			return
		}
		var keys []string
		for k, it := range m {
			kb := []byte(k)
			if it.deleted || !bytes.HasPrefix(kb, prefix) || bytes.Compare(kb, start) < 0 || (len(end) > 0 && bytes.Compare(kb, end) >= 0) {
				continue
			}
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var next []byte
		if len(keys) > limit {
			next = []byte(keys[limit])
			keys = keys[:limit]
		}
		ws(w, "*2\r\n")
		if next == nil {
			ws(w, "$-1\r\n")
		} else {
			writeBulk(w, next)
		}
		per := 2
		if versions {
			per = 5
		}
		fmt.Fprintf(w, "*%d\r\n", per*len(keys))
		for _, k := range keys {
			it := m[k]
			writeBulk(w, []byte(k))
			writeBulk(w, it.value)
			if versions {
				fmt.Fprintf(w, ":%d\r\n", it.time)
				writeBulk(w, []byte(it.dc))
				writeBulk(w, []byte(it.node))
			}
		}
	default:
		ws(w, "-ERR unknown command '"+cmd+"'\r\n")
	}
	return false
}

// replicate applies an item another store took (last-writer-wins on the
// event time), as a replica applying its peer's change log.
func (f *fakeStore) replicate(target, key string, it fakeItem) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.data[target]
	if m == nil {
		m = map[string]fakeItem{}
		f.data[target] = m
	}
	if old, ok := m[key]; !ok || old.time < it.time {
		m[key] = it
	}
}

// catchUp applies everything peer holds of target, as replication would,
// and records how far it applied peer's log.
func (f *fakeStore) catchUp(peer *fakeStore, target string) {
	peer.mu.Lock()
	items := map[string]fakeItem{}
	for k, it := range peer.data[target] {
		items[k] = it
	}
	index := peer.index
	peer.mu.Unlock()
	for k, it := range items {
		f.replicate(target, k, it)
	}
	f.mu.Lock()
	f.caughtUp[peer.id] = index
	f.mu.Unlock()
}

// connCount returns how many client connections the store has open.
func (f *fakeStore) connCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.conns)
}

// dropConns closes every client connection (a reset), the store staying
// up.
func (f *fakeStore) dropConns() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		_ = c.Close()
	}
}

// put stores an item directly (test setup).
func (f *fakeStore) put(target, key, value string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.data[target]
	if m == nil {
		m = map[string]fakeItem{}
		f.data[target] = m
	}
	f.clock++
	m[key] = fakeItem{value: []byte(value), time: f.clock, dc: "dc1", node: f.id}
}

// testClient returns a client without NATS whose topology is t.
func testClient(t *testing.T, top *topology.Topology) *Client {
	t.Helper()
	cfg := DefaultConfig("nats://127.0.0.1:1", "dc1")
	cfg.Logger = hclog.NewNullLogger()
	cfg.DialTimeout = 500e6
	c := newClient(cfg)
	if top != nil {
		c.setTopology(top)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// fakeTopology builds a topology of the stores with keyspace ks placed by
// placement (store ids, preferred first), every store healthy and serving
// what it holds.
func fakeTopology(ks string, placement [][]string, stores ...*fakeStore) *topology.Topology {
	top := topology.New("dc1")
	top.Version = 1
	for _, s := range stores {
		st := &topology.Store{ID: s.id, Addr: s.addr, Healthy: true}
		s.mu.Lock()
		for h := range s.held {
			st.Serving = append(st.Serving, h)
		}
		s.mu.Unlock()
		sort.Strings(st.Serving)
		top.Stores[s.id] = st
	}
	top.Keyspaces[ks] = &topology.Keyspace{Name: ks, Shards: len(placement), Replicas: len(placement[0]), Placement: placement}
	return top
}
