package server

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/store"
)

func TestWireErrorReadOnly(t *testing.T) {
	err := fmt.Errorf("%w: ks/3: IO error: No space left on device", store.ErrReadOnly)
	require.Equal(t, "RDONLY shard read-only: ks/3: IO error: No space left on device", wireError(err))
}
