package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strings"
)

// parseFlags parses args into fs after applying an optional config file
// named by --config: one `name = value` per line (flag names without
// dashes), '#' comments. Flags on the command line win over the file.
func parseFlags(fs *flag.FlagSet, args []string) error {
	path := ""
	for i, a := range args {
		switch {
		case a == "--config" || a == "-config":
			if i+1 < len(args) {
				path = args[i+1]
			}
		case strings.HasPrefix(a, "--config="), strings.HasPrefix(a, "-config="):
			path = a[strings.Index(a, "=")+1:]
		}
	}
	fs.String("config", "", "optional config file: one `name = value` per line, flag names without dashes")
	if path != "" {
		if err := applyConfigFile(fs, path); err != nil {
			return err
		}
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("%w: unexpected arguments %v", errUsage, fs.Args())
	}
	return nil
}

func applyConfigFile(fs *flag.FlagSet, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%w: config file: %w", errUsage, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		name, value = strings.TrimSpace(name), strings.Trim(strings.TrimSpace(value), `"`)
		if !ok || name == "" || name == "config" {
			return fmt.Errorf("%w: %s:%d: want `name = value`", errUsage, path, n)
		}
		if fs.Lookup(name) == nil {
			return fmt.Errorf("%w: %s:%d: unknown setting %q", errUsage, path, n, name)
		}
		if err := fs.Set(name, value); err != nil {
			return fmt.Errorf("%w: %s:%d: %w", errUsage, path, n, err)
		}
	}
	return sc.Err()
}

// commonFlags are the --nats and --dc flags of every cluster command, and
// its TLS and credential flags.
type commonFlags struct {
	nats *string
	dc   *string
	sec  securityFlags
}

func addCommon(fs *flag.FlagSet) commonFlags {
	return commonFlags{
		nats: fs.String("nats", envOr("VASTO_NATS", "nats://127.0.0.1:4222"), "NATS URL of the DC, or comma-separated URLs of its NATS cluster's servers (env VASTO_NATS)"),
		dc:   fs.String("dc", envOr("VASTO_DC", "dc1"), "datacenter name (env VASTO_DC)"),
		sec:  addSecurity(fs),
	}
}
