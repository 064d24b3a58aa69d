package master

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/internal/retry"
	"github.com/vasto-kv/vasto/topology"
)

// Publishing limits.
const (
	// publishTimeout bounds one write (or re-read) of the topology.
	publishTimeout = 5 * time.Second
	// maxPublishAttempts bounds the compare-and-set attempts of one publish.
	// Each failed attempt means another writer made progress.
	maxPublishAttempts = 16
	// Back-off of the background publisher after a failed publish.
	minRetryBackoff = 100 * time.Millisecond
	maxRetryBackoff = 2 * time.Second
	// topologyCheckInterval is how often the master checks that the
	// topology it published is still in the bucket (see checkPublished).
	topologyCheckInterval = time.Second
)

// adminOps lists the admin operations the master serves.
var adminOps = []string{
	topology.OpCreateKeyspace,
	topology.OpDeleteKeyspace,
	topology.OpListKeyspaces,
	topology.OpDescribeKeyspace,
	topology.OpListStores,
	topology.OpResizeKeyspace,
	topology.OpCancelResize,
	topology.OpRebalance,
	topology.OpReplaceStore,
	topology.OpDrainStore,
	topology.OpGetOperation,
	topology.OpRecoverKeyspaces,
	topology.OpAddDC,
	topology.OpRemoveDC,
	topology.OpListDCs,
}

// Master owns the topology of one DC: it follows store heartbeats, serves
// the admin operations and publishes the topology on the bus.
type Master struct {
	cfg Config
	log hclog.Logger

	// ctx ends at Shutdown; the background goroutines run under it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   chan struct{} // closed when Shutdown has finished
	kick   chan struct{} // wakes the publisher; capacity 1, coalescing

	lifeMu   sync.Mutex
	started  bool
	stopping bool
	subs     []*bus.Subscription

	// pubMu serializes publishing. Keyspaces change only while it is held,
	// and are published or undone before it is released.
	pubMu sync.Mutex

	// mu guards st, pub and rev; it is held only briefly, never over I/O.
	mu  sync.Mutex
	st  *State
	pub *topology.Topology // last published or read topology; never modified
	rev uint64             // its revision in the bucket, 0 if there is none
}

// New checks cfg and returns a master that is not started.
func New(cfg Config) (*Master, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Master{
		cfg:    cfg,
		log:    cfg.Logger.Named("master").With("dc", cfg.DC),
		ctx:    ctx,
		cancel: cancel,
		done:   make(chan struct{}),
		kick:   make(chan struct{}, 1),
		pub:    topology.New(cfg.DC),
	}, nil
}

// Start reads the DC's topology from the bus (creating the bucket if
// needed; a missing document is an empty topology at version 0), subscribes
// to heartbeats, serves the admin operations and starts the ticker and the
// publisher, then returns. ctx bounds only the start-up. A master starts at
// most once; Start after Shutdown returns ErrClosed.
func (m *Master) Start(ctx context.Context) error {
	m.lifeMu.Lock()
	if m.started || m.stopping {
		m.lifeMu.Unlock()
		return ErrClosed
	}
	m.started = true
	m.lifeMu.Unlock()

	subs, err := m.start(ctx)

	m.lifeMu.Lock()
	defer m.lifeMu.Unlock()
	if err == nil && m.stopping {
		err = ErrClosed
	}
	if err != nil {
		for _, s := range subs {
			s.Stop()
		}
		if !m.stopping {
			m.started = false // may be retried
		}
		return err
	}
	m.subs = subs
	m.wg.Add(3)
	go m.tickLoop()
	go m.publishLoop()
	go m.checkLoop()
	return nil
}

