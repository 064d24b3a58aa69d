package server

import (
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/vasto-kv/vasto/internal/acl"
	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/server/resp"
	"github.com/vasto-kv/vasto/store"
	"github.com/vasto-kv/vasto/wire"
)

// Error codes on the wire. The first word of a RESP error is its code;
// clients match on the code, never on the rest of the text. The codes are
// stable: see docs/protocol.md.
const (
	codeErr      = wire.CodeErr
	codeTooLarge = wire.CodeTooLarge
	codeBadTime  = wire.CodeBadTime
	codeNoShard  = wire.CodeNoShard
	codeBadName  = wire.CodeBadName
	codeClosed   = wire.CodeClosed
	codeCorrupt  = wire.CodeCorrupt
	codeCatchUp  = wire.CodeCatchUp
	codeBehind   = wire.CodeBehind
	codeMoved    = wire.CodeMoved
	codeIO       = wire.CodeIOErr
	codeReadOnly = wire.CodeReadOnly
	codeNoAck    = wire.CodeNoAck
)

// wireError maps an error to its code and message.
func wireError(err error) string {
	if msg, ok := acl.Reply(err); ok {
		return msg
	}
	var re redisError
	if errors.As(err, &re) {
		return codeErr + " " + string(re)
	}
	code := codeIO
	switch {
	case errors.Is(err, store.ErrKeyTooLarge), errors.Is(err, store.ErrValueTooLarge),
		errors.Is(err, store.ErrBatchTooLarge), errors.Is(err, resp.ErrTooLarge):
		code = codeTooLarge
	case errors.Is(err, lww.ErrEventTimeInFuture), errors.Is(err, lww.ErrEventTimeNotPositive),
		errors.Is(err, lww.ErrInvalidTTL), errors.Is(err, lww.ErrExpiryOverflow):
		code = codeBadTime
	case errors.Is(err, store.ErrNoShard):
		code = codeNoShard
	case errors.Is(err, store.ErrBadName):
		code = codeBadName
	case errors.Is(err, store.ErrClosed):
		code = codeClosed
	case errors.Is(err, store.ErrCatchingUp):
		code = codeCatchUp
	case errors.Is(err, store.ErrBehind), errors.Is(err, errOwnerBehind):
		code = codeBehind
	case errors.Is(err, store.ErrMoved):
		code = codeMoved
	case errors.Is(err, store.ErrReadOnly):
		code = codeReadOnly
	case errors.Is(err, store.ErrNotPublished), errors.Is(err, errNotAcknowledged):
		code = codeNoAck
	case errors.Is(err, store.ErrCorrupt):
		code = codeCorrupt
	case errors.Is(err, errSyntax), errors.Is(err, store.ErrBadRange), errors.Is(err, lww.ErrInvalidRecord),
		errors.Is(err, store.ErrSnapshotReleased):
		code = codeErr
	}
	return code + " " + stripPackages(err.Error())
}

// stripPackages drops the "store: " style package prefixes of wrapped
// errors, at the start and after each ": ", leaving other words alone.
func stripPackages(msg string) string {
	parts := strings.Split(msg, ": ")
	out := parts[:0]
	for _, p := range parts {
		switch p {
		case "server", "store", "storenode", "lww", "resp", "wire", "acl":
			continue
		}
		out = append(out, p)
	}
	return strings.Join(out, ": ")
}

func (c *conn) writeErr(err error) {
	msg := wireError(err)
	if c.srv.cfg.Observer != nil {
		c.code, _, _ = strings.Cut(msg, " ")
	}
	c.w.WriteError(msg)
}

// isEOF reports whether err means the client's stream ended or the
// connection is gone (closed, reset, broken), as opposed to a protocol
// error, which is answered before the connection closes. It matches error
// values, never error text: a protocol error may quote anything the
// client sent.
func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE)
}
