package wire

import (
	"fmt"
	"strconv"
	"strings"
)

// Token names one accepted write for read-your-writes across replicas and
// DCs: the DC and store that accepted it, its shard in that DC's layout, and
// its index in that shard's change log. Written as "dc:store:shard:index".
type Token struct {
	DC    string
	Store string
	Shard uint32
	Index uint64
}

// String formats the token.
func (t Token) String() string {
	return t.DC + ":" + t.Store + ":" + strconv.FormatUint(uint64(t.Shard), 10) + ":" + strconv.FormatUint(t.Index, 10)
}

// maxTokenQuote bounds how much of bad input an error repeats.
const maxTokenQuote = 64

// ParseToken parses "dc:store:shard:index". valid checks the DC and store
// names (the servers' name rule; nil accepts any non-empty name).
func ParseToken(s string, valid func(string) bool) (Token, error) {
	bad := func() (Token, error) {
		q := s
		if len(q) > maxTokenQuote {
			q = q[:maxTokenQuote] + "..."
		}
		return Token{}, fmt.Errorf("%w: %q is not dc:store:shard:index", ErrBadToken, q)
	}
	parts := strings.Split(s, ":")
	if len(parts) != 4 || parts[0] == "" || parts[1] == "" {
		return bad()
	}
	if valid != nil && (!valid(parts[0]) || !valid(parts[1])) {
		return bad()
	}
	shard, err1 := strconv.ParseUint(parts[2], 10, 32)
	idx, err2 := strconv.ParseUint(parts[3], 10, 64)
	if err1 != nil || err2 != nil || idx == 0 {
		return bad()
	}
	return Token{DC: parts[0], Store: parts[1], Shard: uint32(shard), Index: idx}, nil
}
