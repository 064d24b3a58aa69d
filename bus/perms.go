package bus

import (
	"fmt"
	"slices"
)

// Role is the job of a NATS user: what its connections may publish and
// subscribe to (RolePermissions).
type Role string

// Roles of Vasto's NATS users.
const (
	// RoleMaster writes the DC's topology, receives heartbeats and serves
	// the admin requests.
	RoleMaster Role = "master"
	// RoleStore is one store: it publishes its own change log, consumes
	// its DC's change stream and the copies of the other DCs' ones, and
	// reads the topology.
	RoleStore Role = "store"
	// RoleClient reads the topology and asks the master the read-only
	// admin questions (list and describe keyspaces and stores, operation
	// status). It publishes no change and cannot write the topology.
	RoleClient Role = "client"
	// RoleAdmin is RoleClient plus every admin operation (keyspace create,
	// delete, resize...; store replace, drain) and the reads of 'vasto dc
	// status'.
	RoleAdmin Role = "admin"
	// RoleLeaf is the leafnode link between two DCs' NATS servers: only
	// what copying change streams across DCs needs (consumers on the
	// change streams, stream and topology reads, their replies).
	RoleLeaf Role = "leaf"
)

// Roles lists every role.
var Roles = []Role{RoleMaster, RoleStore, RoleClient, RoleAdmin, RoleLeaf}

// Permissions are the subjects a NATS user may publish to and subscribe
// to (nats-server permissions with allow lists only: anything else is
// refused).
type Permissions struct {
	Publish   []string
	Subscribe []string
	// AllowResponses lets the user publish a reply to the reply subject of
	// each request it received (the master answering admin requests),
	// without a publish permission on inboxes.
	AllowResponses bool
}

// Identity is who a NATS user is: its role in DC, the store id for
// RoleStore, and the other DCs whose change streams DC copies (they name
// the copies and the JetStream domains that cross-DC reads reach).
type Identity struct {
	Role      Role
	DC        string
	Store     string
	RemoteDCs []string
}

// readOnlyOps are the admin operations RoleClient may request.
var readOnlyOps = []string{"keyspace-list", "keyspace-describe", "store-list", "op-get", "dc-list"}

// inboxes are the reply subjects of the requests a connection makes
// (nats.go's default inbox prefix).
const inboxes = "_INBOX.>"

// flowControl is where JetStream push consumers (topology watches, copies
// of change streams) expect flow-control replies.
const flowControl = "$JS.FC.>"

// Validate checks the names and the role.
func (id Identity) Validate() error {
	if !slices.Contains(Roles, id.Role) {
		return fmt.Errorf("%w: unknown role %q (want one of %v)", ErrInvalidConfig, id.Role, Roles)
	}
	if err := checkNames(id.DC); err != nil {
		return err
	}
	if (id.Role == RoleStore) != (id.Store != "") {
		return fmt.Errorf("%w: a store id goes with the store role and only with it", ErrInvalidConfig)
	}
	if id.Store != "" {
		if err := checkNames(id.Store); err != nil {
			return err
		}
	}
	for _, r := range id.RemoteDCs {
		if _, err := SourceStream(id.DC, r); err != nil {
			return err
		}
	}
	return nil
}

// RolePermissions returns the least permissions with which id's
// connections still do everything Vasto asks of them.
func RolePermissions(id Identity) (Permissions, error) {
	if err := id.Validate(); err != nil {
		return Permissions{}, err
	}
	dc := id.DC
	switch id.Role {
	case RoleMaster:
		return masterPerms(dc, id.RemoteDCs), nil
	case RoleStore:
		return storePerms(dc, id.Store, id.RemoteDCs), nil
	case RoleClient:
		return clientPerms(dc, readOnlyOps), nil
	case RoleAdmin:
		return adminPerms(dc, id.RemoteDCs), nil
	default:
		return leafPerms(append([]string{dc}, id.RemoteDCs...)), nil
	}
}

// api is the local JetStream API subject of verb (e.g. "STREAM.INFO") on
// the stream or consumer path rest.
func api(verb, rest string) string { return "$JS.API." + verb + "." + rest }

// domainAPI is api in JetStream domain dc as seen from another domain.
func domainAPI(dc, verb, rest string) string { return "$JS." + dc + ".API." + verb + "." + rest }

// kvStream is the stream behind dc's topology bucket.
func kvStream(dc string) string { b, _ := TopologyBucket(dc); return kvStreamPrefix + b }

// topologyRead is what reading and watching dc's topology bucket takes:
// the account info (limits and usage, which the bucket calls check), the
// bucket's stream info, direct and API gets, the ordered consumer of a
// watch (created, deleted when the watch stops, its flow control), and the
// advisory of the bucket's deletion.
func topologyRead(dc string) (pub, sub []string) {
	s := kvStream(dc)
	pub = []string{
		"$JS.API.INFO",
		api("STREAM.INFO", s),
		api("STREAM.MSG.GET", s),
		api("DIRECT.GET", s),
		api("DIRECT.GET", s+".>"),
		api("CONSUMER.CREATE", s),
		api("CONSUMER.CREATE", s+".>"),
		api("CONSUMER.DELETE", s+".*"),
		flowControl,
	}
	sub = []string{inboxes, streamDeletedAdvisory + s}
	return pub, sub
}

