package peerclient

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/vasto-kv/vasto/lww"
)

// Client is one RESP connection from a store to another store, for
// what stores ask each other: dump pages (VDUMP, for a re-bootstrap, a copy
// from another DC or a resize fill) and small commands (VLOGINFO, VFENCE,
// VUSE). It reads the replies itself instead of through go-redis's generic
// reply tree: dumped keys and records are sliced out of large buffers (an
// arena) that live until reset, so a page costs a few allocations instead
// of several per record. Not safe for concurrent use; after an I/O or
// protocol error (not an error reply) it is broken and must be closed.
type Client struct {
	conn   net.Conn
	r      *bufio.Reader
	w      *bufio.Writer
	broken bool

	chunks [][]byte // the arena: full chunks, then the current one last
	spare  [][]byte // chunks of earlier runs, for reuse
}

const (
	dumpChunk          = 1 << 20
	dumpPageTimeout    = 30 * time.Second
	peerCommandTimeout = 2 * time.Second
	maxDumpBulk        = 64 << 20 // larger than any key or record
	// yieldEvery is how many records of a page are read between yields.
	yieldEvery = 256
)

// replyError is an error reply of the peer ("NOSHARD ...", "BEHIND ...").
type replyError struct{ line string }

func (e *replyError) Error() string { return e.line }

// IsCode reports whether err is an error reply with that code.
func IsCode(err error, code string) bool {
	var pe *replyError
	return errors.As(err, &pe) && strings.HasPrefix(pe.line, code+" ")
}

// Dial connects to the RESP address of another store.
func Dial(ctx context.Context, addr string) (*Client, error) {
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &Client{conn: conn, r: bufio.NewReaderSize(conn, 256<<10), w: bufio.NewWriter(conn)}, nil
}

// Close closes the connection.
func (d *Client) Close() error { return d.conn.Close() }

// Broken reports whether an I/O or protocol error broke the connection: it
// must be closed and dialled again.
func (d *Client) Broken() bool { return d.broken }

// Reset makes the arena's memory reusable: every slice handed out before is
// invalid afterwards.
func (d *Client) Reset() {
	for _, c := range d.chunks {
		d.spare = append(d.spare, c[:0])
	}
	d.chunks = d.chunks[:0]
}

// alloc returns n bytes of the arena.
func (d *Client) alloc(n int) []byte {
	if len(d.chunks) > 0 {
		cur := d.chunks[len(d.chunks)-1]
		if len(cur)+n <= cap(cur) {
			d.chunks[len(d.chunks)-1] = cur[:len(cur)+n]
			return cur[len(cur) : len(cur)+n : len(cur)+n]
		}
	}
	var c []byte
	if k := len(d.spare); k > 0 && n <= cap(d.spare[k-1]) {
		c, d.spare = d.spare[k-1], d.spare[:k-1]
	} else {
		c = make([]byte, 0, max(dumpChunk, n))
	}
	d.chunks = append(d.chunks, c[:n])
	return c[:n:n]
}

func (d *Client) writeCommand(args ...[]byte) {
	_, _ = d.w.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		_, _ = d.w.WriteString("$" + strconv.Itoa(len(a)) + "\r\n")
		_, _ = d.w.Write(a)
		_, _ = d.w.WriteString("\r\n")
	}
}

// Page selects (keyspace, shard) and reads one page of the records that
// move to shard target of a layout of shards shards, from start. It returns
// the next start (nil at the end) and the page, whose keys and values live
// in the arena until reset.
//
// shards 0 dumps every record of the shard (no filter).
func (d *Client) Page(keyspace string, shard uint32, start []byte, limit, shards int, target uint32) ([]byte, []lww.Change, error) {
	args := [][]byte{[]byte("VDUMP"), []byte("LIMIT"), []byte(strconv.Itoa(limit))}
	if shards > 0 {
		args = append(args, []byte("SHARDS"), []byte(strconv.Itoa(shards)), []byte("TARGET"), []byte(strconv.FormatUint(uint64(target), 10)))
	}
	if start != nil {
		args = append(args, []byte("START"), start)
	}
	line, err := d.send(keyspace, shard, dumpPageTimeout, args...)
	if err != nil {
		return nil, nil, err
	}
	next, out, err := d.readPage(line)
	if err != nil {
		d.broken = true
	}
	return next, out, err
}

// send selects (keyspace, shard), sends one command and returns the first
// line of its reply (an error reply of either is returned as a *replyError).
func (d *Client) send(keyspace string, shard uint32, timeout time.Duration, args ...[]byte) (string, error) {
	if d.broken {
		return "", fmt.Errorf("%w: connection broken by an earlier error", ErrReply)
	}
	line, vuseErr, err := d.exchange(keyspace, shard, timeout, args)
	if err != nil {
		d.broken = true
		return "", err
	}
	if vuseErr != nil {
		return "", fmt.Errorf("VUSE %s %d: %w", keyspace, shard, vuseErr)
	}
	if err := dumpReplyError(line); err != nil {
		return "", fmt.Errorf("%s: %w", args[0], err)
	}
	return line, nil
}

