package master

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/vasto-kv/vasto/topology"
)

// The DC's list of remote DCs (Topology.RemoteDCs). Until an operator adds
// or removes a DC, each store applies the remote DCs of its own
// configuration and reports them in its heartbeats. The first change seeds
// the list from those reports, so it must have heard every healthy store
// since it started; from then on the list is the topology's, and the
// stores follow it live.

// remoteCheckTimeout bounds reading a DC's topology across the link before
// adding it.
const remoteCheckTimeout = 5 * time.Second

// reportedRemoteDCs keeps the valid remote DC names of a heartbeat, other
// than local, sorted, each once.
func reportedRemoteDCs(local string, in []string) []string {
	var out []string
	for _, d := range in {
		if topology.ValidName(d) && d != local && len(out) < topology.MaxRemoteDCs {
			out = append(out, d)
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// seedRemoteDCs returns the DC's list of remote DCs: the topology's once
// managed, else the union of what the stores report, which needs a report
// since the master started from every healthy store (ErrBusy otherwise).
func (s *State) seedRemoteDCs() ([]string, error) {
	if s.topo.RemoteDCsManaged {
		return slices.Clone(s.topo.RemoteDCs), nil
	}
	var waiting []string
	var all []string
	for _, id := range s.topo.StoreIDs() {
		r, ok := s.reports[id]
		switch {
		case ok:
			all = append(all, r.remoteDCs...)
		case s.topo.Stores[id].Healthy:
			waiting = append(waiting, id)
		}
	}
	if len(waiting) > 0 {
		return nil, fmt.Errorf("%w: the remote DCs are not managed yet; waiting for a heartbeat of %s to learn theirs, try again",
			ErrBusy, strings.Join(waiting, ", "))
	}
	return reportedRemoteDCs(s.topo.DC, all), nil
}

// AddDC adds remote DC name to the DC's list (seeding it first, see
// seedRemoteDCs). The local DC, a bad name or a DC already listed is
// refused and changes nothing.
func (s *State) AddDC(name string) error {
	if err := s.checkDCName(name); err != nil {
		return err
	}
	dcs, err := s.seedRemoteDCs()
	if err != nil {
		return err
	}
	if slices.Contains(dcs, name) {
		return fmt.Errorf("%w: %s", ErrDCExists, name)
	}
	if len(dcs) >= topology.MaxRemoteDCs {
		return fmt.Errorf("%w: at most %d remote DCs", ErrInvalidRequest, topology.MaxRemoteDCs)
	}
	dcs = append(dcs, name)
	sort.Strings(dcs)
	s.setRemoteDCs(dcs)
	return nil
}

// RemoveDC removes remote DC name from the DC's list (seeding it first). A
// DC not listed is refused with ErrNotFound and changes nothing.
func (s *State) RemoveDC(name string) error {
	if err := s.checkDCName(name); err != nil {
		return err
	}
	dcs, err := s.seedRemoteDCs()
	if err != nil {
		return err
	}
	i := slices.Index(dcs, name)
	if i < 0 {
		return fmt.Errorf("%w: remote DC %s is not listed (vasto dc list)", ErrNotFound, name)
	}
	s.setRemoteDCs(slices.Delete(dcs, i, i+1))
	return nil
}

func (s *State) checkDCName(name string) error {
	if err := topology.CheckName("dc", name); err != nil {
		return err
	}
	if name == s.topo.DC {
		return fmt.Errorf("%w: %s is this DC, not a remote one", ErrInvalidRequest, name)
	}
	return nil
}

func (s *State) setRemoteDCs(dcs []string) {
	s.bump()
	s.topo.RemoteDCs = dcs
	if len(dcs) == 0 {
		s.topo.RemoteDCs = nil
	}
	s.topo.RemoteDCsManaged = true
}

// ListDCs describes the DC's list of remote DCs and what the stores report.
func (s *State) ListDCs() topology.DCListReply {
	reply := topology.DCListReply{DC: s.topo.DC, Managed: s.topo.RemoteDCsManaged, Version: s.topo.Version,
		Reported: map[string][]string{}}
	var all []string
	for id, r := range s.reports {
		reply.Reported[id] = slices.Clone(r.remoteDCs)
		all = append(all, r.remoteDCs...)
	}
	if reply.Managed {
		reply.RemoteDCs = slices.Clone(s.topo.RemoteDCs)
	} else {
		reply.RemoteDCs = reportedRemoteDCs(s.topo.DC, all)
	}
	if reply.RemoteDCs == nil {
		reply.RemoteDCs = []string{}
	}
	return reply
}

// changeDCs adds or removes a remote DC and returns the list once
// published. A DC to add must be reachable: its topology is read across the
// NATS link (its JetStream domain) first, so a typo or a DC not linked yet
// is refused.
func (m *Master) changeDCs(ctx context.Context, add bool, name string) (topology.DCListReply, error) {
	m.mu.Lock()
	err := m.st.checkDCName(name)
	listed := false
	if err == nil && add {
		if dcs, serr := m.st.seedRemoteDCs(); serr == nil {
			listed = slices.Contains(dcs, name)
		}
	}
	m.mu.Unlock()
	switch {
	case err != nil:
		return topology.DCListReply{}, err
	case listed:
		return topology.DCListReply{}, fmt.Errorf("%w: %s", ErrDCExists, name)
	}
	if add {
		cctx, cancel := context.WithTimeout(ctx, remoteCheckTimeout)
		_, _, err := m.cfg.Bus.GetRemoteTopology(cctx, name)
		cancel()
		if err != nil {
			return topology.DCListReply{}, fmt.Errorf("%w: remote DC %s: cannot read its topology across the NATS link "+
				"(is it linked, vasto nats --leaf-remote, and is its master running?): %w", ErrNotFound, name, err)
		}
	}
	verb := "removed"
	pub, err := m.publish(ctx, func(s *State) error {
		if add {
			return s.AddDC(name)
		}
		return s.RemoveDC(name)
	})
	if err != nil {
		return topology.DCListReply{}, err
	}
	if add {
		verb = "added"
	}
	m.log.Info("remote DC "+verb, "remote_dc", name, "remote_dcs", strings.Join(pub.RemoteDCs, ","), "version", pub.Version)
	m.mu.Lock()
	defer m.mu.Unlock()
	reply := m.st.ListDCs()
	reply.RemoteDCs, reply.Managed, reply.Version = slices.Clone(pub.RemoteDCs), pub.RemoteDCsManaged, pub.Version
	if reply.RemoteDCs == nil {
		reply.RemoteDCs = []string{}
	}
	return reply, nil
}
