package peerclient

import (
	"context"

	"github.com/vasto-kv/vasto/lww"
)

// DumpRequest names what a paged dump (VDUMP) reads: the records of
// (Keyspace, Shard) that move to shard Target of a layout of Shards shards
// (Shards 0: every record, no filter), Limit records a page, from Start (nil:
// the first key).
type DumpRequest struct {
	Keyspace string
	Shard    uint32
	Limit    int
	Shards   int
	Target   uint32
	Start    []byte

	// Retain keeps every page's keys and records in the arena until the
	// caller calls Reset (to gather several pages before using them);
	// otherwise a page's memory is reused once its callback returns.
	Retain bool
}

// DumpPage is one page of a dump: the records of the key range
// [Start, End) (End nil: to the end of the shard) that the request selects.
type DumpPage struct {
	Start   []byte
	End     []byte
	Changes []lww.Change
}

// Dump reads the dump of req page by page and calls fn with each page, in
// key order, until the end of the shard, an error of the peer or the
// connection, an error of fn (returned as is) or the end of ctx (checked
// before each page). The page's keys and records live in the arena: unless
// req.Retain, they are invalid once fn returns.
func (d *Client) Dump(ctx context.Context, req DumpRequest, fn func(DumpPage) error) error {
	if !req.Retain {
		defer d.Reset()
	}
	start := req.Start
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		end, changes, err := d.Page(req.Keyspace, req.Shard, start, req.Limit, req.Shards, req.Target)
		if err != nil {
			return err
		}
		if err := fn(DumpPage{Start: start, End: end, Changes: changes}); err != nil {
			return err
		}
		if !req.Retain {
			d.Reset()
		}
		if end == nil {
			return nil
		}
		start = end
	}
}
