// Package wire is the vocabulary the Go client and the servers share on the
// wire: the error codes that start a store's RESP error replies, which of
// them a client retries, the read-your-writes token, and the header names
// of change-log messages, and SCAN's MATCH patterns and numeric cursors
// (stores and the gateway both answer SCAN). It is pure (standard library only): both sides
// import it, so the two can never disagree; golden tests pin the encodings.
package wire
