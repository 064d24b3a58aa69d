package wire

import "strings"

// Error codes: the first word of a store's RESP error reply. Clients match
// on the code, never on the rest of the text. The codes are stable (see
// docs/protocol.md); a new code is added, an old one never renamed.
const (
	CodeErr      = "ERR"      // syntax, arity, unknown command, protocol
	CodeTooLarge = "TOOLARGE" // key, value, batch or command over a limit
	CodeBadTime  = "BADTIME"  // event time or TTL rejected by the guard rails
	CodeNoShard  = "NOSHARD"  // keyspace/shard not held by this store
	CodeBadName  = "BADNAME"  // keyspace name not allowed
	CodeClosed   = "CLOSED"   // store shutting down; retry elsewhere
	CodeCorrupt  = "CORRUPT"  // stored data could not be decoded
	CodeIOErr    = "IOERR"    // the storage engine failed the operation
	// CodeCatchUp: the replica is still catching up on the shard; another
	// replica may serve the request.
	CodeCatchUp = "CATCHUP"
	// CodeBehind: the replica has not applied the write a read-your-writes
	// token names within the wait; another may have.
	CodeBehind = "BEHIND"
	// CodeMoved: the shard no longer owns the key (a resize switched the
	// keyspace's layout); retry on the shard a newer topology names.
	CodeMoved = "MOVED"
	// CodeReadOnly: the shard refuses writes since a write to its database
	// failed (a full disk); it still serves reads, another replica may take
	// the write. (Not READONLY: Redis clients take that for a Redis replica
	// and reconnect to the same server.)
	CodeReadOnly = "RDONLY"
	// CodeNoFaults: a fault-injection command (VFAULT) sent to a store
	// started without --allow-faults; nothing was done.
	CodeNoFaults = "NOFAULTS"
	// CodeNoAuth: the connection has not authenticated (AUTH user
	// password, or HELLO 2 AUTH user password) to a server with an ACL,
	// or its user was deleted or disabled since; nothing was done.
	CodeNoAuth = "NOAUTH"
	// CodeNoPerm: the connection's user may not run the command on the
	// connection's keyspace; nothing was done.
	CodeNoPerm = "NOPERM"
	// CodeWrongPass: AUTH with an unknown or disabled user or a wrong
	// password (the reply does not tell which).
	CodeWrongPass = "WRONGPASS"
	// CodeNoAck: the write was accepted and stands, but the acknowledgement
	// level it asked for (ACK published) was not reached in time. Sending
	// it again with the same event time is safe, on any replica.
	CodeNoAck = "NOACK"
)

// Acknowledgement levels a write may ask for (VSET ... ACK level).
const (
	// AckLocal: the write is in the accepting store's write-ahead log (the
	// default).
	AckLocal = "local"
	// AckPublished: the write's change is also in the DC's change log
	// (JetStream acknowledged it): with replicated streams it survives
	// losing the accepting store's machine.
	AckPublished = "published"
)

// AckLevels lists the levels, weakest first.
var AckLevels = []string{AckLocal, AckPublished}

// Codes lists every code, in the order above.
var Codes = []string{CodeErr, CodeTooLarge, CodeBadTime, CodeNoShard, CodeBadName, CodeClosed,
	CodeCorrupt, CodeIOErr, CodeCatchUp, CodeBehind, CodeMoved, CodeReadOnly, CodeNoFaults,
	CodeNoAuth, CodeNoPerm, CodeWrongPass, CodeNoAck}

// Retryable reports whether a request answered with code may succeed when
// sent again, on another replica when there is one.
func Retryable(code string) bool {
	switch code {
	case CodeNoShard, CodeClosed, CodeCatchUp, CodeIOErr, CodeBehind, CodeMoved, CodeReadOnly, CodeNoAck:
		return true
	}
	return false
}

// SplitError splits a RESP error text into its code and the rest.
func SplitError(text string) (code, msg string) {
	code, msg, _ = strings.Cut(text, " ")
	return code, msg
}
