package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/vasto-kv/vasto/bus"
)

// runAuth: vasto auth init — NATS credentials for a DC.
func runAuth(ctx context.Context, e *env, args []string) error {
	if done, err := groupArgs(e, "auth", args); done {
		return err
	}
	if args[0] != "init" {
		return unknownSub("auth", args[0])
	}
	return runAuthInit(ctx, e, args[1:])
}

// runAuthInit writes a DC's NATS users: one nkey seed file per role and
// the authorization config that admits them with least permissions.
func runAuthInit(_ context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("auth init", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	dc := fs.String("dc", envOr("VASTO_DC", "dc1"), "datacenter name (env VASTO_DC)")
	stores := fs.String("stores", "", "comma-separated ids of the DC's stores (their --id): one store user each")
	remotes := fs.String("remote-dcs", envOr("VASTO_REMOTE_DCS", ""), "comma-separated other DCs this one replicates with (env VASTO_REMOTE_DCS)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: vasto auth init DIR --dc DC --stores s1,s2 [--remote-dcs dc2,...]", errUsage)
	}
	dir := pos[0]
	ids := bus.DCIdentities(*dc, splitList(*stores), splitList(*remotes))
	files, err := bus.WriteCredentials(dir, ids)
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	fmt.Fprintf(e.stdout, "NATS users of %s in %s (seed files are secrets, mode 0600):\n", *dc, dir)
	for i, id := range ids {
		state := "new key"
		if files.Kept[i] {
			state = "kept"
		}
		fmt.Fprintf(e.stdout, "  %-28s %-7s %s\n", files.Seeds[i], id.Role, state)
	}
	fmt.Fprintf(e.stdout, "  %-28s authorization config (public keys and permissions only)\n", files.AuthConfig)
	fmt.Fprintf(e.stdout, "\nuse:\n")
	fmt.Fprintf(e.stdout, "  vasto nats --dc %s --auth-config %s [--tls-cert ... --tls-key ... --tls-ca ...]\n", *dc, files.AuthConfig)
	fmt.Fprintf(e.stdout, "  (or 'include %s' inside a nats-server config)\n", filepath.Base(files.AuthConfig))
	seed := func(id bus.Identity) string { return filepath.Join(dir, bus.SeedFileName(id)) }
	fmt.Fprintf(e.stdout, "  vasto master --nats-creds %s\n", seed(bus.Identity{Role: bus.RoleMaster}))
	for _, id := range ids {
		if id.Role == bus.RoleStore {
			fmt.Fprintf(e.stdout, "  vasto store --id %s --nats-creds %s\n", id.Store, seed(id))
		}
	}
	fmt.Fprintf(e.stdout, "  vasto keyspace ... --nats-creds %s     (admin: keyspace and store operations, dc status)\n", seed(bus.Identity{Role: bus.RoleAdmin}))
	fmt.Fprintf(e.stdout, "  vasto get|put|gateway ... --nats-creds %s   (client: reads the topology only)\n", seed(bus.Identity{Role: bus.RoleClient}))
	fmt.Fprintf(e.stdout, "  another DC linking to this one: vasto nats --leaf-remote nats-leaf://... --leaf-creds %s\n", seed(bus.Identity{Role: bus.RoleLeaf}))
	fmt.Fprintf(e.stdout, "rotate a key: delete its seed file, run this again, restart the NATS server, then the process with the new seed\n")
	return nil
}

// splitList splits a comma-separated list, dropping empty entries.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
