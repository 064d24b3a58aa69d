package client

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/topology"
	"github.com/vasto-kv/vasto/wire"
)

// Sentinel errors, tested with errors.Is. Returned errors wrap them with
// detail (the keyspace, key index, store, or the server's message).
var (
	// ErrNotFound is returned by Get for a key that has no live value, and
	// for the master's NOTFOUND code (no such store or operation).
	ErrNotFound = errors.New("client: not found")
	// ErrUnknownKeyspace is returned for a keyspace that is not in the
	// topology (checked locally before anything is sent) and for the
	// master's UNKNOWN code.
	ErrUnknownKeyspace = errors.New("client: unknown keyspace")
	// ErrBadName is returned for a keyspace name that is not 1-64 of
	// [A-Za-z0-9_-] (checked locally; also the BADNAME code of stores and
	// master).
	ErrBadName = errors.New("client: bad name")
	// ErrKeyspaceExists is returned by CreateKeyspace for a taken name.
	ErrKeyspaceExists = errors.New("client: keyspace exists")
	// ErrNotEnoughStores is returned by CreateKeyspace when the DC has fewer
	// healthy stores than the replicas asked for.
	ErrNotEnoughStores = errors.New("client: not enough stores")
	// ErrNoReplica is returned when the topology lists no healthy replica
	// of a shard (after the retries).
	ErrNoReplica = errors.New("client: no healthy replica")
	// ErrUnavailable is returned when every attempt failed with a retryable
	// error (connection error, NOSHARD, CLOSED, CATCHUP, IOERR, BEHIND,
	// MOVED); the last failure is wrapped too.
	ErrUnavailable = errors.New("client: unavailable")
	// ErrBehind is returned (wrapped in ErrUnavailable) when no replica
	// applied the write of a read-your-writes token within the wait.
	ErrBehind = errors.New("client: replica behind the awaited write")
	// ErrTooLarge is returned for a key over MaxKeySize or a value over
	// MaxValueSize (checked locally), and for the TOOLARGE code.
	ErrTooLarge = errors.New("client: too large")
	// ErrBadTime is returned for an event time or TTL that is rejected:
	// not positive, under the 1 ms resolution of a TTL, overflowing
	// (checked locally), or too far in the future (the BADTIME code).
	ErrBadTime = errors.New("client: bad event time or TTL")
	// ErrInvalid is returned for an invalid argument or configuration, the
	// stores' ERR code and the master's INVALID code.
	ErrInvalid = errors.New("client: invalid argument")
	// ErrClosed is returned by every method once Close was called.
	ErrClosed = errors.New("client: closed")
	// ErrNoMaster is returned by admin methods when no master answers on
	// the DC's admin subject.
	ErrNoMaster = errors.New("client: no master")
	// ErrMoved is the MOVED code of a store (wrapped in ErrUnavailable once
	// the retries are spent): after a resize switched the keyspace's
	// layout, the store no longer owns the key on that shard. The client
	// retries it on the shard a newer topology names.
	ErrMoved = errors.New("client: key moved to another shard")
	// ErrBusy is the master's BUSY code: another operation (a resize or
	// replica moves) is running on the keyspace or store. Wait for it
	// (WaitOperation) or cancel it, then try again.
	ErrBusy = errors.New("client: operation running")
	// ErrCancelled is returned by WaitOperation for an operation that ended
	// cancelled.
	ErrCancelled = errors.New("client: operation cancelled")
	// ErrAuth is the NOAUTH and WRONGPASS codes of a store or gateway with
	// an ACL: the client presented no credentials (Config.Username and
	// Password), or wrong ones, or a disabled user's. Not retried.
	ErrAuth = errors.New("client: authentication failed")
	// ErrNoPerm is the NOPERM code: the user may not run the command on
	// the keyspace. Not retried.
	ErrNoPerm = errors.New("client: permission denied")
	// ErrNotAcknowledged is the NOACK code: a write asked for an
	// acknowledgement level (WithAck) that was not reached in time. The
	// write was accepted and stands; it is retried with the same event
	// time (on another replica when there is one), and returned wrapped
	// in ErrUnavailable once the retries are spent. Never a silent
	// downgrade: a result carries the level it reached.
	ErrNotAcknowledged = errors.New("client: acknowledgement level not reached")
)

