package peerclient

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/vasto-kv/vasto/internal/secure"
	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/server/resp"
)

// Client is one RESP connection from a store to another store, for
// what stores ask each other: dump pages (VDUMP, for a re-bootstrap, a copy
// from another DC or a resize fill) and small commands (VLOGINFO, VFENCE,
// VUSE). It reads the replies with resp.ReplyReader, element by element,
// instead of through go-redis's generic reply tree: dumped keys and records are sliced out of large buffers (an
// arena) that live until reset, so a page costs a few allocations instead
// of several per record. Not safe for concurrent use; after an I/O or
// protocol error (not an error reply) it is broken and must be closed.
type Client struct {
	conn   net.Conn
	r      *resp.ReplyReader
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

// IsCode reports whether err is an error reply of the peer with that code
// ("NOSHARD ...", "BEHIND ...").
func IsCode(err error, code string) bool {
	var re *resp.ReplyError
	return errors.As(err, &re) && strings.HasPrefix(re.Msg, code+" ")
}

// Options are how a store dials other stores.
type Options struct {
	// TLS, when set, makes the dial speak TLS (secure.TLSFiles Client
	// builds it); its ServerName, when empty, is the dialled address's
	// host.
	TLS *tls.Config
	// User, when set, authenticates each connection: AUTH User Password is
	// sent right after connecting and an error reply fails the dial.
	User     string
	Password secure.Secret
}

// dialTimeout bounds connecting, the TLS handshake and AUTH.
const dialTimeout = 5 * time.Second

// Dial connects to the RESP address of another store, over TLS and
// authenticated as opts say.
func Dial(ctx context.Context, addr string, opts Options) (*Client, error) {
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	conn, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if opts.TLS != nil {
		tc := tls.Client(conn, secure.ForAddr(opts.TLS, addr))
		if err := tc.HandshakeContext(dctx); err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("peerclient: TLS to %s: %w", addr, err)
		}
		conn = tc
	}
	c := &Client{conn: conn, r: resp.NewReplyReader(conn, 256<<10, maxDumpBulk), w: bufio.NewWriter(conn)}
	if opts.User != "" {
		if err := c.auth(dctx, opts.User, opts.Password); err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("peerclient: %s: %w", addr, err)
		}
	}
	return c, nil
}

// auth sends AUTH user password and reads its reply before ctx ends.
func (d *Client) auth(ctx context.Context, user string, password secure.Secret) error {
	deadline, _ := ctx.Deadline()
	if err := d.conn.SetDeadline(deadline); err != nil {
		return err
	}
	d.writeCommand([]byte("AUTH"), []byte(user), []byte(password.Reveal()))
	if err := d.w.Flush(); err != nil {
		return err
	}
	_, err := d.r.ReadStatus()
	var re *resp.ReplyError
	if errors.As(err, &re) {
		// A peer may echo the arguments (an unknown command's error does):
		// the password never reaches the error.
		msg := re.Msg
		if !password.IsZero() {
			msg = strings.ReplaceAll(msg, password.Reveal(), "[redacted]")
		}
		return fmt.Errorf("%w: AUTH as %s: %s", ErrAuth, user, msg)
	}
	if err != nil {
		d.broken = true
	}
	return err
}

// DialAs is Dial returning the client as I, an interface *Client
// implements (the Peer of a package that asks other stores), and nil rather
// than a nil *Client on error.
func DialAs[I any](ctx context.Context, addr string, opts Options) (I, error) {
	var zero I
	c, err := Dial(ctx, addr, opts)
	if err != nil {
		return zero, err
	}
	return any(c).(I), nil
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
	if err := d.send(keyspace, shard, dumpPageTimeout, args...); err != nil {
		return nil, nil, err
	}
	next, out, err := d.readPage()
	if err != nil {
		return nil, nil, d.fail("VDUMP", err)
	}
	return next, out, nil
}

// send selects (keyspace, shard) and sends one command; its reply is next
// on the connection. A VUSE error reply is returned (with the command's
// reply read and dropped).
func (d *Client) send(keyspace string, shard uint32, timeout time.Duration, args ...[]byte) error {
	if d.broken {
		return fmt.Errorf("%w: connection broken by an earlier error", ErrReply)
	}
	if err := d.exchange(keyspace, shard, timeout, args); err != nil {
		return d.fail("VUSE", err)
	}
	_, err := d.r.ReadStatus()
	var re *resp.ReplyError
	if !errors.As(err, &re) {
		return d.fail("VUSE", err)
	}
	// The command's reply follows whatever VUSE answered. When it does not
	// come (a TLS port refusing plaintext answers once and closes), the
	// VUSE error says why.
	if serr := d.r.Skip(); serr != nil {
		return errors.Join(fmt.Errorf("VUSE %s %d: %w", keyspace, shard, err), d.fail(string(args[0]), serr))
	}
	return fmt.Errorf("VUSE %s %d: %w", keyspace, shard, err)
}

