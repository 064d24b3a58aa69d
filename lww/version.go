package lww

import (
	"fmt"
	"strings"
)

// MaxNameLen bounds the length of an origin DC or node name.
const MaxNameLen = 64

// Version identifies one write and orders it against every other write.
type Version struct {
	// Time is the event time in nanoseconds since the Unix epoch.
	Time int64
	// DC is the name of the datacenter that accepted the write.
	DC string
	// Node is the name of the store that accepted the write.
	Node string
}

// Compare returns -1, 0 or +1 as v orders before, equal to or after o.
func (v Version) Compare(o Version) int {
	switch {
	case v.Time < o.Time:
		return -1
	case v.Time > o.Time:
		return 1
	}
	if c := strings.Compare(v.DC, o.DC); c != 0 {
		return c
	}
	return strings.Compare(v.Node, o.Node)
}

// Less reports whether v orders before o.
func (v Version) Less(o Version) bool { return v.Compare(o) < 0 }

// IsZero reports whether v is the zero Version (no write).
func (v Version) IsZero() bool { return v == Version{} }

// String formats v as time@dc/node.
func (v Version) String() string { return fmt.Sprintf("%d@%s/%s", v.Time, v.DC, v.Node) }

// ValidName reports whether s can be used as an origin DC or node name: 1 to
// MaxNameLen bytes of ASCII letters, digits, '-' and '_'. The same rule keeps
// names safe to embed in NATS subjects and file paths.
func ValidName(s string) bool { return validName(s) }

// validNameBytes is ValidName without converting to a string.
func validNameBytes(b []byte) bool { return validName(b) }

func validName[S string | []byte](s S) bool {
	if len(s) == 0 || len(s) > MaxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}
