package gateway

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/vasto-kv/vasto/client"
	"github.com/vasto-kv/vasto/internal/acl"
	"github.com/vasto-kv/vasto/server/resp"
	"github.com/vasto-kv/vasto/wire"
)

// kind says how a call is answered.
type kind uint8

const (
	kError   kind = iota // the call's err
	kSimple              // the call's text as a simple string
	kBulk                // the call's data as a bulk string
	kInt                 // the call's num
	kArray               // the call's vals as bulk strings
	kScan                // [cursor text, vals]
	kValue               // the reply as the store sent it (VSET, VGET, TTL)
	kNullArr             // the reply as sent, a null as a null array (VGET)
	kGet                 // bulk string or null
	kOK                  // +OK, or null (SET NX/XX not applied)
	kSum                 // the sum of n integer replies (DEL, EXISTS)
	kMGet                // n bulk strings or nulls
	kAllOK               // +OK once all n succeeded (MSET)
	kFirst               // the first of n replies as a bulk string (GETSET, GETDEL)
	kType                // "string" or "none" from EXISTS
)

// call is one client command to answer.
type call struct {
	kind     kind
	first, n int // its store commands in the batch
	err      error
	text     string
	data     []byte
	num      int64
	vals     [][]byte
	// name and start are the command's, when an Observer is set.
	name  string
	start time.Time
}

// render writes the reply of cl; reps are the batch's replies (err fails
// them all).
func (c *conn) render(cl *call, reps []client.Reply, err error) {
	w := c.w
	switch cl.kind {
	case kError:
		c.writeErr(cl.err)
		return
	case kSimple:
		w.WriteSimple(cl.text)
		return
	case kBulk:
		w.WriteBulk(cl.data)
		return
	case kInt:
		w.WriteInt(cl.num)
		return
	case kArray:
		writeBulks(w, cl.vals)
		return
	case kScan:
		w.WriteArray(2)
		w.WriteBulkString(cl.text)
		writeBulks(w, cl.vals)
		return
	}
	if err != nil {
		c.writeErr(err)
		return
	}
	rs := reps[cl.first : cl.first+cl.n]
	for i := range rs {
		// Every reply but the first of GETSET/GETDEL decides nothing
		// else: the call fails with the first error of its commands.
		if rs[i].Err != nil {
			c.writeErr(rs[i].Err)
			return
		}
	}
	switch cl.kind {
	case kValue:
		writeValue(w, rs[0].Val, false)
	case kNullArr:
		writeValue(w, rs[0].Val, true)
	case kGet, kFirst:
		writeValue(w, rs[0].Val, false)
	case kOK:
		if rs[0].Val == nil {
			w.WriteNull()
		} else {
			w.WriteSimple("OK")
		}
	case kAllOK:
		w.WriteSimple("OK")
	case kSum:
		var n int64
		for _, r := range rs {
			v, _ := r.Val.(int64)
			n += v
		}
		w.WriteInt(n)
	case kMGet:
		w.WriteArray(len(rs))
		for _, r := range rs {
			writeValue(w, r.Val, false)
		}
	case kType:
		if v, _ := rs[0].Val.(int64); v > 0 {
			w.WriteSimple("string")
		} else {
			w.WriteSimple("none")
		}
	}
}

// writeBulks writes an array of bulk strings.
func writeBulks(w *resp.Writer, vals [][]byte) {
	w.WriteArray(len(vals))
	for _, v := range vals {
		w.WriteBulk(v)
	}
}

// writeValue writes a reply as go-redis parsed it: strings as bulk
// strings, nil as a null bulk (or a null array).
func writeValue(w *resp.Writer, v any, nullArray bool) {
	switch x := v.(type) {
	case nil:
		if nullArray {
			w.WriteNullArray()
		} else {
			w.WriteNull()
		}
	case string:
		w.WriteBulkString(x)
	case []byte:
		w.WriteBulk(x)
	case int64:
		w.WriteInt(x)
	case []any:
		w.WriteArray(len(x))
		for _, e := range x {
			writeValue(w, e, false)
		}
	default:
		w.WriteError("ERR unexpected reply from the store")
	}
}

func (c *conn) writeErr(err error) {
	msg := replyError(err)
	if c.g.cfg.Observer != nil {
		c.code, _, _ = strings.Cut(msg, " ")
	}
	c.w.WriteError(msg)
}

// Codes of the gateway's own errors on the wire (docs/protocol.md).
const (
	// codeTryAgain: no replica of the shard answered within the retries
	// (Redis clients know TRYAGAIN as "send it again").
	codeTryAgain = "TRYAGAIN"
)

// replyError maps an error to the text of a RESP error reply: a store's
// own error as it sent it, the client's errors to the store codes.
func replyError(err error) string {
	if msg, ok := acl.Reply(err); ok {
		return msg
	}
	var se *client.StoreError
	var re redisError
	switch {
	case errors.As(err, &re):
		return wire.CodeErr + " " + string(re)
	case errors.Is(err, errSyntax):
		return wire.CodeErr + " " + trimPrefixes(err.Error())
	case errors.Is(err, errShuttingDown), errors.Is(err, client.ErrClosed):
		return wire.CodeClosed + " gateway shutting down"
	case errors.Is(err, client.ErrUnavailable), errors.Is(err, client.ErrNoReplica),
		errors.Is(err, context.DeadlineExceeded):
		return codeTryAgain + " " + trimPrefixes(err.Error())
	case errors.As(err, &se):
		if se.Message == "" {
			return se.Code
		}
		return se.Code + " " + se.Message
	case errors.Is(err, client.ErrUnknownKeyspace):
		return wire.CodeErr + " " + trimPrefixes(err.Error())
	case errors.Is(err, client.ErrBadName):
		return wire.CodeBadName + " " + trimPrefixes(err.Error())
	case errors.Is(err, client.ErrTooLarge), errors.Is(err, resp.ErrTooLarge):
		return wire.CodeTooLarge + " " + trimPrefixes(err.Error())
	case errors.Is(err, client.ErrBadTime):
		return wire.CodeBadTime + " " + trimPrefixes(err.Error())
	}
	return wire.CodeErr + " " + trimPrefixes(err.Error())
}

// trimPrefixes drops the "gateway: " style package prefixes of wrapped
// errors.
func trimPrefixes(msg string) string {
	parts := strings.Split(msg, ": ")
	out := parts[:0]
	for _, p := range parts {
		switch p {
		case "gateway", "client", "resp":
			continue
		}
		out = append(out, p)
	}
	return strings.Join(out, ": ")
}

// redisError is an error worded exactly as Redis words it, sent with ERR.
type redisError string

func (e redisError) Error() string { return string(e) }

// intText formats n for a reply text.
func intText(n uint64) string { return strconv.FormatUint(n, 10) }