// start does Start's I/O; on error it returns the subscriptions made so far.
func (m *Master) start(ctx context.Context) ([]*bus.Subscription, error) {
	dc, conn := m.cfg.DC, m.cfg.Bus
	if err := conn.EnsureTopologyBucket(ctx, dc); err != nil {
		return nil, fmt.Errorf("master: topology bucket: %w", err)
	}
	t, rev, err := m.readAtStart(ctx)
	if err != nil {
		return nil, err
	}
	st, err := NewState(t, m.cfg.Clock.Now())
	if err != nil {
		return nil, fmt.Errorf("master: topology of %s: %w", dc, err)
	}
	m.mu.Lock()
	m.st, m.pub, m.rev = st, t, rev
	m.mu.Unlock()

	var subs []*bus.Subscription
	hbSubject, err := bus.HeartbeatSubject(dc)
	if err != nil {
		return nil, fmt.Errorf("master: %w", err)
	}
	sub, err := conn.Subscribe(hbSubject, m.onHeartbeat)
	if err != nil {
		return nil, fmt.Errorf("master: subscribe to heartbeats: %w", err)
	}
	subs = append(subs, sub)
	queue := "vasto-master-" + dc
	for _, op := range adminOps {
		subject, err := bus.AdminSubject(dc, op)
		if err != nil {
			return subs, fmt.Errorf("master: %w", err)
		}
		sub, err := conn.Handle(subject, queue, m.adminHandler(op))
		if err != nil {
			return subs, fmt.Errorf("master: serve %s: %w", op, err)
		}
		subs = append(subs, sub)
	}
	m.log.Info("master started", "version", t.Version, "revision", rev,
		"stores", len(t.Stores), "keyspaces", len(t.Keyspaces))
	return subs, nil
}

// readAtStart is read, retried while the bucket has no responder yet (a
// replicated bucket just created, or a NATS cluster electing its leaders)
// until ctx ends.
func (m *Master) readAtStart(ctx context.Context) (*topology.Topology, uint64, error) {
	backoff := retry.Backoff{Min: minRetryBackoff / 10, Max: maxRetryBackoff}
	for {
		t, rev, err := m.read(ctx)
		if err == nil || !errors.Is(err, bus.ErrNoResponders) {
			return t, rev, err
		}
		m.log.Debug("topology bucket not answering yet, retrying", "error", err)
		if !backoff.Wait(ctx, nil) {
			return nil, 0, err
		}
	}
}

// read returns the topology in the bucket and its revision; an absent
// document gives an empty topology at version 0 and revision 0.
func (m *Master) read(ctx context.Context) (*topology.Topology, uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	doc, rev, err := m.cfg.Bus.GetTopology(ctx, m.cfg.DC)
	if errors.Is(err, bus.ErrNoTopology) {
		t := topology.New(m.cfg.DC)
		t.ID = strconv.FormatUint(rand.Uint64(), 36)
		// A new topology starts at a version drawn from the clock
		// (milliseconds since 1970), not 0: if it replaces a lost one, its
		// versions, keyspace incarnations and operation ids do not repeat
		// those of the topology it replaces.
		t.Version = versionFloor(m.cfg.Clock.Now())
		return t, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("master: read topology: %w", err)
	}
	t, err := topology.Decode(doc)
	if err != nil {
		return nil, 0, fmt.Errorf("master: topology revision %d: %w", rev, err)
	}
	if t.DC != m.cfg.DC {
		return nil, 0, fmt.Errorf("master: topology revision %d: %w: dc %q, want %q", rev, topology.ErrCorrupt, t.DC, m.cfg.DC)
	}
	return t, rev, nil
}

// Shutdown stops the subscriptions (ending admin requests in progress) and
// the goroutines, and waits for them, or until ctx ends. It is idempotent
// and safe before Start. It does not close the bus connection.
func (m *Master) Shutdown(ctx context.Context) error {
	m.lifeMu.Lock()
	first := !m.stopping
	m.stopping = true
	subs := m.subs
	m.subs = nil
	m.lifeMu.Unlock()
	if first {
		go func() {
			m.cancel()
			for _, s := range subs {
				s.Stop()
			}
			m.wg.Wait()
			m.mu.Lock()
			v := m.pub.Version
			m.mu.Unlock()
			m.log.Info("master stopped", "version", v)
			close(m.done)
		}()
	}
	select {
	case <-m.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("master: shutdown: %w", ctx.Err())
	}
}

// Topology returns a copy of the topology the master last published (or
// read at start).
func (m *Master) Topology() *topology.Topology {
	m.mu.Lock()
	defer m.mu.Unlock()
	return clone(m.pub)
}

// published returns the last published topology; callers must not modify
// it.
func (m *Master) published() *topology.Topology {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pub
}

// kickPublisher wakes the background publisher.
func (m *Master) kickPublisher() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// onHeartbeat handles one heartbeat message.
func (m *Master) onHeartbeat(_ string, data []byte) {
	var hb topology.Heartbeat
	if err := json.Unmarshal(data, &hb); err != nil {
		m.log.Warn("ignoring undecodable heartbeat", "error", err)
		return
	}
	if err := CheckHeartbeat(hb); err != nil {
		m.log.Warn("ignoring heartbeat", "store", hb.Store, "error", err)
		return
	}
	m.mu.Lock()
	changed := m.st.OnHeartbeat(hb, m.cfg.Clock.Now())
	ev := m.st.takeEvents()
	m.mu.Unlock()
	m.logEvents(ev)
	if changed {
		m.kickPublisher()
	}
}