// remoteTopologyRead is reading remote's topology document across the
// leafnode link, in remote's JetStream domain.
func remoteTopologyRead(remote string) []string {
	s := kvStream(remote)
	return []string{
		domainAPI(remote, "STREAM.INFO", s),
		domainAPI(remote, "STREAM.MSG.GET", s),
		domainAPI(remote, "DIRECT.GET", s),
		domainAPI(remote, "DIRECT.GET", s+".>"),
	}
}

// streamOwn is what a store does with a stream it creates and consumes:
// create and update it, read it, run durable pull consumers on it (create,
// inspect, reset, delete, fetch, acknowledge).
func streamOwn(stream string) []string {
	return []string{
		api("STREAM.CREATE", stream),
		api("STREAM.UPDATE", stream),
		api("STREAM.INFO", stream),
		api("STREAM.MSG.GET", stream),
		api("DIRECT.GET", stream),
		api("DIRECT.GET", stream+".>"),
		api("CONSUMER.CREATE", stream),
		api("CONSUMER.CREATE", stream+".>"),
		api("CONSUMER.DURABLE.CREATE", stream+".*"),
		api("CONSUMER.INFO", stream+".*"),
		api("CONSUMER.RESET", stream+".*"),
		api("CONSUMER.DELETE", stream+".*"),
		api("CONSUMER.MSG.NEXT", stream+".*"),
		"$JS.ACK." + stream + ".>",
	}
}

// masterPerms: the master also reads the topology of each DC it may be
// asked to add to the DC's remote DCs (vasto dc add checks it is linked).
func masterPerms(dc string, remotes []string) Permissions {
	bucket, _ := TopologyBucket(dc)
	s := kvStream(dc)
	hb, _ := HeartbeatSubject(dc)
	pub, sub := topologyRead(dc)
	pub = append(pub,
		api("STREAM.CREATE", s),
		api("STREAM.UPDATE", s),
		"$KV."+bucket+"."+topologyKey,
	)
	for _, r := range remotes {
		pub = append(pub, remoteTopologyRead(r)...)
	}
	sub = append(sub, hb, adminPrefix+dc+".*")
	return Permissions{Publish: pub, Subscribe: sub, AllowResponses: true}
}

func storePerms(dc, store string, remotes []string) Permissions {
	chg, _ := ChangeStream(dc)
	hb, _ := HeartbeatSubject(dc)
	pub, sub := topologyRead(dc)
	pub = append(pub,
		changeSubjectPrefix+dc+".*.*."+store,
		hb,
	)
	pub = append(pub, streamOwn(chg)...)
	for _, r := range remotes {
		src, _ := SourceStream(dc, r)
		rchg, _ := ChangeStream(r)
		pub = append(pub, streamOwn(src)...)
		pub = append(pub, domainAPI(r, "STREAM.INFO", rchg))
		pub = append(pub, remoteTopologyRead(r)...)
	}
	return Permissions{Publish: pub, Subscribe: sub}
}

func clientPerms(dc string, ops []string) Permissions {
	pub, sub := topologyRead(dc)
	for _, op := range ops {
		s, _ := AdminSubject(dc, op)
		pub = append(pub, s)
	}
	return Permissions{Publish: pub, Subscribe: sub}
}

func adminPerms(dc string, remotes []string) Permissions {
	p := clientPerms(dc, nil)
	p.Publish = append(p.Publish, adminPrefix+dc+".*")
	for _, r := range remotes {
		src, _ := SourceStream(dc, r)
		rchg, _ := ChangeStream(r)
		p.Publish = append(p.Publish,
			api("STREAM.INFO", src),
			api("STREAM.MSG.GET", src),
			api("CONSUMER.INFO", src+".*"),
			domainAPI(r, "STREAM.INFO", rchg),
		)
	}
	return p
}

// leafPerms are the same in both directions (a leafnode user's publish
// permissions are what the dialling server sends, its subscribe ones what
// it receives): for every DC on the link's side of the tree, the reads and
// consumer creations that copying its change stream and reading its
// topology take, in its JetStream domain, and their replies and deliveries
// ($JS.S for copied messages, $JSC.R for the server's own API replies,
// flow control, inboxes). No change subject, topology write, stream
// change or consumer deletion crosses.
func leafPerms(dcs []string) Permissions {
	var p []string
	for _, d := range dcs {
		chg, _ := ChangeStream(d)
		p = append(p,
			domainAPI(d, "STREAM.INFO", chg),
			domainAPI(d, "CONSUMER.CREATE", chg),
			domainAPI(d, "CONSUMER.CREATE", chg+".>"),
		)
		p = append(p, remoteTopologyRead(d)...)
	}
	p = append(p, "$JS.S.>", "$JSC.R.>", flowControl, inboxes)
	return Permissions{Publish: p, Subscribe: slices.Clone(p)}
}
