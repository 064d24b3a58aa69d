// Package client is the Go client of a Vasto datacenter (DC).
//
// A Client follows the DC's topology, which the master publishes in a NATS
// key-value bucket (bus.WatchTopology): the stores with their addresses,
// health and the shards they serve, and the keyspaces with the placement of
// every shard. It routes every key itself and talks RESP2 to the stores
// directly (its own codec, a few shared connections per store address, see
// Connections); NATS carries only the topology and the admin requests to
// the master.
//
//	c, err := client.New(ctx, client.DefaultConfig("nats://127.0.0.1:4222", "dc1"))
//	...
//	defer c.Close()
//	err = c.CreateKeyspace(ctx, "users", 8, 3)
//	res, err := c.Put(ctx, "users", []byte("alice"), []byte("..."), client.WithTTL(time.Hour))
//	item, err := c.Get(ctx, "users", []byte("alice"))
//
// # Routing
//
// A key's shard is topology.ShardOf(key, shards): jump consistent hash of
// xxhash64 of the key, the rule stores and master share. The shard's
// replicas are Keyspace.Placement[shard], preferred first.
//
//   - Writes (Put, Delete, BatchPut) go to the first healthy replica in
//     placement order, failing over down the list.
//   - Reads (Get, BatchGet, Scan) go to the first healthy replica that lists
//     the shard in Store.Serving (caught up), else to the first healthy one.
//
// Every request to a store is one piece on one connection: "VUSE keyspace
// shard" and then the commands of that shard (the selected target is
// connection state, so it must travel with the commands, and other calls'
// requests on the same connection do not come between them). Batch
// operations group their keys by shard and send the shards' requests in
// parallel; results come back in input order.
//
// # Connections
//
// Calls share Config.Pipelines connections per store (default 2), used in
// turn: each has a writer goroutine that sends every request queued since
// its last write in one write, and a reader goroutine that hands the
// replies back in order (automatic pipelining, as rueidis does). So N
// concurrent calls to a store cost about one round trip together, and the
// store reads their requests in one go and commits their writes in one
// batch per shard. A call whose context ends returns at once; its request
// is dropped if not sent yet, else its replies are read and dropped later,
// so the stream stays in order. A connection that fails (reset, timeout,
// malformed reply) fails every request on it with a retryable error, and
// the next call dials it again. Each connection sends HELLO 2 (with AUTH
// when Config.Password is set) when it is dialled, speaks TLS with
// Config.TLS, and is bounded by DialTimeout, ReadTimeout (per request,
// while a reply is awaited) and WriteTimeout.
//
// Calls that wait server-side would hold up everything behind them on a
// shared connection, so they get a dedicated connection of their own, one
// call at a time, from at most Config.PoolSize per store (a call waits for
// a free one): writes WithAck above AckLocal, reads WithAfter, the second
// request of a hedged read, and the Do and DoOn commands that block (WAIT,
// BLPOP and the other blocking commands, AFTER, ACK above local).
//
// Head-of-line blocking remains for everything else: a store answers a
// connection's requests in order, so a request waits behind those sent
// before it on the same connection: a large VSCAN page or BatchPut, or the
// commit of the writes batched with it (a read sent with writes returns
// once they are committed). A frozen store holds every call on its shared
// connections until the attempt timeout (or hedge) moves them elsewhere.
//
// # Retries
//
// A command is sent again, on the newest topology, after a connection
// error, a pool closed by a topology change, no healthy replica, or the
// store codes NOSHARD, CLOSED, CATCHUP, IOERR, BEHIND and MOVED (the key
// moved to another shard: a resize switched the keyspace's layout and the
// client's topology has not caught up yet); at most 1+Config.MaxRetries
// attempts, never past the context. A retry goes at once to a replica the
// operation has not tried yet; once every replica was tried it waits a
// back-off (25 ms doubling up to 1 s) cut short by a new topology, and
// starts over. A store that failed at the transport level is tried last for
// topology.DeadAfter, until the master marks it unhealthy. ERR, TOOLARGE,
// BADTIME, BADNAME and CORRUPT are final. Batches retry only their failed
// items.
//
// # Event times
//
// Every write carries an event time: the one given with WithEventTime, or
// else one the client takes from its own hybrid clock (the wall clock, made
// strictly increasing per Client) before the first attempt. A retried write
// therefore carries the same event time as the attempts before it, wherever
// they went: if an attempt whose reply was lost or abandoned was applied
// after all (a frozen store applies it when it resumes), both copies are the
// same write under last-writer-wins, and neither can order after a later
// write of the same key. A retry that finds the write's own earlier copy
// already holding the key (it reached another replica before its reply was
// lost) reports it Applied, with that copy's version. Writes of one key by
// one Client are ordered as it made them; writes of different clients by
// their clocks, so keep client clocks synchronised like the stores' (a
// clock more than the stores' max-future ahead gets BADTIME).
//
// # Slow and frozen replicas
//
// A store that stops answering without closing its connections (a paused
// process, a stalled disk, a frozen VM) is marked down by the master only
// after topology.DeadAfter, and a socket read waits ReadTimeout. The client
// does not wait that long while the shard has another replica:
//
//   - Reads are hedged: a Get or BatchGet with no reply after
//     Config.HedgeAfter (default 50 ms) is sent to a second replica too,
//     and the first good reply wins. The second replica answers only once
//     it has applied this client's latest write of the shard (as with
//     WithAfter, waiting up to 200 ms; else the read waits for the first),
//     so a hedge does not lose the client's own writes. At most one hedge
//     per attempt; writes, scans and reads WithAfter are not hedged.
//   - An attempt is bounded by Config.AttemptTimeout (default 500 ms) while
//     another healthy replica has not been tried: the request is abandoned
//     and retried there, and the silent store is tried last for
//     topology.DeadAfter. A write is retried with the same event time, so
//     it is safe even if the abandoned attempt was applied.
//   - When the topology marks a store down, the client closes its
//     connections: requests in flight to it fail and are retried on
//     another replica at once.
//
// An abandoned request's replies are read and dropped when they come, or
// the connection is closed when it fails, so a later request never gets
// another's reply. So with two replicas, a frozen replica delays the reads
// sent to it by about HedgeAfter, and the writes sent to it before the
// client suspects it by about AttemptTimeout. A shard whose only replica is
// frozen waits ReadTimeout.
//
// # Errors
//
// Errors wrap the sentinels of errors.go (test them with errors.Is):
// ErrNotFound, ErrUnknownKeyspace, ErrBadName, ErrKeyspaceExists,
// ErrNotEnoughStores, ErrNoReplica, ErrUnavailable, ErrTooLarge,
// ErrBadTime, ErrInvalid, ErrClosed, ErrNoMaster, ErrMoved, ErrBusy and
// ErrCancelled. Store replies are
// *StoreError (with the code, matched to a sentinel where one exists),
// master replies *AdminError, and failed batch items *BatchError. Names, key
// and value sizes, event times and TTLs are checked locally before anything
// is sent; an operation on a keyspace that is not in the local topology
// fails with ErrUnknownKeyspace without being sent.
//
// # Online operations
//
// ResizeKeyspace, CancelResize, ReplaceStore, DrainStore and Rebalance ask
// the master to start an operation (or, with dryRun, to answer its plan);
// the keyspace keeps serving while it runs. Each is a topology.Operation
// whose ID is the topology version that started it: Operation looks it up
// with its progress, WaitOperation polls it until it is done or cancelled
// (ErrCancelled). The master answers ErrBusy while another operation runs
// on the keyspace, ErrNotFound for an unknown store or operation.
// DescribeKeyspace lists a keyspace's operations, the running resize and
// the replica moves in progress.
//
// # Lifecycle
//
// New connects and waits (bounded by its context) for the first topology.
// CreateKeyspace returns once the keyspace is in the client's topology;
// WaitForServing additionally waits until the stores report its shards
// served, which end-to-end tests may want before the first request.
// Close stops the watch and closes every connection; it is idempotent, and
// operations fail with ErrClosed afterwards. A Client is safe for concurrent
// use.
//
// Imports: bus's NATS client side (to follow the topology and call the
// master), topology, wire, lww and internal/retry; never a server package
// (master, store, server, replica, dc, chaos, cmd, bus/embedded), even
// transitively (checked by internal/archtest).
package client
