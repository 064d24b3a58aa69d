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
//	source stream     VASTO_SRC_<remote>  (in <local>'s domain)      no subjects; copy of VASTO_CHG_<remote>
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
// # Replicas and retention
//
// A DC's NATS may be a cluster of 3 or 5 servers (bus/embedded). The
// change stream, the source streams and the topology bucket then keep
// StreamConfig.Replicas / SourceConfig.Replicas copies, or the
// connection's ConnConfig.Replicas when those are 0 (default 1); asking for
// more replicas than the cluster can place fails with ErrReplicas and
// changes nothing. Give ConnConfig.URL every server's URL, comma-separated,
// so losing one server reconnects to another. StreamState reports a
// stream's replicas, leader and current replicas with its limits and
// contents; RetentionHorizon and RetentionEstimator turn MaxAge, MaxBytes
// and the write rate into how long a reader may stop before it loses
// messages.
//
// # Several datacenters
//
// Each DC runs its own JetStream domain, named after the DC, and DCs are
// linked by leafnodes (see bus/embedded). EnsureSourceStream makes, in the
// local DC's domain, a stream SourceStream(local, remote) with no subjects
// of its own that the local server fills with a copy of the remote DC's
// change stream, fetched across the leafnode from the remote domain. The
// copied messages keep their subjects and headers, so the local DC's
// appliers consume the copy with durable consumers filtered by
// ChangeSubjectsOfKeyspace(remote, keyspace) or ChangeSubjectsOfShard, just
// as the remote DC's own replicas consume its change stream. The copy is
// store-and-forward: a cut link or a stopped DC only delays it, as long as
// the remote stream still holds the messages (its MaxAge, MaxBytes).
//
// There are no loops: a DC's change stream listens only to
// vasto.chg.<its dc>.>, source streams listen to nothing, and appliers
// never re-publish what they apply. The server's own cycle check does not
// cover sources across domains, and it replaces the Nats-Stream-Source
// header at each hop, so anything that needs the origin DC must carry it
// in a header of its own.
//
// SourceStatus reports each copy's Active (time since the local server last
// heard from the remote stream), Lag and Error as the server sees them, and
// CaughtUp, checked against the remote stream's last sequence read across
// the link (the server's Lag can read 0 while a backlog is still coming);
// ConsumerPending and LastOnSubject tell how far the appliers are. Copying resumes by itself after
// an outage, but not always at once. Measured on loopback: a DC that
// restarts resumes copying from the others within ~0.2 s of its leafnode
// reconnecting; the DC that stayed up resumes copying from the restarted
// one when the server's 10 s health check, its 30 s wait for an answer to a
// consumer-create request sent while the other DC was down, and its retry
// back-off (10 s per failure so far, at most 2 min) let it: 0.2 s to 40 s
// after outages of 2 s to 90 s, up to ~2.5 min in the worst case after a
// long outage. Watch SourceInfo.Active. A change published in one DC is
// consumed from the copy in the other ~1 ms later (p50 0.6-1.3 ms, p99 3-10
// ms).
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
// # Seams
//
// Ops lists every Conn operation the replication packages (replica, dc)
// use, with consumers and watches as the Runner and Stopper interfaces;
// ConnOps adapts a Conn, and internal/bustest is its in-memory twin for
// unit tests.
//
// # Lifecycle
//
// Connect retries until its context ends and then reconnects forever; Close
// drains and is idempotent. NewConsumer starts nothing, Consumer.Start
// returns at once and Consumer.Shutdown waits for the consumer's goroutine.
// Watch.Stop and Subscription.Stop wait for their callbacks to return.
package bus