// Store error codes: the first word of a RESP error reply (docs/protocol.md;
// defined in package wire, which the stores share).
const (
	CodeErr      = wire.CodeErr
	CodeTooLarge = wire.CodeTooLarge
	CodeBadTime  = wire.CodeBadTime
	CodeNoShard  = wire.CodeNoShard
	CodeBadName  = wire.CodeBadName
	CodeClosed   = wire.CodeClosed
	CodeCorrupt  = wire.CodeCorrupt
	CodeIOErr    = wire.CodeIOErr
	// CodeCatchUp is answered by a replica that is still catching up on a
	// shard; another replica may serve the request.
	CodeCatchUp = wire.CodeCatchUp
	// CodeBehind is answered by a replica that has not applied the write a
	// read-your-writes token names within the wait; another may have.
	CodeBehind = wire.CodeBehind
	// CodeMoved is answered for a key the shard no longer owns: a resize
	// switched the keyspace to a new number of shards and the client routed
	// by the old one. It is retried on a newer topology (after the other
	// replicas, which answer the same once they switched).
	CodeMoved = wire.CodeMoved
	// CodeReadOnly is answered to a write on a shard that refuses writes
	// since a write to its database failed (a full disk); it still serves
	// reads. The write is sent to another replica.
	CodeReadOnly = wire.CodeReadOnly
	// CodeNoAuth, CodeWrongPass and CodeNoPerm are answered by a store
	// with an ACL (ErrAuth, ErrAuth, ErrNoPerm).
	CodeNoAuth    = wire.CodeNoAuth
	CodeWrongPass = wire.CodeWrongPass
	CodeNoPerm    = wire.CodeNoPerm
	// CodeNoAck is answered to a write whose acknowledgement level was not
	// reached in time (ErrNotAcknowledged); retried.
	CodeNoAck = wire.CodeNoAck
)

// storeSentinel maps store codes to sentinels (codes without one are
// reachable through StoreError.Code).
var storeSentinel = map[string]error{
	CodeErr:       ErrInvalid,
	CodeTooLarge:  ErrTooLarge,
	CodeBadTime:   ErrBadTime,
	CodeBadName:   ErrBadName,
	CodeBehind:    ErrBehind,
	CodeMoved:     ErrMoved,
	CodeNoAuth:    ErrAuth,
	CodeWrongPass: ErrAuth,
	CodeNoPerm:    ErrNoPerm,
	CodeNoAck:     ErrNotAcknowledged,
}

// StoreError is an error reply of a store. errors.Is matches it against the
// sentinel of its code (ERR: ErrInvalid, TOOLARGE: ErrTooLarge, BADTIME:
// ErrBadTime, BADNAME: ErrBadName, BEHIND: ErrBehind, MOVED: ErrMoved,
// NOAUTH and WRONGPASS: ErrAuth, NOPERM: ErrNoPerm, NOACK:
// ErrNotAcknowledged).
type StoreError struct {
	// Code is the first word of the reply, e.g. "NOSHARD".
	Code string
	// Message is the rest of the reply.
	Message string
	// Store and Addr name the store that answered.
	Store, Addr string
}

func (e *StoreError) Error() string {
	s := "client: store"
	if e.Store != "" {
		s += " " + e.Store
	}
	if e.Addr != "" {
		s += " (" + e.Addr + ")"
	}
	s += ": " + e.Code
	if e.Message != "" {
		s += " " + e.Message
	}
	return s
}

// Is reports whether target is the sentinel of e's code.
func (e *StoreError) Is(target error) bool {
	s, ok := storeSentinel[e.Code]
	return ok && s == target
}

// Retryable reports whether the request may succeed when sent again
// (elsewhere).
func (e *StoreError) Retryable() bool { return wire.Retryable(e.Code) }

// adminSentinel maps the master's codes to sentinels.
var adminSentinel = map[string]error{
	topology.CodeBadName:        ErrBadName,
	topology.CodeExists:         ErrKeyspaceExists,
	topology.CodeUnknown:        ErrUnknownKeyspace,
	topology.CodeNotEnoughStore: ErrNotEnoughStores,
	topology.CodeInvalid:        ErrInvalid,
	topology.CodeBusy:           ErrBusy,
	topology.CodeNotFound:       ErrNotFound,
}

