package resp

import (
	"strconv"
	"strings"
)

// Clip shortens a client's argument to 64 bytes and escapes it as a Go
// string literal would (without the quotes), for an error message.
func Clip(b []byte) string {
	if len(b) > 64 {
		b = b[:64]
	}
	q := strconv.Quote(string(b))
	return q[1 : len(q)-1]
}

// UnknownCommand is Redis's message for a command a server does not know:
// its name and its first three arguments, clipped.
func UnknownCommand(args [][]byte) string {
	var b strings.Builder
	for _, a := range args[1:min(len(args), 4)] {
		b.WriteString("'" + Clip(a) + "' ")
	}
	return "unknown command '" + Clip(args[0]) + "', with args beginning with: " + b.String()
}
