package bus

import (
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus/embedded"
	"github.com/vasto-kv/vasto/internal/secure"
)

// matches reports whether subject matches the NATS subject pattern.
func matches(pattern, subject string) bool {
	pt, st := strings.Split(pattern, "."), strings.Split(subject, ".")
	for i, p := range pt {
		if p == ">" {
			return len(st) > i
		}
		if i >= len(st) || (p != "*" && p != st[i]) {
			return false
		}
	}
	return len(pt) == len(st)
}

func allowed(list []string, subject string) bool {
	for _, p := range list {
		if matches(p, subject) {
			return true
		}
	}
	return false
}

func perms(t *testing.T, id Identity) Permissions {
	t.Helper()
	p, err := RolePermissions(id)
	require.NoError(t, err)
	return p
}

// The permission sets pinned: who may publish changes, write the
// topology, ask which admin operation, and what crosses a leafnode.
func TestRolePermissions(t *testing.T) {
	remotes := []string{"dc2"}
	master := perms(t, Identity{Role: RoleMaster, DC: "dc1", RemoteDCs: remotes})
	store := perms(t, Identity{Role: RoleStore, DC: "dc1", Store: "s1", RemoteDCs: remotes})
	client := perms(t, Identity{Role: RoleClient, DC: "dc1"})
	admin := perms(t, Identity{Role: RoleAdmin, DC: "dc1", RemoteDCs: remotes})
	leaf := perms(t, Identity{Role: RoleLeaf, DC: "dc1", RemoteDCs: remotes})

	own, _ := ChangeSubject("dc1", "ks", 3, "s1")
	other, _ := ChangeSubject("dc1", "ks", 3, "s2")
	otherDC, _ := ChangeSubject("dc2", "ks", 3, "s1")
	topo := "$KV.vasto_topo_dc1.topology"
	create, _ := AdminSubject("dc1", "keyspace-create")
	list, _ := AdminSubject("dc1", "keyspace-list")
	dcList, _ := AdminSubject("dc1", "dc-list")
	dcAdd, _ := AdminSubject("dc1", "dc-add")
	hb, _ := HeartbeatSubject("dc1")

	cases := []struct {
		name    string
		p       Permissions
		pub     []string // must be allowed
		noPub   []string // must be refused
		sub     []string
		noSub   []string
		replies bool
	}{
		{"master", master,
			[]string{topo, "$JS.API.STREAM.CREATE.KV_vasto_topo_dc1", "$JS.API.DIRECT.GET.KV_vasto_topo_dc1.$KV.vasto_topo_dc1.topology",
				"$JS.dc2.API.DIRECT.GET.KV_vasto_topo_dc2.$KV.vasto_topo_dc2.topology"},
			[]string{own, other, create, "$JS.API.STREAM.DELETE.VASTO_CHG_dc1", "$JS.API.STREAM.PURGE.KV_vasto_topo_dc1", "_INBOX.x",
				"$JS.dc3.API.DIRECT.GET.KV_vasto_topo_dc3.$KV.vasto_topo_dc3.topology", "$KV.vasto_topo_dc2.topology"},
			[]string{hb, create, "_INBOX.abc.def"}, []string{own}, true},
		{"store", store,
			[]string{own, hb, "$JS.API.STREAM.CREATE.VASTO_CHG_dc1", "$JS.API.STREAM.CREATE.VASTO_SRC_dc2",
				"$JS.API.CONSUMER.CREATE.VASTO_CHG_dc1.d.vasto.chg.dc1.ks.3.s2", "$JS.API.CONSUMER.MSG.NEXT.VASTO_SRC_dc2.d",
				"$JS.ACK.VASTO_CHG_dc1.d.1.2.3.4.5", "$JS.dc2.API.STREAM.INFO.VASTO_CHG_dc2",
				"$JS.dc2.API.DIRECT.GET.KV_vasto_topo_dc2.$KV.vasto_topo_dc2.topology"},
			[]string{other, otherDC, topo, create, "$JS.API.STREAM.DELETE.VASTO_CHG_dc1", "$JS.API.STREAM.UPDATE.KV_vasto_topo_dc1",
				"$JS.API.STREAM.PURGE.VASTO_CHG_dc1", "$JS.API.STREAM.MSG.DELETE.VASTO_CHG_dc1", "$JS.dc2.API.STREAM.DELETE.VASTO_CHG_dc2"},
			[]string{"_INBOX.x.y", "$JS.EVENT.ADVISORY.STREAM.DELETED.KV_vasto_topo_dc1"}, []string{own, hb, create}, false},
		{"client", client,
			[]string{list, dcList, "$JS.API.STREAM.INFO.KV_vasto_topo_dc1", "$JS.API.CONSUMER.CREATE.KV_vasto_topo_dc1.w.$KV.vasto_topo_dc1.topology"},
			[]string{own, topo, create, dcAdd, hb, "$JS.API.STREAM.INFO.VASTO_CHG_dc1", "$JS.API.STREAM.UPDATE.KV_vasto_topo_dc1"},
			[]string{"_INBOX.x"}, []string{own, hb, create}, false},
		{"admin", admin,
			[]string{list, create, dcAdd, "$JS.API.STREAM.INFO.VASTO_SRC_dc2", "$JS.dc2.API.STREAM.INFO.VASTO_CHG_dc2"},
			[]string{own, topo, hb, "$JS.API.STREAM.DELETE.VASTO_SRC_dc2", "$JS.API.STREAM.CREATE.VASTO_SRC_dc2"},
			[]string{"_INBOX.x"}, []string{own, create}, false},
		{"leaf", leaf,
			[]string{"$JS.dc1.API.CONSUMER.CREATE.VASTO_CHG_dc1.c.vasto.chg.dc1.>", "$JS.dc2.API.STREAM.INFO.VASTO_CHG_dc2", "$JS.S.abc", "$JSC.R.abc", "$JS.FC.x.y"},
			[]string{own, otherDC, topo, create, hb, "$JS.API.INFO", "$JS.dc1.API.STREAM.DELETE.VASTO_CHG_dc1",
				"$JS.dc1.API.CONSUMER.DELETE.VASTO_CHG_dc1.d", "$KV.vasto_topo_dc2.topology"},
			[]string{"$JS.S.abc", "_INBOX.a"}, []string{own, otherDC, hb, create}, false},
	}
	for _, c := range cases {
		for _, s := range c.pub {
			require.True(t, allowed(c.p.Publish, s), "%s must publish %s", c.name, s)
		}
		for _, s := range c.noPub {
			require.False(t, allowed(c.p.Publish, s), "%s must not publish %s", c.name, s)
		}
		for _, s := range c.sub {
			require.True(t, allowed(c.p.Subscribe, s), "%s must subscribe %s", c.name, s)
		}
		for _, s := range c.noSub {
			require.False(t, allowed(c.p.Subscribe, s), "%s must not subscribe %s", c.name, s)
		}
		require.Equal(t, c.replies, c.p.AllowResponses, c.name)
		// Nothing but the store publishes a change, nobody may use the
		// whole JetStream API.
		for _, s := range c.p.Publish {
			require.NotEqual(t, "$JS.API.>", s, c.name)
			require.NotEqual(t, ">", s, c.name)
			if c.name != "store" {
				require.False(t, strings.HasPrefix(s, changeSubjectPrefix), "%s publishes %s", c.name, s)
			}
		}
	}

	for _, bad := range []Identity{
		{Role: "root", DC: "dc1"},
		{Role: RoleStore, DC: "dc1"},
		{Role: RoleClient, DC: "dc1", Store: "s1"},
		{Role: RoleStore, DC: "dc1", Store: "a.b"},
		{Role: RoleMaster, DC: "dc.1"},
		{Role: RoleLeaf, DC: "dc1", RemoteDCs: []string{"dc1"}},
		{Role: RoleLeaf, DC: "dc1", RemoteDCs: []string{">"}},
	} {
		_, err := RolePermissions(bad)
		require.Error(t, err, "%+v", bad)
	}
}

