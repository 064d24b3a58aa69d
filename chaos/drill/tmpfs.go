package drill

import (
	"fmt"
	"os"
	"syscall"
)

// tmpfsSize is the size of the disk of the store a disk-full drill fills:
// room for its shards' preallocated write-ahead logs and, once the filler
// is gone, for the reopen of a read-only shard (a write buffer of 64 MiB
// plus its memtables).
const tmpfsSize = 1 << 30

// mountTmpfs mounts a size-limited tmpfs on dir. It returns dir when it
// did, else "" and why not.
func mountTmpfs(dir string) (string, string) {
	if os.Geteuid() != 0 {
		return "", "mounting a size-limited tmpfs needs root"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err.Error()
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0755", tmpfsSize)); err != nil {
		return "", fmt.Sprintf("cannot mount a tmpfs on %s: %v", dir, err)
	}
	return dir, ""
}

// unmountTmpfs unmounts dir, detaching it if it is busy.
func unmountTmpfs(dir string) {
	if err := syscall.Unmount(dir, 0); err != nil {
		_ = syscall.Unmount(dir, syscall.MNT_DETACH)
	}
}
