// Package bus is Vasto's messaging layer on NATS JetStream: subject and
// stream naming, the client connection, change-log streams with pipelined
// publishing and durable pull consumers, the topology key-value bucket with
// watches, and plain publish/subscribe and request/reply for heartbeats and
// admin commands.
//
// bus and its subpackages are the only packages that import
// github.com/nats-io/...; bus itself imports only nats.go (the client), so a
// client process never links the server. The embedded server is in
// bus/embedded. nats.go types do not appear in the exported API, except
// nats.Option in ConnConfig.
//
// # Names and subjects
//
// Every name that goes into a subject, stream, bucket or consumer name (DC,
// keyspace, store id, durable, admin op) must satisfy ValidName: 1-64 ASCII
// letters, digits, '-' or '_'. So no '.', '*', '>', whitespace or '$' ever
// reaches a subject from a name, and a name can neither add subject tokens
// nor reach the $JS/$KV/$SYS APIs. Invalid names give errors wrapping
// ErrBadName.
//
//	change stream     VASTO_CHG_<dc>                                 subjects vasto.chg.<dc>.>
//	change subject    vasto.chg.<dc>.<keyspace>.<shard>.<origin>     origin: store that accepted the write
//	topology bucket   vasto_topo_<dc>                                key "topology"
//	heartbeats        vasto.hb.<dc>
//	admin             vasto.adm.<dc>.<op>
//
// # Change logs
//
// A store drains its RocksDB outbox with PublishBatch: messages are
// published asynchronously (pipelined), each with its outbox id as
// Nats-Msg-Id so that a retried publish within the stream's Duplicates window
// is stored once, and the call returns how many messages from the start of
// the batch were acknowledged, so the outbox is trimmed only up to there. A
// publish retried after a failure may land after later ones: appliers must
// not depend on order (last-writer-wins does not).
//
// Replicas consume with durable pull consumers (Consumer): a batch handler
// returning nil acknowledges the batch (the last ack is confirmed by the
// server, so acknowledged messages are not delivered again after a restart),
// an error negatively acknowledges it for redelivery. JetStream silently
// starts at its first retained message when older ones aged out (MaxAge,
// MaxBytes): carry a per-shard log index in a header, check continuity, and
// use FirstOnSubject to find where the stream now starts.
//
// # Topology
//
// The master writes the topology document with PutTopology (create, then
// compare-and-set on the last revision, which fences a stale master).
// WatchTopology delivers the current document at once and later ones in
// increasing revision order (a watcher that falls more than the bucket's 64
// kept revisions behind skips to the latest: topology is state), survives
// reconnects and waits for the bucket to be created.
//
// # Lifecycle
//
// Connect retries until its context ends and then reconnects forever; Close
// drains and is idempotent. NewConsumer starts nothing, Consumer.Start
// returns at once and Consumer.Shutdown waits for the consumer's goroutine.
// Watch.Stop and Subscription.Stop wait for their callbacks to return.
package bus