func (d *Client) exchange(keyspace string, shard uint32, timeout time.Duration, args [][]byte) (line string, vuseErr, err error) {
	if err := d.conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return "", nil, err
	}
	d.writeCommand([]byte("VUSE"), []byte(keyspace), []byte(strconv.FormatUint(uint64(shard), 10)))
	d.writeCommand(args...)
	if err := d.w.Flush(); err != nil {
		return "", nil, err
	}
	if line, err = d.line(); err != nil {
		return "", nil, err
	}
	vuseErr = dumpReplyError(line)
	// The command's reply follows whatever VUSE answered.
	line, err = d.line()
	return line, vuseErr, err
}

// Use reports whether the peer holds (keyspace, shard): nil, or the VUSE
// error reply (NOSHARD when it does not hold it).
func (d *Client) Use(keyspace string, shard uint32) error {
	_, err := d.send(keyspace, shard, peerCommandTimeout, []byte("PING"))
	return err
}

// Ints sends a command on (keyspace, shard) that answers an array of
// integers (VLOGINFO, VFENCE).
func (d *Client) Ints(keyspace string, shard uint32, args ...string) ([]int64, error) {
	b := make([][]byte, len(args))
	for i, a := range args {
		b[i] = []byte(a)
	}
	line, err := d.send(keyspace, shard, peerCommandTimeout, b...)
	if err != nil {
		return nil, err
	}
	n, err := header(line, '*')
	if err != nil || n < 0 || n > 16 {
		d.broken = true
		return nil, fmt.Errorf("%w: %s reply %q", ErrReply, args[0], line)
	}
	out := make([]int64, n)
	for i := range out {
		l, err := d.line()
		if err == nil {
			var v int
			if v, err = header(l, ':'); err == nil {
				out[i] = int64(v)
				continue
			}
		}
		d.broken = true
		return nil, fmt.Errorf("%w: %s reply element %d: %w", ErrReply, args[0], i, err)
	}
	return out, nil
}

// readPage reads the rest of a VDUMP reply whose first line is line.
func (d *Client) readPage(line string) ([]byte, []lww.Change, error) {
	if n, err := header(line, '*'); err != nil || n != 2 {
		return nil, nil, fmt.Errorf("%w: %q", ErrReply, line)
	}
	next, err := d.bulk(false)
	if err != nil {
		return nil, nil, err
	}
	if len(next) == 0 {
		next = nil // the end (an empty cursor is never a key)
	}
	line, err = d.line()
	if err != nil {
		return nil, nil, err
	}
	n, err := header(line, '*')
	if err != nil || n < 0 || n%2 != 0 {
		return nil, nil, fmt.Errorf("%w: entries %q", ErrReply, line)
	}
	out := make([]lww.Change, 0, n/2)
	for i := 0; i < n; i += 2 {
		if i%(2*yieldEvery) == 0 {
			runtime.Gosched()
		}
		key, err := d.bulk(true)
		if err != nil {
			return nil, nil, err
		}
		raw, err := d.bulk(true)
		if err != nil {
			return nil, nil, err
		}
		rec, err := lww.DecodeRecord(raw)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: VDUMP record of %q: %w", ErrCorrupt, key, err)
		}
		out = append(out, lww.Change{Key: key, Record: rec})
	}
	return next, out, nil
}

// line reads one reply line without its CRLF (a copy).
func (d *Client) line() (string, error) {
	b, err := d.r.ReadSlice('\n')
	if err != nil {
		return "", err
	}
	if len(b) < 3 || b[len(b)-2] != '\r' {
		return "", fmt.Errorf("%w: line %q", ErrReply, b)
	}
	return string(b[:len(b)-2]), nil
}

// bulk reads a bulk string: into the arena, or (inArena false) a fresh
// slice; nil for the null bulk string.
func (d *Client) bulk(inArena bool) ([]byte, error) {
	line, err := d.line()
	if err != nil {
		return nil, err
	}
	n, err := header(line, '$')
	if err != nil || n > maxDumpBulk {
		return nil, fmt.Errorf("%w: bulk %q", ErrReply, line)
	}
	if n < 0 {
		return nil, nil
	}
	var b []byte
	if inArena {
		b = d.alloc(n)
	} else {
		b = make([]byte, n)
	}
	if _, err := io.ReadFull(d.r, b); err != nil {
		return nil, err
	}
	if cr, err := d.r.ReadByte(); err != nil || cr != '\r' {
		return nil, fmt.Errorf("%w: bulk not terminated", ErrReply)
	}
	if lf, err := d.r.ReadByte(); err != nil || lf != '\n' {
		return nil, fmt.Errorf("%w: bulk not terminated", ErrReply)
	}
	return b, nil
}

// header parses "<typ><n>".
func header(line string, typ byte) (int, error) {
	if len(line) < 2 || line[0] != typ {
		return 0, ErrReply
	}
	return strconv.Atoi(line[1:])
}

// dumpReplyError returns the error of an error reply line, else nil.
func dumpReplyError(line string) error {
	if len(line) > 0 && line[0] == '-' {
		return &replyError{line: line[1:]}
	}
	return nil
}
