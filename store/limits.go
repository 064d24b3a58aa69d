package store

// Limits on what one request may carry. A change record (key, value and its
// envelope) must fit in one change-log message of at most 1 MiB, so the value
// limit leaves room for the largest key and the envelope.
const (
	// MaxKeySize is the largest key, 64 KiB.
	MaxKeySize = 64 << 10
	// MaxValueSize is the largest value: 1 MiB less the largest key and
	// 32 KiB for the record and message envelopes (928 KiB in all).
	MaxValueSize = 1<<20 - MaxKeySize - 32<<10
	// MaxBatchWrites is the most writes one batch request may carry.
	MaxBatchWrites = 10000
	// MaxBatchBytes is the most key and value bytes one batch may carry.
	MaxBatchBytes = 64 << 20
	// MaxScanLimit is the most entries one scan returns.
	MaxScanLimit = 100000
)
