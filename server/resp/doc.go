// Package resp is the server side of the Redis protocol (RESP2) spoken by
// Vasto store servers: a Reader that parses client commands under strict
// limits and a Writer that encodes replies; and, for a store that asks
// another store, a ReplyReader that reads replies one typed element at a
// time. It uses only the standard library.
//
// # Commands
//
// Reader.ReadCommand accepts what Redis accepts from clients: an array of
// bulk strings (*2\r\n$3\r\nGET\r\n$1\r\nk\r\n), or an inline command, a
// line of words as typed in telnet or redis-cli (GET k\r\n), split like
// Redis's sdssplitargs with "double" (escapes \" \\ \n \r \t \b \a \xHH)
// and 'single' (escape \') quotes. Empty arrays (*0, *-1) and blank lines
// are skipped. Inside a command array every element must be a non-null
// bulk string. A command may not start with another RESP type byte or a
// control character.
//
// Each command's arguments are freshly allocated, share one backing array
// and belong to the caller, who may keep them after reading more commands.
// When the whole command is already buffered this costs exactly two
// allocations: the argument bytes and the [][]byte.
//
// # Limits and errors
//
// Limits bounds argument count, argument size, inline line length and the
// total size of a command. Lengths are checked when their header arrives,
// before anything is allocated for them, and nothing is allocated from a
// length claim beyond what the limits allow.
//
// A command that breaks a limit but is framed correctly is skipped (its
// bytes are discarded through the read buffer, in bounded chunks, without
// allocating) and ReadCommand returns an error wrapping ErrTooLarge. Such
// errors are recoverable (IsRecoverable): the stream is still in sync.
//
// Malformed input, and length claims above the hard caps (HardMaxArgs
// elements, HardMaxBulkLen = 512 MiB per bulk string, Redis's default
// proto-max-bulk-len), return an error wrapping ErrProtocol. Those are not
// recoverable: reply with the error and close the connection. An inline
// line over MaxInlineSize is also a protocol error, as in Redis.
//
// # Serving a pipelined connection
//
// A server reads every command that has already arrived before flushing,
// so that a pipeline of N commands costs one read and one write system call
// rather than N of each:
//
//	rd := resp.NewReader(conn, resp.DefaultLimits())
//	wr := resp.NewWriter(conn)
//	for {
//		args, err := rd.ReadCommand()
//		switch {
//		case err == nil:
//			handle(wr, args)
//		case resp.IsRecoverable(err):
//			wr.WriteError("ERR " + err.Error())
//		default: // protocol or I/O error: the stream is lost
//			if errors.Is(err, resp.ErrProtocol) {
//				wr.WriteError("ERR " + err.Error())
//				wr.Flush()
//			}
//			return
//		}
//		if rd.Buffered() == 0 {
//			if err := wr.Flush(); err != nil {
//				return
//			}
//		}
//	}
//
// Imports: the standard library only.
package resp
