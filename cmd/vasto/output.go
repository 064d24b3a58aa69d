package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
)

// jsonFlag adds --json to a status or admin command: its result as one JSON
// document on stdout instead of tables, for scripts.
func jsonFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("json", false, "print the result as JSON instead of tables")
}

// printJSON writes v as indented JSON followed by a newline.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// subHelp is one sub-command of a command group (vasto keyspace create, ...).
type subHelp struct{ name, summary string }

// groups lists the sub-commands of every command that has them, for
// `vasto GROUP -h` and for the error naming an unknown one.
var groups = map[string][]subHelp{
	"keyspace": {
		{"create", "create NAME --shards N --replicas R [--dcs dc1,dc2 --shards 8,dc2=4 --dc-nats dc2=URL]"},
		{"delete", "delete NAME [--epoch N]"},
		{"list", "list the keyspaces [--json]"},
		{"describe", "describe NAME: placement, health and operations [--json]"},
		{"resize", "resize NAME --shards N [--wait] [--dry-run] [--cancel]"},
		{"rebalance", "rebalance NAME [--wait] [--dry-run]"},
		{"recover", "recover [NAME...] [--dry-run]: bring back keyspaces the stores hold but the topology lost"},
	},
	"store": {
		{"list", "list the DC's stores, their health and read-only shards [--json]"},
		{"replace", "replace ID [--with ID]: move a store's shard replicas to others"},
		{"drain", "drain ID: move every shard replica off a store"},
		{"(none)", "run a store: vasto store --dir D --listen ADDR [--nats URL] (vasto store -h for its flags)"},
	},
	"op": {
		{"status", "status ID: an online operation's state and progress [--json]"},
		{"wait", "wait ID: wait for an operation, showing its progress"},
	},
	"auth": {
		{"init", "write one NATS nkey per role (master, admin, client, leaf, each store) and the nats-server authorization config: auth init DIR --dc DC --stores s1,s2"},
	},
	"dc": {
		{"add", "add DC: replicate with another (linked) DC from now on, no restart [--json]"},
		{"remove", "remove DC: stop replicating with a DC; tombstone purging stops waiting for it [--json]"},
		{"list", "list the DC's remote DCs and the stores applying each [--json]"},
		{"status", "status [--remote-dcs dc2,...]: link, lag and last applied per remote DC [--json]"},
	},
}

// isHelp reports whether a is a request for help.
func isHelp(a string) bool { return a == "-h" || a == "--help" || a == "-help" || a == "help" }

// groupHelp prints the sub-commands of a group.
func groupHelp(w io.Writer, group string) {
	fmt.Fprintf(w, "usage: vasto %s COMMAND [args] [flags]\n\ncommands:\n", group)
	for _, s := range groups[group] {
		fmt.Fprintf(w, "  %-10s %s\n", s.name, s.summary)
	}
	fmt.Fprintf(w, "\nrun 'vasto %s COMMAND -h' for the flags of a command; flags may come before or after arguments\n", group)
}

// groupArgs handles help and a missing sub-command of a group: done is true
// when the caller has nothing more to do (help was printed: err nil; no
// sub-command given: a usage error).
func groupArgs(e *env, group string, args []string) (done bool, err error) {
	if len(args) == 0 {
		groupHelp(e.stderr, group)
		return true, fmt.Errorf("%w: vasto %s needs a command", errUsage, group)
	}
	if isHelp(args[0]) {
		groupHelp(e.stdout, group)
		return true, nil
	}
	return false, nil
}

// unknownSub is the error for a sub-command a group does not have.
func unknownSub(group, name string) error {
	names := make([]string, 0, len(groups[group]))
	for _, s := range groups[group] {
		if s.name != "(none)" {
			names = append(names, s.name)
		}
	}
	return fmt.Errorf("%w: unknown %s command %q (one of: %s; see 'vasto %s -h')",
		errUsage, group, name, strings.Join(names, ", "), group)
}

// parseInterleaved parses args into fs with flags allowed before, between
// and after the positional arguments, which it returns in order. Everything
// after "--" is positional.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}