// exchange writes VUSE and the command under a deadline of timeout.
func (d *Client) exchange(keyspace string, shard uint32, timeout time.Duration, args [][]byte) error {
	if err := d.conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	d.writeCommand([]byte("VUSE"), []byte(keyspace), []byte(strconv.FormatUint(uint64(shard), 10)))
	d.writeCommand(args...)
	return d.w.Flush()
}

// fail returns err of command cmd: an error reply as is (the connection
// stays usable), anything else breaking the connection, a malformed reply
// as ErrReply.
func (d *Client) fail(cmd string, err error) error {
	var re *resp.ReplyError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &re):
		return fmt.Errorf("%s: %w", cmd, err)
	case errors.Is(err, resp.ErrProtocol):
		d.broken = true
		return fmt.Errorf("%w: %s reply: %w", ErrReply, cmd, err)
	default:
		d.broken = true
		return err
	}
}

// Use reports whether the peer holds (keyspace, shard): nil, or the VUSE
// error reply (NOSHARD when it does not hold it).
func (d *Client) Use(keyspace string, shard uint32) error {
	if err := d.send(keyspace, shard, peerCommandTimeout, []byte("PING")); err != nil {
		return err
	}
	_, err := d.r.ReadStatus()
	return d.fail("PING", err)
}

// Ints sends a command on (keyspace, shard) that answers an array of
// integers (VLOGINFO, VFENCE).
func (d *Client) Ints(keyspace string, shard uint32, args ...string) ([]int64, error) {
	b := make([][]byte, len(args))
	for i, a := range args {
		b[i] = []byte(a)
	}
	if err := d.send(keyspace, shard, peerCommandTimeout, b...); err != nil {
		return nil, err
	}
	out, err := d.readInts()
	if err != nil {
		return nil, d.fail(args[0], err)
	}
	return out, nil
}

// readInts reads an array of at most 16 integers.
func (d *Client) readInts() ([]int64, error) {
	n, err := d.r.ReadArrayLen()
	if err != nil {
		return nil, err
	}
	if n < 0 || n > 16 {
		return nil, fmt.Errorf("%w: array of %d integers", resp.ErrProtocol, n)
	}
	out := make([]int64, n)
	for i := range out {
		if out[i], err = d.r.ReadInt(); err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
	}
	return out, nil
}

// readPage reads a VDUMP reply: the next start and the page.
func (d *Client) readPage() ([]byte, []lww.Change, error) {
	if n, err := d.r.ReadArrayLen(); err != nil || n != 2 {
		return nil, nil, orShape(err, "reply of %d elements", n)
	}
	next, err := d.r.ReadBulk(nil)
	if err != nil {
		return nil, nil, err
	}
	if len(next) == 0 {
		next = nil // the end (an empty cursor is never a key)
	}
	n, err := d.r.ReadArrayLen()
	if err != nil || n < 0 || n%2 != 0 {
		return nil, nil, orShape(err, "%d entries", n)
	}
	out := make([]lww.Change, 0, n/2)
	for i := 0; i < n; i += 2 {
		if i%(2*yieldEvery) == 0 {
			runtime.Gosched()
		}
		ch, err := d.readChange()
		if err != nil {
			return nil, nil, err
		}
		out = append(out, ch)
	}
	return next, out, nil
}

// readChange reads one key and its encoded record into the arena.
func (d *Client) readChange() (lww.Change, error) {
	key, err := d.r.ReadBulk(d.alloc)
	if err != nil {
		return lww.Change{}, err
	}
	raw, err := d.r.ReadBulk(d.alloc)
	if err != nil {
		return lww.Change{}, err
	}
	rec, err := lww.DecodeRecord(raw)
	if err != nil {
		return lww.Change{}, fmt.Errorf("%w: VDUMP record of %q: %w", ErrCorrupt, key, err)
	}
	return lww.Change{Key: key, Record: rec}, nil
}

// orShape returns err, or else a protocol error for a reply of the wrong
// shape, described by format and n.
func orShape(err error, format string, n int) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: "+format, resp.ErrProtocol, n)
}