// What WriteCredentials writes: private seeds, a config nats-server's own
// parser reads back with every user and its permissions, and seeds kept
// on a second run.
func TestWriteCredentials(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "creds")
	ids := DCIdentities("dc1", []string{"s1", "s2"}, []string{"dc2"})
	files, err := WriteCredentials(dir, ids)
	require.NoError(t, err)
	require.Len(t, files.Seeds, 6)
	pubs := map[string]bool{}
	for i, path := range files.Seeds {
		require.False(t, files.Kept[i])
		seed, err := secure.ReadSecret(path) // refuses a file others may read
		require.NoError(t, err)
		pub, err := UserPublicKey(seed)
		require.NoError(t, err)
		pubs[pub] = true
	}
	nkeys, users, err := embedded.LoadAuthConfig(files.AuthConfig)
	require.NoError(t, err)
	require.Empty(t, users)
	require.Len(t, nkeys, 6)
	for i, u := range nkeys {
		require.True(t, pubs[u.Nkey])
		want := perms(t, ids[i])
		require.Equal(t, want.Publish, u.Permissions.Publish.Allow, ids[i].Role)
		require.Equal(t, want.Subscribe, u.Permissions.Subscribe.Allow, ids[i].Role)
		require.Equal(t, want.AllowResponses, u.Permissions.Response != nil, ids[i].Role)
	}
	conf, err := os.ReadFile(files.AuthConfig)
	require.NoError(t, err)
	for i := range files.Seeds {
		seed, _ := secure.ReadSecret(files.Seeds[i])
		require.NotContains(t, string(conf), seed.Reveal())
	}

	again, err := WriteCredentials(dir, DCIdentities("dc1", []string{"s1", "s2", "s3"}, []string{"dc2"}))
	require.NoError(t, err)
	require.Equal(t, []bool{true, true, true, true, true, true, false}, again.Kept)
	_, err = WriteCredentials(dir, []Identity{{Role: RoleStore, DC: "dc1", Store: "s1"}, {Role: RoleStore, DC: "dc1", Store: "s1"}})
	require.ErrorIs(t, err, ErrInvalidConfig)
}