// tickLoop runs State.Tick every TickInterval and wakes the publisher when
// the state is ahead of what was published. While the master's own bus
// connection is down it marks no store down (their heartbeats could not
// reach it), and when the connection comes back every store gets a full
// dead-after period to beat again. It also recovers keyspaces the stores
// hold that the topology lost (AutoRecoverAfter).
func (m *Master) tickLoop() {
	defer m.wg.Done()
	t := time.NewTicker(m.cfg.TickInterval)
	defer t.Stop()
	cutOff := false
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-t.C:
		}
		now := m.cfg.Clock.Now()
		if !m.cfg.Bus.IsConnected() {
			if !cutOff {
				m.log.Warn("lost the connection to NATS; not marking stores down until it is back")
			}
			cutOff = true
			continue
		}
		m.mu.Lock()
		if cutOff {
			m.st.Resume(now)
		}
		m.st.Tick(now)
		var recovered []*topology.Keyspace
		if m.cfg.AutoRecoverAfter > 0 {
			recovered = m.st.AutoRecover(now, int64(m.cfg.AutoRecoverAfter))
		}
		ev := m.st.takeEvents()
		behind := m.st.Version() > m.pub.Version
		m.mu.Unlock()
		if cutOff {
			m.log.Info("connection to NATS back; stores have a full dead-after period to beat")
			cutOff = false
		}
		m.logEvents(ev)
		for _, ks := range recovered {
			m.log.Warn("recovered a keyspace the topology did not know from the shards the stores hold",
				"keyspace", ks.Name, "epoch", ks.Epoch, "shards", ks.Shards, "replicas", ks.Replicas,
				"placement", fmt.Sprint(ks.Placement))
		}
		if behind {
			m.kickPublisher()
		}
	}
}

// publishLoop publishes the store changes of heartbeats and ticks, retrying
// with back-off after a failure.
func (m *Master) publishLoop() {
	defer m.wg.Done()
	backoff := retry.Backoff{Min: minRetryBackoff, Max: maxRetryBackoff}
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-m.kick:
		}
		if _, err := m.publish(m.ctx, nil); err == nil {
			backoff.Reset()
			continue
		} else if m.ctx.Err() == nil {
			m.log.Error("cannot publish topology, will retry", "error", err, "retry_in", backoff.Current())
		}
		if !backoff.Wait(m.ctx, nil) {
			return
		}
		m.kickPublisher()
	}
}

// checkLoop checks every topologyCheckInterval that the bucket still holds
// the topology (checkPublished).
func (m *Master) checkLoop() {
	defer m.wg.Done()
	t := time.NewTicker(topologyCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-t.C:
		}
		if !m.cfg.Bus.IsConnected() {
			continue
		}
		if err := m.checkPublished(m.ctx); err != nil && m.ctx.Err() == nil {
			m.log.Warn("cannot check the published topology", "error", err)
		}
	}
}

// checkPublished writes the master's topology again when the bucket lost
// it: NATS lost its data (every server of the cluster wiped or replaced),
// or the bucket or document was deleted. Stores and clients keep what they
// had meanwhile, but a store or client that starts, or a watcher that
// re-watches, would find no topology. The document is created (never
// overwritten), so a topology another master wrote meanwhile wins, and the
// next publish rebases on it.
func (m *Master) checkPublished(ctx context.Context) error {
	m.pubMu.Lock()
	defer m.pubMu.Unlock()
	m.mu.Lock()
	pub, rev := m.pub, m.rev
	m.mu.Unlock()
	if rev == 0 {
		return nil // nothing published yet: the publisher writes it
	}
	rctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	_, _, err := m.cfg.Bus.GetTopology(rctx, m.cfg.DC)
	if !errors.Is(err, bus.ErrNoTopology) {
		return err
	}
	m.log.Warn("the topology is gone from NATS; publishing it again", "version", pub.Version, "revision", rev, "error", err)
	if err := m.cfg.Bus.EnsureTopologyBucket(rctx, m.cfg.DC); err != nil {
		return err
	}
	doc, err := pub.Encode()
	if err != nil {
		return err
	}
	newRev, err := m.cfg.Bus.PutTopology(rctx, m.cfg.DC, doc, 0)
	if errors.Is(err, bus.ErrConflict) {
		// Another master wrote one meanwhile: rebase on it when publishing.
		m.kickPublisher()
		return nil
	}
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.rev = newRev
	m.mu.Unlock()
	m.log.Info("topology published again", "version", pub.Version, "revision", newRev)
	m.kickPublisher() // changes made meanwhile
	return nil
}

