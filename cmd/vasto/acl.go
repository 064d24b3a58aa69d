package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/hashicorp/go-hclog"

	"github.com/vasto-kv/vasto/client"
	"github.com/vasto-kv/vasto/internal/acl"
)

func init() {
	groups["acl"] = []subHelp{
		{"hash", "hash [--user NAME [RULES...]] [--sha256]: read a password from stdin, print its hash (or the user's ACL line)"},
		{"check", "check FILE: parse an ACL file and list its users and grants"},
	}
}

// runACL helps write ACL files: the password never goes on the command
// line.
func runACL(_ context.Context, e *env, args []string) error {
	if done, err := groupArgs(e, "acl", args); done {
		return err
	}
	switch args[0] {
	case "hash":
		return runACLHash(e, args[1:])
	case "check":
		return runACLCheck(e, args[1:])
	}
	return unknownSub("acl", args[0])
}

// runACLHash reads a password (the first line of stdin) and prints its
// hash, or with --user the whole "user NAME on HASH RULES..." line.
func runACLHash(e *env, args []string) error {
	fs := flag.NewFlagSet("acl hash", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	user := fs.String("user", "", "print a whole ACL line for this user, with the rules given as arguments (e.g. ks:users* +read +write)")
	plain := fs.Bool("sha256", false, "print Redis' unsalted #<sha256> form (only for long random passwords)")
	rules, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if *user == "" && len(rules) > 0 {
		return fmt.Errorf("%w: rules need --user", errUsage)
	}
	pw, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	pw = strings.TrimRight(pw, "\r\n")
	if pw == "" {
		return fmt.Errorf("%w: no password on stdin (echo -n or a file: vasto acl hash < pwfile)", errUsage)
	}
	h := acl.SHA256Hash(pw)
	if !*plain {
		if h, err = acl.HashPassword(pw); err != nil {
			return err
		}
	}
	if *user == "" {
		fmt.Fprintln(e.stdout, h)
		return nil
	}
	line := strings.TrimSpace(fmt.Sprintf("user %s on %s %s", *user, h, strings.Join(rules, " ")))
	if _, err := acl.Parse(strings.NewReader(line), "(the line)"); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	fmt.Fprintln(e.stdout, line)
	return nil
}

// runACLCheck parses an ACL file and lists its users.
func runACLCheck(e *env, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("%w: vasto acl check FILE", errUsage)
	}
	a, err := acl.Load(args[0])
	if err != nil {
		return err
	}
	for _, name := range a.Users() {
		u := a.Lookup(name)
		state := "off"
		if u.Enabled() {
			state = "on"
		}
		var grants []string
		for _, g := range u.Grants() {
			grants = append(grants, "ks:"+g.Pattern+"="+g.Rights.String())
		}
		fmt.Fprintf(e.stdout, "%s %s %s\n", name, state, strings.Join(grants, " "))
	}
	return nil
}

// loadACL reads --acl-file ("" : no ACL).
func loadACL(path string) (*acl.ACL, error) {
	if path == "" {
		return nil, nil
	}
	a, err := acl.Load(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	return a, nil
}

// reloadACL reads the ACL file again on every SIGHUP and hands it to set,
// until ctx ends; a file that does not parse keeps the ACL in force and is
// logged. Only a daemon with an ACL file catches SIGHUP: for every other
// command it keeps its default, ending the process. The returned stop
// waits for the watcher to end.
func reloadACL(ctx context.Context, e *env, log hclog.Logger, path string, set func(*acl.ACL)) (stop func()) {
	if path == "" {
		return func() {}
	}
	hup, unsubscribe := e.hup, func() {}
	if hup == nil {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGHUP)
		hup, unsubscribe = ch, func() { signal.Stop(ch) }
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
			}
			a, err := acl.Load(path)
			if err != nil {
				log.Error("ACL file not reloaded; the ACL in force stays", "file", path, "error", err)
				continue
			}
			set(a)
			log.Info("ACL file reloaded", "file", path, "users", len(a.Users()))
		}
	}()
	return func() {
		cancel()
		wg.Wait()
		unsubscribe()
	}
}

// withCredentials puts --user and its password (--password-file or
// VASTO_PASSWORD) into a client command's client configuration.
func withCredentials(cfg *client.Config, s securityFlags) error {
	pw, err := s.password(true)
	if err != nil {
		return err
	}
	cfg.Username, cfg.Password = *s.user, pw.Reveal()
	return nil
}

// stdin is what `vasto acl hash` reads the password from.
var stdin io.Reader = os.Stdin