// secureDC is one DC's TLS files and credentials.
type secureDC struct {
	tls   secure.DevFiles
	creds CredsFiles
	seeds map[string]string // seed file by SeedFileName
}

func newSecureDC(t testing.TB, dev secure.DevFiles, dc string, stores, remotes []string) *secureDC {
	t.Helper()
	files, err := WriteCredentials(t.TempDir(), DCIdentities(dc, stores, remotes))
	require.NoError(t, err)
	s := &secureDC{tls: dev, creds: files, seeds: map[string]string{}}
	for _, p := range files.Seeds {
		s.seeds[filepath.Base(p)] = p
	}
	return s
}

// secure configures a server with mutual TLS and the DC's users.
func (s *secureDC) secure(cfg *embedded.Config) {
	cfg.TLS = s.tls.Node()
	cfg.AuthConfig = s.creds.AuthConfig
}

// violations collects the errors a connection's server reports
// asynchronously.
type violations struct {
	mu   sync.Mutex
	errs []error
}

func (v *violations) add(err error) {
	v.mu.Lock()
	v.errs = append(v.errs, err)
	v.mu.Unlock()
}

func (v *violations) has(subject string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, err := range v.errs {
		if errorIsAny(err, ErrPermission) && strings.Contains(err.Error(), subject) {
			return true
		}
	}
	return false
}

func clientTLS(t testing.TB, f secure.TLSFiles) *tls.Config {
	t.Helper()
	c, err := f.Client()
	require.NoError(t, err)
	return c
}

