package store

// Names of the cursors a shard keeps per source of applied changes (see
// Shard.Cursor and Shard.ApplyRemote).

// PeerSource names the cursor of an in-DC peer replica, store.
func PeerSource(store string) string { return "r_" + store }

// RemoteSource names the cursor of one remote origin: remote DC, origin
// store and the origin's shard number in the remote DC's layout.
func RemoteSource(dc, store, shard string) string { return "x:" + dc + ":" + store + ":" + shard }
