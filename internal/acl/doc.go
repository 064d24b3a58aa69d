// Package acl is Vasto's RESP authentication and authorization: users read
// from an ACL file, each with password hashes and rights per keyspace
// pattern, the class of every command a store or gateway accepts, and the
// per-connection Session that AUTH, HELLO ... AUTH and every command go
// through.
//
// # File format
//
// One user per line, close to a Redis ACL file; blank lines and lines
// starting with '#' are ignored:
//
//	user alice on $pbkdf2-sha256$10000$<salt>$<key> ks:users* +read +write
//	user app   on #<sha256 hex> ks:* +read +write
//	user peer  on $pbkdf2-sha256$... ks:* +internal
//	user ops   on $pbkdf2-sha256$... ks:* +admin +read
//	user old   off #<sha256 hex>
//
// After "user NAME" the tokens may come in any order: "on" or "off" (a
// user is off unless the line says on), password hashes (several are
// allowed, so a password can be rotated: add the new hash, move the
// clients, remove the old one), "ks:PATTERN" to start a grant on the
// keyspaces whose name matches the glob PATTERN (path.Match: *, ?,
// [a-z]), and the rights of that grant: +read, +write, +admin, +internal
// or +all. A right before any ks: is an error, and so is a ks: without
// rights. Cleartext passwords (">secret") are refused: the file holds
// hashes only. Errors name the file and line, and never repeat a token
// that might be a password.
//
// # Password hashes
//
// Two forms are accepted:
//
//   - "$pbkdf2-sha256$ITER$SALT$KEY": PBKDF2-HMAC-SHA256 (RFC 8018) with
//     a random 16-byte salt and ITER iterations (1000 to 1000000; `vasto
//     acl hash` writes 10000), SALT and KEY in unpadded standard base64.
//     This is the default: the salt makes precomputed tables useless and
//     each guess at a stolen file costs ITER HMACs, while checking a
//     password stays cheap enough to pay on every new connection (about
//     1.6 ms at 10000 iterations on one core here; a client pays it once
//     per pooled connection, never per command). A slower hash (scrypt,
//     argon2) would need a module outside the standard library and would
//     make every connection of a pool, and every failed guess an
//     unauthenticated client sends, cost far more CPU on the store.
//   - "#<64 hex digits>": the SHA-256 of the password, as Redis writes
//     it, for ACL files shared with Redis tooling. Unsalted and fast: use
//     it only for long random passwords (at least 128 bits of entropy),
//     never for passwords people choose.
//
// Passwords are compared in constant time, and an unknown user costs the
// same hash as a known one, so timing does not tell which users exist.
//
// # Rights and classes
//
// A command needs a class of rights (StoreCommands, GatewayCommands):
// connection commands (PING, HELLO, VUSE, ...) need none once
// authenticated; read, write, admin and internal commands need that right
// on the connection's keyspace (GETSET and the like need read and write).
// Server-wide commands (INFO, VSHARDS, VFAULT) are checked against the
// empty keyspace name, which only a grant such as ks:* matches: they need
// the right on every keyspace. internal is for store-to-store commands
// (VDUMP, VFENCE, VLOG, VLOGINFO) and belongs to the stores' own user.
//
// The package imports the standard library and wire (the reply codes)
// only.
package acl
