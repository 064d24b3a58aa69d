// Package peerclient is the RESP client one store uses to ask another store for
// what stores ask each other: dump pages (VDUMP, for a re-bootstrap, a copy
// from another DC or a resize fill) and small commands (VLOGINFO, VFENCE,
// VUSE), over TLS and authenticated (AUTH) as its Options say. It imports
// lww, server/resp (whose ReplyReader reads the replies), internal/secure
// and the standard library only; the stores' in-DC replication (package
// replica) and cross-DC replication (package dc) use it.
package peerclient