// publish applies op (if not nil) to the state and publishes the state if
// it is ahead of the published topology, with compare-and-set on the last
// revision. On a conflict it re-reads the bucket, rebases the state on it,
// re-applies op and tries again, up to maxPublishAttempts times. It returns
// the topology now published. op's own error is returned as is; a failure to
// publish gives an error wrapping ErrPublish, and op's change is undone.
func (m *Master) publish(ctx context.Context, op func(*State) error) (*topology.Topology, error) {
	m.pubMu.Lock()
	defer m.pubMu.Unlock()
	if op != nil {
		m.mu.Lock()
		err := op(m.st)
		m.mu.Unlock()
		if err != nil {
			return nil, err
		}
	}
	for attempt := 1; ; attempt++ {
		m.mu.Lock()
		if m.st.Version() == m.pub.Version {
			pub := m.pub
			m.mu.Unlock()
			return pub, nil
		}
		next, rev := m.st.Topology(), m.rev
		m.mu.Unlock()

		doc, err := next.Encode()
		if err != nil {
			return nil, m.publishFailed(op != nil, fmt.Errorf("encode: %w", err))
		}
		pctx, cancel := context.WithTimeout(ctx, publishTimeout)
		newRev, err := m.cfg.Bus.PutTopology(pctx, m.cfg.DC, doc, rev)
		cancel()
		if err == nil {
			m.mu.Lock()
			m.pub, m.rev = next, newRev
			m.mu.Unlock()
			m.log.Debug("topology published", "version", next.Version, "revision", newRev)
			return next, nil
		}
		conflict := errors.Is(err, bus.ErrConflict)
		if !conflict && !errors.Is(err, bus.ErrNoTopology) || attempt >= maxPublishAttempts || ctx.Err() != nil {
			return nil, m.publishFailed(op != nil, fmt.Errorf("version %d on revision %d (attempt %d): %w", next.Version, rev, attempt, err))
		}
		if !conflict {
			// The bucket was deleted under us: create it again and start
			// over from whatever is (not) there.
			m.log.Warn("topology bucket missing, creating it again", "error", err)
			ectx, cancel := context.WithTimeout(ctx, publishTimeout)
			err := m.cfg.Bus.EnsureTopologyBucket(ectx, m.cfg.DC)
			cancel()
			if err != nil {
				return nil, m.publishFailed(op != nil, err)
			}
		}
		remote, remoteRev, err := m.read(ctx)
		if err != nil {
			return nil, m.publishFailed(op != nil, err)
		}
		if remoteRev == 0 {
			// The document is gone (bucket or key deleted): there is
			// nothing to rebase on, and adopting an empty topology would
			// drop every keyspace. Write ours again, from scratch.
			m.mu.Lock()
			m.rev = 0
			m.mu.Unlock()
			m.log.Warn("topology document missing from the bucket; writing the master's again",
				"version", next.Version, "attempt", attempt)
			continue
		}
		m.mu.Lock()
		local := m.st.Version()
		if err := m.st.Rebase(remote, m.cfg.Clock.Now()); err != nil {
			m.mu.Unlock()
			return nil, m.publishFailed(op != nil, err)
		}
		m.pub, m.rev = remote, remoteRev
		var opErr error
		if op != nil {
			opErr = op(m.st)
		}
		m.mu.Unlock()
		m.log.Warn("topology changed in the bucket under the master; rebased on it and re-applying",
			"local_version", local, "remote_version", remote.Version, "remote_revision", remoteRev,
			"attempt", attempt, "reapply_error", opErr)
		if opErr != nil {
			// The operation does not apply to the newer topology (e.g. the
			// keyspace was created meanwhile). Store changes the rebase kept
			// still need publishing.
			m.kickPublisher()
			return nil, opErr
		}
	}
}

// versionFloor is the first version of a new topology at now (ns since
// 1970): milliseconds since 1970.
func versionFloor(now int64) uint64 { return uint64(max(now, 0) / int64(time.Millisecond)) }

