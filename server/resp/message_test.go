package resp

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUnknownCommandClipsArguments(t *testing.T) {
	long := []byte(strings.Repeat("x", 70))
	require.Equal(t, "unknown command 'foo', with args beginning with: 'a' 'b\\r\\n' '"+strings.Repeat("x", 64)+"' ",
		UnknownCommand([][]byte{[]byte("foo"), []byte("a"), []byte("b\r\n"), long, []byte("d")}))
	require.Equal(t, "unknown command 'foo', with args beginning with: ", UnknownCommand([][]byte{[]byte("foo")}))
}