// connectAs connects to srv over TLS with the seed file of user (a
// SeedFileName of s) and records the violations the server reports.
func (s *secureDC) connectAs(t testing.TB, srv *embedded.Server, user string) (*Conn, *violations) {
	t.Helper()
	seed, ok := s.seeds[user]
	require.True(t, ok, user)
	v := &violations{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Connect(ctx, ConnConfig{URL: srv.ClientURL(), Name: t.Name() + "-" + user, Logger: embedded.TestLogger(t, hclog.Error),
		CredsFile: seed, TLS: clientTLS(t, s.tls.Client()), OnError: v.add})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c, v
}

// TLS only, with client certificates, and users only: plaintext, an
// unknown authority, no client certificate and no credentials are all
// refused at once.
func TestSecureServerRefusesStrangers(t *testing.T) {
	dev, err := secure.GenerateDev(t.TempDir())
	require.NoError(t, err)
	dc := newSecureDC(t, dev, "dc1", []string{"s1"}, nil)
	cfg := embedded.TestConfig(t, "dc1", t.TempDir())
	dc.secure(&cfg)
	srv := embedded.StartTestServer(t, cfg)
	other, err := secure.GenerateDev(t.TempDir())
	require.NoError(t, err)

	try := func(cc ConnConfig) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cc.URL, cc.Logger = srv.ClientURL(), embedded.TestLogger(t, hclog.Off)
		c, err := Connect(ctx, cc)
		if err == nil {
			c.Close()
		}
		return err
	}
	seed := dc.seeds["client.nk"]
	start := time.Now()
	err = try(ConnConfig{CredsFile: seed})
	require.ErrorIs(t, err, ErrInvalidConfig, "plaintext")
	require.Contains(t, err.Error(), "TLS")
	err = try(ConnConfig{CredsFile: seed, TLS: clientTLS(t, other.Client())})
	require.ErrorIs(t, err, ErrInvalidConfig, "unknown authority")
	err = try(ConnConfig{CredsFile: seed, TLS: clientTLS(t, secure.TLSFiles{CAFile: dev.CA})})
	require.Error(t, err, "no client certificate")
	err = try(ConnConfig{TLS: clientTLS(t, dev.Client())})
	require.ErrorIs(t, err, ErrPermission, "no credentials")
	unknown, err := WriteCredentials(t.TempDir(), DCIdentities("dc1", nil, nil))
	require.NoError(t, err)
	err = try(ConnConfig{CredsFile: unknown.Seeds[0], TLS: clientTLS(t, dev.Client())})
	require.ErrorIs(t, err, ErrPermission, "a key the server does not know")
	require.Less(t, time.Since(start), 10*time.Second, "refusals are not retried")
	// The error names the file, never the seed.
	s, _ := secure.ReadSecret(seed)
	require.NotContains(t, err.Error(), s.Reveal())

	require.NoError(t, try(ConnConfig{CredsFile: seed, TLS: clientTLS(t, dev.Client())}))
}

