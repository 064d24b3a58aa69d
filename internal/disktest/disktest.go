package disktest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"
)

// Mount mounts a tmpfs of size bytes on a fresh directory, unmounted when
// the test ends, and returns the directory. It skips the test when it
// cannot (not root, or no mount permission).
func Mount(t testing.TB, size int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a size-limited tmpfs needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0755", size)); err != nil {
		t.Skipf("cannot mount a tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Logf("unmount %s: %v; detaching it", dir, err)
			_ = syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	return dir
}

// Key is the key of fill write i.
func Key(i int) string { return fmt.Sprintf("fill-%06d", i) }

// Value is the value of fill write i: 16 KiB that do not compress, the
// same on every call.
func Value(i int) string {
	r := rand.New(rand.NewPCG(uint64(i), 42))
	b := make([]byte, 16<<10)
	for j := range b {
		b[j] = byte(r.Uint32())
	}
	return string(b)
}

// Pipeliner is a go-redis client or connection.
type Pipeliner interface {
	Pipelined(ctx context.Context, fn func(redis.Pipeliner) error) ([]redis.Cmder, error)
}

// Fill SETs Key(i) to Value(i) for i = 0, 1, ... in pipelines of batch
// until a write fails or max writes were acknowledged. It returns how many
// were acknowledged (0..acked-1, in order) and the first error, nil if
// the disk never filled.
func Fill(ctx context.Context, c Pipeliner, batch, max int) (acked int, firstErr error) {
	for acked < max && firstErr == nil {
		cmds, _ := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := acked; i < acked+batch; i++ {
				p.Set(ctx, Key(i), Value(i), 0)
			}
			return nil
		})
		for _, cmd := range cmds {
			if err := cmd.Err(); err != nil {
				firstErr = err
				break
			}
			acked++
		}
	}
	return acked, firstErr
}
