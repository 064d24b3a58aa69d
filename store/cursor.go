package store

// Where a change-log index stands relative to a cursor (Shard.Cursor: the
// highest index of a source applied). An origin's change log numbers its
// entries 1, 2, 3, ... without holes, so the index that must come next is
// cursor+1; anything past it means entries in between were not applied, and
// if the stream no longer holds them, they aged out.

// IndexOrder classifies a change-log index against a cursor.
type IndexOrder int

const (
	// IndexApplied: the index is at or below the cursor (a duplicate or a
	// redelivery).
	IndexApplied IndexOrder = iota
	// IndexNext: the index is cursor+1, in order.
	IndexNext
	// IndexGap: the index is past cursor+1; the indexes between are
	// missing.
	IndexGap
)

// OrderAfter classifies index idx against cursor.
func OrderAfter(cursor, idx uint64) IndexOrder {
	switch {
	case idx <= cursor:
		return IndexApplied
	case idx == cursor+1:
		return IndexNext
	default:
		return IndexGap
	}
}