// adminCodes lists every code the master may answer, for parsing.
var adminCodes = []string{
	topology.CodeBadName, topology.CodeExists, topology.CodeUnknown,
	topology.CodeNotEnoughStore, topology.CodeInvalid, topology.CodeInternal,
	topology.CodeBusy, topology.CodeNotFound,
}

// AdminError is an error reply of the master. errors.Is matches it against
// the sentinel of its code (BADNAME: ErrBadName, EXISTS: ErrKeyspaceExists,
// UNKNOWN: ErrUnknownKeyspace, NOSTORES: ErrNotEnoughStores, INVALID:
// ErrInvalid, BUSY: ErrBusy, NOTFOUND: ErrNotFound); INTERNAL has no
// sentinel.
type AdminError struct {
	// Op is the admin operation, e.g. topology.OpCreateKeyspace.
	Op string
	// Code is one of the topology.Code* constants, or "" when the reply
	// carried no known code.
	Code string
	// Message is the master's message after the code.
	Message string
}

func (e *AdminError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("client: master: %s: %s", e.Op, e.Message)
	}
	return fmt.Sprintf("client: master: %s: %s: %s", e.Op, e.Code, e.Message)
}

// Is reports whether target is the sentinel of e's code.
func (e *AdminError) Is(target error) bool {
	s, ok := adminSentinel[e.Code]
	return ok && s == target
}

// parseAdminError finds the master's "CODE: message" in the text of a
// remote error, which the bus may have prefixed with its own context.
func parseAdminError(op, text string) *AdminError {
	best, bestAt := "", -1
	for _, code := range adminCodes {
		pat := code + ": "
		for from := 0; from < len(text); {
			i := strings.Index(text[from:], pat)
			if i < 0 {
				break
			}
			i += from
			// The code must start the text or follow ": " (a wrapper's
			// separator), not be the tail of a longer word.
			if i == 0 || strings.HasSuffix(text[:i], ": ") {
				if bestAt < 0 || i < bestAt {
					best, bestAt = code, i
				}
				break
			}
			from = i + 1
		}
	}
	if bestAt < 0 {
		return &AdminError{Op: op, Message: text}
	}
	return &AdminError{Op: op, Code: best, Message: text[bestAt+len(best)+2:]}
}

// mapAdminError turns an error of a bus request into the client's errors.
func mapAdminError(op, dc string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("client: %s: %w", op, err)
	case errors.Is(err, bus.ErrNoResponders):
		return fmt.Errorf("%w: no master answers %s in DC %s: %w", ErrNoMaster, op, dc, err)
	case errors.Is(err, bus.ErrClosed):
		return fmt.Errorf("%w: %s: %w", ErrClosed, op, err)
	case errors.Is(err, bus.ErrRemote):
		return parseAdminError(op, err.Error())
	}
	return fmt.Errorf("client: %s: %w", op, err)
}

// classify maps an error of one command sent to a store. It returns the
// error to report and whether the command may be retried (elsewhere).
func classify(ctx context.Context, err error, storeID, addr string) (error, bool) {
	var rerr errorReply
	switch {
	case err == nil:
		return nil, false
	case ctx.Err() != nil:
		// The caller's context ended; a context error of the client's own
		// (a dial timeout, an attempt's timeout) is a transport error,
		// below.
		return fmt.Errorf("client: store %s (%s): %w", storeID, addr, ctx.Err()), false
	case errors.As(err, &rerr):
		code, msg := wire.SplitError(rerr.Error())
		se := &StoreError{Code: code, Message: msg, Store: storeID, Addr: addr}
		return se, se.Retryable()
	}
	// Anything else is the transport: dial, reset, EOF, timeout, a
	// malformed reply, or connections closed because the store left the
	// topology.
	return fmt.Errorf("client: store %s (%s): %w", storeID, addr, err), true
}

// errMalformed is the error of a reply that breaks RESP2; the connection
// it came on is closed and the requests on it are retried.
var errMalformed = errors.New("client: malformed reply")

// errConnClosed is the error of the requests in flight on a connection the
// client closed itself (Close, or a store that left the topology or was
// marked down); they are retried elsewhere, and say nothing about the
// store.
var errConnClosed = errors.New("client: connection closed")

// errStoreDown is returned (and retried) for a request to a store that the
// latest topology marks down or no longer lists.
var errStoreDown = errors.New("client: store marked down")
