package backup

import "errors"

var (
	// ErrInvalid is returned for a configuration that cannot be used.
	ErrInvalid = errors.New("backup: invalid configuration")
	// ErrExists is returned when the target directory already holds a
	// backup.
	ErrExists = errors.New("backup: directory already holds a backup")
	// ErrManifest is returned for a missing or unreadable manifest.
	ErrManifest = errors.New("backup: bad manifest")
	// ErrCorrupt is returned for a shard file that does not match its
	// manifest entry (size, checksum, records) or does not decode.
	ErrCorrupt = errors.New("backup: corrupt shard file")
	// ErrUnavailable is returned when no replica can serve a shard's dump,
	// or a replica a restore must write to is not healthy.
	ErrUnavailable = errors.New("backup: shard unavailable")
	// ErrShardCount is returned when a restore asks for a shard count
	// other than the existing keyspace's.
	ErrShardCount = errors.New("backup: shard count differs from the existing keyspace")
	// ErrVerify is returned when a restored shard does not match the
	// backup.
	ErrVerify = errors.New("backup: restored data does not match the backup")
	// ErrResizing is returned when the keyspace is being resized.
	ErrResizing = errors.New("backup: keyspace is being resized")
)