// Each role does its job and nothing more: the master writes the topology;
// a store publishes its own changes and consumes; a client reads the
// topology and asks read-only questions but can neither publish a change
// nor write the topology; an admin asks for keyspace operations. A refused
// publish is reported through OnError and nothing is stored.
func TestRolesEnforced(t *testing.T) {
	ctx := testCtx(t)
	dev, err := secure.GenerateDev(t.TempDir())
	require.NoError(t, err)
	dc := newSecureDC(t, dev, "dc1", []string{"s1", "s2"}, nil)
	cfg := embedded.TestConfig(t, "dc1", t.TempDir())
	dc.secure(&cfg)
	srv := embedded.StartTestServer(t, cfg)

	master, _ := dc.connectAs(t, srv, "master.nk")
	s1, s1v := dc.connectAs(t, srv, "store-s1.nk")
	cl, clv := dc.connectAs(t, srv, "client.nk")
	admin, _ := dc.connectAs(t, srv, "admin.nk")

	// Master: topology bucket and document, admin requests.
	require.NoError(t, master.EnsureTopologyBucket(ctx, "dc1"))
	rev, err := master.PutTopology(ctx, "dc1", []byte("v1"), 0)
	require.NoError(t, err)
	for _, op := range []string{"keyspace-list", "keyspace-create"} {
		subj, _ := AdminSubject("dc1", op)
		h, err := master.Handle(subj, "masters", func(context.Context, []byte) ([]byte, error) { return []byte(op + " done"), nil })
		require.NoError(t, err)
		defer h.Stop()
	}

	// Store: its change stream, its own change subject, a consumer, the
	// topology watch.
	require.NoError(t, s1.EnsureChangeStream(ctx, StreamConfig{DC: "dc1"}))
	chg, _ := ChangeStream("dc1")
	own, _ := ChangeSubject("dc1", "ks", 0, "s1")
	acked, err := s1.PublishBatch(ctx, changeMsgs(own, "s1", 1, 3))
	require.NoError(t, err)
	require.Equal(t, 3, acked)
	col := newCollector()
	k, err := s1.NewConsumer(ConsumerConfig{Stream: chg, Durable: "s1-apply"}, col.handle)
	require.NoError(t, err)
	require.NoError(t, k.Start(ctx))
	defer func() { require.NoError(t, k.Shutdown(context.Background())) }()
	require.Eventually(t, func() bool { return col.len() == 3 }, 10*time.Second, 10*time.Millisecond)
	n, err := s1.LastOnSubject(ctx, chg, own)
	require.NoError(t, err)
	require.Equal(t, "change-3", string(n.Data))
	docs := make(chan string, 10)
	w, err := s1.WatchTopology(ctx, "dc1", func(doc []byte, _ uint64) { docs <- string(doc) })
	require.NoError(t, err)
	defer w.Stop()
	require.Equal(t, "v1", recv(t, docs))

	// refused publishes a change as conn and checks that it is reported
	// and not stored.
	refused := func(conn *Conn, v *violations, subj string) {
		t.Helper()
		before, err := s1.StreamLastSeq(ctx, chg)
		require.NoError(t, err)
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		acked, err := conn.PublishBatch(pctx, changeMsgs(subj, "forged", 1, 1))
		require.Error(t, err)
		require.Zero(t, acked)
		require.Eventually(t, func() bool { return v.has(subj) }, 5*time.Second, 10*time.Millisecond)
		after, err := s1.StreamLastSeq(ctx, chg)
		require.NoError(t, err)
		require.Equal(t, before, after, "a refused change is not stored")
	}
	other, _ := ChangeSubject("dc1", "ks", 0, "s2")
	refused(s1, s1v, other)
	refused(cl, clv, own)

	// Client: reads and watches the topology, asks read-only questions;
	// cannot write the topology nor ask for an operation.
	doc, _, err := cl.GetTopology(ctx, "dc1")
	require.NoError(t, err)
	require.Equal(t, "v1", string(doc))
	cdocs := make(chan string, 10)
	cw, err := cl.WatchTopology(ctx, "dc1", func(doc []byte, _ uint64) { cdocs <- string(doc) })
	require.NoError(t, err)
	defer cw.Stop()
	require.Equal(t, "v1", recv(t, cdocs))
	list, _ := AdminSubject("dc1", "keyspace-list")
	create, _ := AdminSubject("dc1", "keyspace-create")
	resp, err := cl.Request(ctx, list, nil)
	require.NoError(t, err)
	require.Equal(t, "keyspace-list done", string(resp))
	start := time.Now()
	_, err = cl.Request(ctx, create, nil)
	require.ErrorIs(t, err, ErrPermission, "a refused request fails at once")
	require.Less(t, time.Since(start), 5*time.Second)
	require.Eventually(t, func() bool { return clv.has(create) }, 5*time.Second, 10*time.Millisecond)
	pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	_, err = cl.PutTopology(pctx, "dc1", []byte("forged"), rev)
	cancel()
	require.Error(t, err)
	require.Eventually(t, func() bool { return clv.has("$KV.vasto_topo_dc1.topology") }, 5*time.Second, 10*time.Millisecond)
	doc, got, err := master.GetTopology(ctx, "dc1")
	require.NoError(t, err)
	require.Equal(t, "v1", string(doc))
	require.Equal(t, rev, got)

	// Admin: keyspace operations through the master.
	resp, err = admin.Request(ctx, create, nil)
	require.NoError(t, err)
	require.Equal(t, "keyspace-create done", string(resp))

	// The master still writes; the watchers see it.
	_, err = master.PutTopology(ctx, "dc1", []byte("v2"), rev)
	require.NoError(t, err)
	require.Equal(t, "v2", recv(t, docs))
	require.Equal(t, "v2", recv(t, cdocs))
}

