package peerclient

import "errors"

// Sentinel errors, tested with errors.Is. Returned errors wrap them with
// detail.
var (
	// ErrReply is returned for a reply the client cannot parse; the
	// connection is broken afterwards.
	ErrReply = errors.New("peerclient: unexpected reply from peer store")
	// ErrCorrupt is returned for a dumped record that cannot be decoded.
	ErrCorrupt = errors.New("peerclient: corrupt record")
	// ErrAuth is returned by a dial whose AUTH the peer refused.
	ErrAuth = errors.New("peerclient: authentication refused by peer store")
)
