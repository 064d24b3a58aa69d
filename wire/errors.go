package wire

import "errors"

// ErrBadToken is returned by ParseToken for text that is not a token.
var ErrBadToken = errors.New("wire: bad token")