// publishFailed undoes a keyspace operation that could not be published
// (the keyspaces go back to the published ones; stores and version stay)
// and returns err wrapped in ErrPublish.
func (m *Master) publishFailed(undo bool, err error) error {
	if undo {
		m.mu.Lock()
		if rerr := m.st.Rebase(m.pub, m.cfg.Clock.Now()); rerr != nil {
			m.log.Error("cannot undo keyspace change", "error", rerr)
		}
		m.mu.Unlock()
	}
	return fmt.Errorf("%w: %w", ErrPublish, err)
}

// logEvents logs store transitions.
func (m *Master) logEvents(evs []event) {
	for _, e := range evs {
		switch e.kind {
		case evJoined:
			m.log.Info("store joined", "store", e.store, "addr", e.addr)
		case evUp:
			m.log.Info("store up", "store", e.store, "addr", e.addr)
		case evDown:
			m.log.Info("store down", "store", e.store, "addr", e.addr,
				"silent_for", time.Duration(e.silent))
		case evMoved:
			m.log.Info("store moved", "store", e.store, "addr", e.addr)
		case evResize:
			m.log.Info("resize switched layouts", "keyspace", e.store, "detail", e.addr)
		case evMoveDone:
			m.log.Info("replica move done", "store", e.store, "move", e.addr)
		case evRetired:
			m.log.Info("replaced store retired from the topology", "store", e.store, "addr", e.addr)
		case evOpDone:
			m.log.Info("operation finished", "kind", e.store, "detail", e.addr)
		}
	}
}

// adminError is an admin reply error: Error() is "CODE: message".
type adminError struct {
	code string
	err  error
}

func (e *adminError) Error() string { return e.code + ": " + e.err.Error() }
func (e *adminError) Unwrap() error { return e.err }

// codeOf maps an error to its admin error code.
func codeOf(err error) string {
	switch {
	case errors.Is(err, topology.ErrBadName):
		return topology.CodeBadName
	case errors.Is(err, ErrKeyspaceExists), errors.Is(err, ErrDCExists):
		return topology.CodeExists
	case errors.Is(err, topology.ErrUnknownKeyspace):
		return topology.CodeUnknown
	case errors.Is(err, topology.ErrNotEnoughStores):
		return topology.CodeNotEnoughStore
	case errors.Is(err, ErrInvalidRequest):
		return topology.CodeInvalid
	case errors.Is(err, ErrBusy):
		return topology.CodeBusy
	case errors.Is(err, ErrNotFound):
		return topology.CodeNotFound
	}
	return topology.CodeInternal
}

// adminHandler returns the bus handler of op.
func (m *Master) adminHandler(op string) func(context.Context, []byte) ([]byte, error) {
	return func(ctx context.Context, data []byte) ([]byte, error) {
		reply, err := m.admin(ctx, op, data)
		if err != nil {
			code := codeOf(err)
			if code == topology.CodeInternal {
				m.log.Error("admin operation failed", "op", op, "error", err)
			} else {
				m.log.Debug("admin operation refused", "op", op, "code", code, "error", err)
			}
			return nil, &adminError{code: code, err: err}
		}
		out, err := json.Marshal(reply)
		if err != nil {
			return nil, &adminError{code: topology.CodeInternal, err: err}
		}
		return out, nil
	}
}

// decode parses an admin request; a malformed one is ErrInvalidRequest.
func decode(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	return nil
}

