package server

import (
	"errors"

	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/store"
)

// VINGEST key record [key record ...]: merges records, each a key and its
// lww record encoding (as VDUMP returns them), into the selected shard with
// their versions unchanged (store.Shard.Ingest): a record is written only if
// it wins under last-writer-wins over the one the shard holds, so a newer
// write is never overwritten and sending the same records again changes
// nothing. The keys must be in increasing order. Nothing enters the change
// log: a restore sends the records to every replica of the shard. Allowed
// while the shard catches up.
// Reply: [written, skipped].
func cmdVIngest(c *conn, args [][]byte) {
	if len(args)%2 != 1 {
		c.writeErr(syntaxf("VINGEST key record [key record ...]"))
		return
	}
	sh, err := c.target()
	if err != nil {
		c.writeErr(err)
		return
	}
	page := make([]lww.Change, 0, len(args)/2)
	for i := 1; i < len(args); i += 2 {
		rec, err := lww.DecodeRecord(args[i+1])
		if err != nil {
			c.writeErr(syntaxf("record %d: %v", i/2, err))
			return
		}
		page = append(page, lww.Change{Key: args[i], Record: rec})
	}
	res, err := sh.Ingest(c.srv.ctx, page)
	if errors.Is(err, store.ErrBadPage) {
		err = syntaxf("%v", err)
	}
	if err != nil {
		c.writeErr(err)
		return
	}
	c.w.WriteArray(2)
	c.w.WriteInt(int64(res.Written))
	c.w.WriteInt(int64(res.Skipped))
}