// Two DCs linked by a TLS leafnode whose dialling side authenticates as
// the hub's leaf user still copy each other's changes and read each
// other's topology, with every process in its least role.
func TestSecureLeafnodeReplicates(t *testing.T) {
	ctx := testCtx(t)
	dev, err := secure.GenerateDev(t.TempDir())
	require.NoError(t, err)
	dc1 := newSecureDC(t, dev, "dc1", []string{"s1"}, []string{"dc2"})
	dc2 := newSecureDC(t, dev, "dc2", []string{"s1"}, []string{"dc1"})
	p := startDCPair(t, dc1.secure, func(c *embedded.Config) {
		dc2.secure(c)
		c.LeafCreds = dc1.seeds["leaf.nk"]
	})
	m1, _ := dc1.connectAs(t, p.hub, "master.nk")
	s1, s1v := dc1.connectAs(t, p.hub, "store-s1.nk")
	s2, s2v := dc2.connectAs(t, p.spoke, "store-s1.nk")
	a2, _ := dc2.connectAs(t, p.spoke, "admin.nk")

	require.NoError(t, m1.EnsureTopologyBucket(ctx, "dc1"))
	_, err = m1.PutTopology(ctx, "dc1", []byte("dc1 topology"), 0)
	require.NoError(t, err)
	require.NoError(t, s1.EnsureChangeStream(ctx, StreamConfig{DC: "dc1"}))
	require.NoError(t, s2.EnsureChangeStream(ctx, StreamConfig{DC: "dc2"}))
	require.NoError(t, s2.EnsureSourceStream(ctx, SourceConfig{LocalDC: "dc2", RemoteDC: "dc1"}))
	require.NoError(t, s1.EnsureSourceStream(ctx, SourceConfig{LocalDC: "dc1", RemoteDC: "dc2"}))

	subj1, _ := ChangeSubject("dc1", "ks", 0, "s1")
	subj2, _ := ChangeSubject("dc2", "ks", 0, "s1")
	_, err = s1.PublishBatch(ctx, changeMsgs(subj1, "a", 1, 5))
	require.NoError(t, err)
	_, err = s2.PublishBatch(ctx, changeMsgs(subj2, "b", 1, 5))
	require.NoError(t, err)

	consume := func(c *Conn, local, remote string) *collector {
		src, _ := SourceStream(local, remote)
		col := newCollector()
		k, err := c.NewConsumer(ConsumerConfig{Stream: src, Durable: local + "-apply-" + remote}, col.handle)
		require.NoError(t, err)
		require.NoError(t, k.Start(ctx))
		t.Cleanup(func() { require.NoError(t, k.Shutdown(context.Background())) })
		return col
	}
	in2, in1 := consume(s2, "dc2", "dc1"), consume(s1, "dc1", "dc2")
	require.Eventually(t, func() bool { return in2.len() == 5 && in1.len() == 5 }, 20*time.Second, 20*time.Millisecond)
	require.Equal(t, subj1, in2.all()[0].Subject)
	require.Equal(t, subj2, in1.all()[0].Subject)

	// A store reads the other DC's topology across the link; an admin
	// sees the link caught up.
	doc, _, err := s2.GetRemoteTopology(ctx, "dc1")
	require.NoError(t, err)
	require.Equal(t, "dc1 topology", string(doc))
	require.Eventually(t, func() bool {
		st, err := a2.SourceStatus(ctx, "dc2", []string{"dc1"})
		return err == nil && st[0].CaughtUp && st[0].Msgs == 5
	}, 10*time.Second, 50*time.Millisecond)
	// The rest of what stores and 'vasto dc status' do with the copies.
	src, _ := SourceStream("dc2", "dc1")
	first, err := s2.FirstOnSubject(ctx, src, subj1, 1)
	require.NoError(t, err)
	require.Equal(t, "change-1", string(first.Data))
	pending, _, err := a2.ConsumerPending(ctx, src, "dc2-apply-dc1")
	require.NoError(t, err)
	require.Zero(t, pending)
	passed, err := s2.ConsumerPassed(ctx, src, "dc2-apply-dc1", 5)
	require.NoError(t, err)
	require.True(t, passed)
	chg1, _ := ChangeStream("dc1")
	k, err := s1.NewConsumer(ConsumerConfig{Stream: chg1, Durable: "gone"}, newCollector().handle)
	require.NoError(t, err)
	require.NoError(t, k.Start(ctx))
	require.NoError(t, k.Shutdown(ctx))
	require.NoError(t, s1.DeleteConsumer(ctx, chg1, "gone"))
	s1v.mu.Lock()
	require.Empty(t, s1v.errs)
	s1v.mu.Unlock()
	s2v.mu.Lock()
	require.Empty(t, s2v.errs)
	s2v.mu.Unlock()
}
