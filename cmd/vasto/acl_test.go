package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/internal/acl"
	"github.com/vasto-kv/vasto/internal/devcluster"
	"github.com/vasto-kv/vasto/internal/storetest"
)

// aclLine runs `vasto acl hash --user NAME RULES...` with the password on
// stdin and returns the line it prints.
func aclLine(t *testing.T, password string, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(password + "\n"), stdout: &out, stderr: &errb}
	require.NoError(t, runACL(context.Background(), e, append([]string{"hash"}, args...)), errb.String())
	return strings.TrimSpace(out.String())
}

func TestACLHashAndCheck(t *testing.T) {
	h := aclLine(t, "s3cret")
	require.True(t, strings.HasPrefix(h, "$pbkdf2-sha256$"), h)
	require.NotContains(t, h, "s3cret")
	require.Equal(t, acl.SHA256Hash("s3cret"), aclLine(t, "s3cret", "--sha256"))
	line := aclLine(t, "s3cret", "--user", "alice", "ks:users*", "+read", "+write")
	require.True(t, strings.HasPrefix(line, "user alice on $pbkdf2-sha256$") && strings.HasSuffix(line, " ks:users* +read +write"), line)

	var errb bytes.Buffer
	e := &env{stdin: strings.NewReader("pw\n"), stdout: &bytes.Buffer{}, stderr: &errb}
	require.ErrorIs(t, runACL(context.Background(), e, []string{"hash", "--user", "a", "+read"}), errUsage, "a right before ks:")
	e.stdin = strings.NewReader("")
	require.ErrorIs(t, runACL(context.Background(), e, []string{"hash"}), errUsage, "no password")

	file := filepath.Join(t.TempDir(), "users.acl")
	require.NoError(t, os.WriteFile(file, []byte(line+"\n"), 0o600))
	code, out, errs := vasto(t, "acl", "check", file)
	require.Equal(t, 0, code, errs)
	require.Equal(t, "alice on ks:users*=read+write\n", out)
	require.NoError(t, os.WriteFile(file, []byte(strings.Replace(line, " on ", " off ", 1)+"\n"), 0o600))
	_, out, _ = vasto(t, "acl", "check", file)
	require.Equal(t, "alice off ks:users*=read+write\n", out)
	require.NoError(t, os.WriteFile(file, []byte(line+"\nuser bob on hunter2\n"), 0o600))
	code, _, errs = vasto(t, "acl", "check", file)
	require.Equal(t, 1, code)
	require.Contains(t, errs, file+":2:")
	require.NotContains(t, errs, "hunter2")
}

// TestStoreACLFileReloadedOnSIGHUP runs `vasto store --acl-file` and
// reloads the file as SIGHUP does: a user removed loses its open
// connection's access; a bad file keeps the ACL in force.
func TestStoreACLFileReloadedOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "users.acl")
	write := func(text string) { require.NoError(t, os.WriteFile(file, []byte(text), 0o600)) }
	alice := aclLine(t, "alice-pw", "--user", "alice", "ks:*", "+read", "+write")
	bob := aclLine(t, "bob-pw", "--user", "bob", "ks:*", "+read")
	write(alice + "\n" + bob + "\n")

	code, _, errs := vasto(t, "store", "--dir", t.TempDir(), "--acl-file", filepath.Join(dir, "missing"))
	require.Equal(t, 2, code)
	require.Contains(t, errs, "bad ACL file")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	hup := make(chan os.Signal, 1)
	hangups = hup
	t.Cleanup(func() { hangups = nil })
	ctx, stop := context.WithTimeout(context.Background(), 60*time.Second)
	defer stop()
	done := make(chan int, 1)
	var out bytes.Buffer
	errb := &storetest.Buffer{}
	errw := errb
	go func() {
		done <- run(ctx, []string{"store", "--dir", filepath.Join(dir, "data"), "--listen", addr, "--acl-file", file,
			"--block-cache-mb", "16", "--log-level", "error"}, &out, errw)
	}()
	rc := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, PoolSize: 1, MaxRetries: -1, Username: "bob", Password: "bob-pw"})
	defer rc.Close()
	require.Eventually(t, func() bool { return rc.Set(ctx, "k", "v", 0).Err() != nil && rc.Ping(ctx).Err() == nil },
		20*time.Second, 50*time.Millisecond, "bob may not write")
	require.ErrorContains(t, rc.Set(ctx, "k", "v", 0).Err(), "NOPERM")
	conn := rc.Conn()
	defer conn.Close()
	require.ErrorIs(t, conn.Get(ctx, "k").Err(), redis.Nil, "bob may read")

	write("user bob on hunter2-not-a-hash\n") // bad: the ACL in force stays
	hup <- os.Interrupt
	require.Eventually(t, func() bool { return strings.Contains(errb.String(), "ACL file not reloaded") }, 20*time.Second, 20*time.Millisecond)
	require.ErrorIs(t, conn.Get(ctx, "k").Err(), redis.Nil, "the ACL in force stays")
	write(alice + "\n") // bob removed
	require.Eventually(t, func() bool {
		select {
		case hup <- os.Interrupt:
		default:
		}
		return strings.HasPrefix(errString(conn.Get(ctx, "k").Err()), "NOAUTH")
	}, 20*time.Second, 50*time.Millisecond)
	stop()
	require.Equal(t, 0, <-done, errb.String())
	require.NotContains(t, errb.String()+out.String(), "hunter2")
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestClientCommandsPresentCredentials: vasto put and get take --user and
// VASTO_PASSWORD to a DC whose stores have an ACL.
func TestClientCommandsPresentCredentials(t *testing.T) {
	line := aclLine(t, "app-pw", "--user", "app", "ks:*", "+read", "+write")
	a, err := acl.Parse(strings.NewReader(line), "test")
	require.NoError(t, err)
	startCLIDC(t, 60*time.Second, func(cfg *devcluster.Config) {
		cfg.Stores, cfg.Logger, cfg.StoreACL = 1, hclog.NewNullLogger(), a
	})
	code, _, errs := vasto(t, "keyspace", "create", "web", "--shards", "1", "--replicas", "1")
	require.Equal(t, 0, code, errs)
	code, _, errs = vasto(t, "put", "web", "k", "v", "--timeout", "5s")
	require.NotEqual(t, 0, code)
	require.Contains(t, errs, "NOAUTH")
	t.Setenv("VASTO_PASSWORD", "app-pw")
	require.Eventually(t, func() bool {
		code, _, _ := vasto(t, "put", "web", "k", "v", "--user", "app")
		return code == 0
	}, 20*time.Second, 100*time.Millisecond)
	code, out, errs := vasto(t, "get", "web", "k", "--user", "app")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "v")
}

// TestReloadACLOnRealSIGHUP sends the process a real SIGHUP: a daemon with
// an ACL file subscribes to it and reloads; once its watcher stopped, the
// subscription is gone too.
func TestReloadACLOnRealSIGHUP(t *testing.T) {
	file := filepath.Join(t.TempDir(), "acl")
	require.NoError(t, os.WriteFile(file, []byte(aclLine(t, "pw", "--user", "u", "ks:*", "+read")+"\n"), 0o600))
	loaded := make(chan *acl.ACL, 4)
	stop := reloadACL(context.Background(), &env{}, hclog.NewNullLogger(), file, func(a *acl.ACL) { loaded <- a })
	require.Eventually(t, func() bool {
		require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
		select {
		case a := <-loaded:
			return a.Has("u")
		case <-time.After(100 * time.Millisecond):
			return false
		}
	}, 10*time.Second, 10*time.Millisecond)
	stop()
}
