package acl

import "strings"

// Rights is a set of rights, and the class of a command: the rights it
// needs (0, Connection, needs none).
type Rights uint8

// The rights a grant gives on matching keyspaces.
const (
	// Read: GET, VGET, MGET, EXISTS, TTL, SCAN, DBSIZE...
	Read Rights = 1 << iota
	// Write: SET, DEL, MSET, VSET, VDEL, EXPIRE... (with any event time).
	Write
	// Admin: INFO, VSHARDS, VDIGEST, VFAULT.
	Admin
	// Internal: the store-to-store commands (VDUMP, VFENCE, VLOG,
	// VLOGINFO) and VINGEST (restores), for the stores' own user.
	Internal

	// Connection is the class of commands that need no right once the
	// connection has authenticated (PING, HELLO, VUSE, QUIT...).
	Connection Rights = 0
	// All is every right.
	All = Read | Write | Admin | Internal
)

var rightNames = []struct {
	r    Rights
	name string
}{{Read, "read"}, {Write, "write"}, {Admin, "admin"}, {Internal, "internal"}}

// String names the rights joined by '+' ("read+write"), or "connection"
// for none.
func (r Rights) String() string {
	if r == 0 {
		return "connection"
	}
	var parts []string
	for _, n := range rightNames {
		if r&n.r != 0 {
			parts = append(parts, n.name)
		}
	}
	return strings.Join(parts, "+")
}

// parseRight parses "+read" and the like.
func parseRight(tok string) (Rights, bool) {
	name, ok := strings.CutPrefix(tok, "+")
	if !ok {
		return 0, false
	}
	if name == "all" {
		return All, true
	}
	for _, n := range rightNames {
		if n.name == name {
			return n.r, true
		}
	}
	return 0, false
}

// Command is the class of one command.
type Command struct {
	// Need is the rights the command needs on the keyspace.
	Need Rights
	// Global marks a server-wide command: it is checked on the empty
	// keyspace name, which only a grant such as ks:* matches.
	Global bool
	// PreAuth marks the commands a connection may send before it
	// authenticates (AUTH, HELLO, QUIT).
	PreAuth bool
}

// Table maps command names (upper case) to their class.
type Table map[string]Command

var (
	conn    = Command{Need: Connection}
	preAuth = Command{Need: Connection, PreAuth: true}
	read    = Command{Need: Read}
	write   = Command{Need: Write}
	rw      = Command{Need: Read | Write}
	admin   = Command{Need: Admin}
	global  = Command{Need: Admin, Global: true}
	inner   = Command{Need: Internal}
)

// StoreCommands is the class of every command a store's RESP server
// accepts. A command missing here is refused to every user of an ACL; the
// server's tests fail when one is.
var StoreCommands = Table{
	"AUTH": preAuth, "HELLO": preAuth, "QUIT": preAuth,
	"PING": conn, "ECHO": conn, "COMMAND": conn, "CONFIG": conn, "CLIENT": conn,
	"SELECT": conn, "VUSE": conn, "WAIT": conn,

	"GET": read, "VGET": read, "MGET": read, "EXISTS": read, "PTTL": read, "TTL": read,
	"SCAN": read, "VSCAN": read, "DBSIZE": read,

	"SET": write, "MSET": write, "DEL": write, "VSET": write, "VDEL": write,

	"INFO": global, "VSHARDS": global, "VFAULT": global, "VDIGEST": admin,

	"VDUMP": inner, "VFENCE": inner, "VLOG": inner, "VLOGINFO": inner,
	"VINGEST": inner, "VSNAPSHOT": inner,
}

// GatewayCommands is the class of every command a gateway accepts. A
// command missing here is refused to every user of an ACL; the gateway's
// tests fail when one is.
var GatewayCommands = Table{
	"AUTH": preAuth, "HELLO": preAuth, "QUIT": preAuth,
	"PING": conn, "ECHO": conn, "COMMAND": conn, "CONFIG": conn, "CLIENT": conn,
	"SELECT": conn, "VUSE": conn,
	"MULTI": conn, "EXEC": conn, "DISCARD": conn, "WATCH": conn, "UNWATCH": conn,

	"GET": read, "TTL": read, "PTTL": read, "VGET": read, "MGET": read, "EXISTS": read,
	"TYPE": read, "DBSIZE": read, "SCAN": read, "KEYS": read,

	"VSET": write, "VDEL": write, "SET": write, "SETEX": write, "PSETEX": write,
	"DEL": write, "UNLINK": write, "MSET": write,
	"GETSET": rw, "GETDEL": rw, "EXPIRE": rw, "PEXPIRE": rw, "PERSIST": rw,

	"INFO": global,
}
