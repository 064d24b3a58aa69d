package wire

import "bytes"

// MaxScanCursors bounds the SCAN cursors one connection keeps; the oldest
// is forgotten first.
const MaxScanCursors = 16

// ScanCursors maps the numeric cursors SCAN hands out to the key where the
// next page starts. Redis clients expect numeric cursors; keys are not. A
// connection (of a store or a gateway) keeps its own; the zero value is
// empty.
type ScanCursors struct {
	next    uint64
	entries []scanCursor
}

type scanCursor struct {
	id  uint64
	key []byte
}

// Put remembers key and returns its cursor (never 0).
func (s *ScanCursors) Put(key []byte) uint64 {
	s.next++
	if len(s.entries) == MaxScanCursors {
		s.entries = s.entries[1:]
	}
	s.entries = append(s.entries, scanCursor{id: s.next, key: key})
	return s.next
}

// Take returns and forgets the key of cursor id.
func (s *ScanCursors) Take(id uint64) ([]byte, bool) {
	for i, e := range s.entries {
		if e.id == id {
			s.entries = append(s.entries[:i], s.entries[i+1:]...)
			return e.key, true
		}
	}
	return nil, false
}

// GlobPrefix returns the part of a glob pattern before its first special
// character, to narrow a scan.
func GlobPrefix(pattern []byte) []byte {
	if i := bytes.IndexAny(pattern, `*?[\`); i >= 0 {
		return pattern[:i]
	}
	return pattern
}

// GlobMatch matches Redis-style glob patterns: * ? [abc] [a-z] [^a] and \x.
// It backtracks only to the last star, so it runs in O(len(pattern) *
// len(s)) whatever the pattern.
func GlobMatch(p, s []byte) bool {
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(p) {
			if n, ok := matchOne(p[pi:], s[si]); n == 0 {
				starP, starS = pi, si
				pi++
				continue
			} else if ok {
				pi += n
				si++
				continue
			}
		}
		if starP < 0 {
			return false
		}
		starS++
		pi, si = starP+1, starS
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// matchOne matches one pattern element at the start of p against c. It
// returns the element's length (0 for a star) and whether it matched.
func matchOne(p []byte, c byte) (int, bool) {
	switch p[0] {
	case '*':
		return 0, true
	case '?':
		return 1, true
	case '[':
		ok, rest := matchClass(p[1:], c)
		return len(p) - len(rest), ok
	case '\\':
		if len(p) > 1 {
			return 2, p[1] == c
		}
	}
	return 1, p[0] == c
}

// matchClass matches c against a [...] class whose body starts at p and
// returns the pattern after the closing bracket.
func matchClass(p []byte, c byte) (bool, []byte) {
	neg := len(p) > 0 && p[0] == '^'
	if neg {
		p = p[1:]
	}
	match := false
	for len(p) > 0 && p[0] != ']' {
		lo := p[0]
		if lo == '\\' && len(p) > 1 {
			p = p[1:]
			lo = p[0]
		}
		hi := lo
		if len(p) > 2 && p[1] == '-' && p[2] != ']' {
			hi = p[2]
			p = p[2:]
		}
		if lo > hi {
			lo, hi = hi, lo
		}
		if c >= lo && c <= hi {
			match = true
		}
		p = p[1:]
	}
	if len(p) > 0 {
		p = p[1:]
	}
	return match != neg, p
}