// admin runs one admin operation and returns its reply.
func (m *Master) admin(ctx context.Context, op string, data []byte) (any, error) {
	switch op {
	case topology.OpCreateKeyspace:
		var req topology.CreateKeyspaceRequest
		if err := decode(data, &req); err != nil {
			return nil, err
		}
		return m.createKeyspace(ctx, req)
	case topology.OpDeleteKeyspace:
		var req topology.NameRequest
		if err := decode(data, &req); err != nil {
			return nil, err
		}
		if req.Epoch != 0 {
			return m.discardIncarnation(ctx, req.Name, req.Epoch)
		}
		return m.deleteKeyspace(ctx, req.Name)
	case topology.OpRecoverKeyspaces:
		var req topology.RecoverRequest
		if err := decode(data, &req); err != nil {
			return nil, err
		}
		return m.recoverKeyspaces(ctx, req)
	case topology.OpDescribeKeyspace:
		var req topology.NameRequest
		if err := decode(data, &req); err != nil {
			return nil, err
		}
		return m.describe(req.Name)
	case topology.OpListKeyspaces:
		return listKeyspaces(m.published()), nil
	case topology.OpListStores:
		return listStores(m.published()), nil
	case topology.OpResizeKeyspace:
		var req topology.ResizeRequest
		if err := decode(data, &req); err != nil {
			return nil, err
		}
		return m.resize(ctx, req)
	case topology.OpCancelResize:
		var req topology.NameRequest
		if err := decode(data, &req); err != nil {
			return nil, err
		}
		return m.startOp(ctx, func(s *State, now int64) (*topology.Operation, error) { return s.CancelResize(req.Name, now) })
	case topology.OpReplaceStore, topology.OpDrainStore:
		var req topology.ReplaceRequest
		if err := decode(data, &req); err != nil {
			return nil, err
		}
		if op == topology.OpDrainStore {
			req.Target = ""
		} else if req.Target == "" {
			return nil, fmt.Errorf("%w: replace needs the replacement store", ErrInvalidRequest)
		}
		return m.replace(ctx, req)
	case topology.OpRebalance:
		var req topology.RebalanceRequest
		if err := decode(data, &req); err != nil {
			return nil, err
		}
		return m.rebalance(ctx, req)
	case topology.OpGetOperation:
		var req topology.OpRequest
		if err := decode(data, &req); err != nil {
			return nil, err
		}
		return m.operation(req.ID)
	case topology.OpAddDC, topology.OpRemoveDC:
		var req topology.DCRequest
		if err := decode(data, &req); err != nil {
			return nil, err
		}
		return m.changeDCs(ctx, op == topology.OpAddDC, req.Name)
	case topology.OpListDCs:
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.st.ListDCs(), nil
	}
	return nil, fmt.Errorf("%w: unknown operation %q", ErrInvalidRequest, op)
}

// createKeyspace creates a keyspace and returns it once published.
func (m *Master) createKeyspace(ctx context.Context, req topology.CreateKeyspaceRequest) (topology.KeyspaceReply, error) {
	pub, err := m.publish(ctx, func(s *State) error { return s.CreateKeyspace(req) })
	if err != nil {
		return topology.KeyspaceReply{}, err
	}
	ks, ok := pub.Keyspaces[req.Name]
	if !ok {
		return topology.KeyspaceReply{}, fmt.Errorf("%w: keyspace %q missing after publish", ErrPublish, req.Name)
	}
	m.log.Info("keyspace created", "keyspace", req.Name, "shards", ks.Shards,
		"replicas", ks.Replicas, "version", pub.Version)
	return keyspaceReply(pub, ks), nil
}

// deleteKeyspace deletes a keyspace and returns what it was, with the
// version that no longer has it, once published.
func (m *Master) deleteKeyspace(ctx context.Context, name string) (topology.KeyspaceReply, error) {
	var gone topology.KeyspaceReply
	pub, err := m.publish(ctx, func(s *State) error {
		r, err := s.Describe(name)
		if err != nil {
			return err
		}
		gone = r
		return s.DeleteKeyspace(name, m.cfg.Clock.Now())
	})
	if err != nil {
		return topology.KeyspaceReply{}, err
	}
	gone.Version = pub.Version
	m.log.Info("keyspace deleted", "keyspace", name, "version", pub.Version)
	return gone, nil
}

// discardIncarnation records a held incarnation the topology does not place
// as deleted, so the stores drop it.
func (m *Master) discardIncarnation(ctx context.Context, name string, epoch uint64) (topology.KeyspaceReply, error) {
	pub, err := m.publish(ctx, func(s *State) error { return s.DiscardIncarnation(name, epoch) })
	if err != nil {
		return topology.KeyspaceReply{}, err
	}
	m.log.Info("keyspace incarnation discarded", "keyspace", name, "epoch", epoch, "version", pub.Version)
	return topology.KeyspaceReply{Keyspace: &topology.Keyspace{Name: name, Epoch: epoch}, Version: pub.Version}, nil
}

// recoverKeyspaces rebuilds keyspaces from what the stores hold.
func (m *Master) recoverKeyspaces(ctx context.Context, req topology.RecoverRequest) (topology.RecoverReply, error) {
	var reply topology.RecoverReply
	pub, err := m.publish(ctx, func(s *State) error {
		var err error
		reply, err = s.Recover(req)
		return err
	})
	if err != nil {
		return topology.RecoverReply{}, err
	}
	if !req.DryRun {
		reply.Version = pub.Version
		for _, ks := range reply.Recovered {
			m.log.Warn("keyspace recovered from the shards the stores hold", "keyspace", ks.Name,
				"epoch", ks.Epoch, "shards", ks.Shards, "replicas", ks.Replicas, "version", pub.Version)
		}
	}
	return reply, nil
}
