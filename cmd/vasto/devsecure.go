package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/internal/acl"
	"github.com/vasto-kv/vasto/internal/devcluster"
	"github.com/vasto-kv/vasto/internal/secure"
)

// devUsers are the RESP users `vasto dev --secure` creates, with their
// grants: one application user, one read-only user, the gateway's user at
// the stores and the stores' own user for store-to-store commands.
var devUsers = []struct{ name, grants string }{
	{"app", "ks:* +read +write"},
	{"reader", "ks:* +read"},
	{"gateway", "ks:* +read +write"},
	{"peer", "ks:* +internal"},
}

// devSecurity is what `vasto dev --secure` generates in DIR/secure: a
// throwaway CA and certificates (new at every start), one password file
// per RESP user (kept across starts) and the ACL file of their hashes.
// Each DC's NATS users are written by the cluster in DIR[/dcN]/creds.
type devSecurity struct {
	dir   string
	tls   secure.DevFiles
	users *acl.ACL
	// passwords are the users' passwords, by name.
	passwords map[string]secure.Secret
}

// setupDevSecurity writes dir/secure and returns what it holds.
func setupDevSecurity(dir string) (devSecurity, error) {
	d := devSecurity{dir: filepath.Join(dir, "secure"), passwords: map[string]secure.Secret{}}
	var err error
	if d.tls, err = secure.GenerateDev(filepath.Join(d.dir, "tls")); err != nil {
		return devSecurity{}, err
	}
	var lines strings.Builder
	lines.WriteString("# RESP users of vasto dev --secure; passwords in <name>.password\n")
	for _, u := range devUsers {
		pw, err := devPassword(d.passwordFile(u.name))
		if err != nil {
			return devSecurity{}, err
		}
		d.passwords[u.name] = pw
		h, err := acl.HashPassword(pw.Reveal())
		if err != nil {
			return devSecurity{}, err
		}
		fmt.Fprintf(&lines, "user %s on %s %s\n", u.name, h, u.grants)
	}
	aclFile := filepath.Join(d.dir, "users.acl")
	if err := os.WriteFile(aclFile, []byte(lines.String()), 0o600); err != nil {
		return devSecurity{}, err
	}
	if d.users, err = acl.Load(aclFile); err != nil {
		return devSecurity{}, err
	}
	return d, nil
}

// passwordFile is the file of user's password.
func (d devSecurity) passwordFile(user string) string {
	return filepath.Join(d.dir, user+".password")
}

// devPassword returns the password in path, creating the file with a new
// random password if it does not exist.
func devPassword(path string) (secure.Secret, error) {
	pw, err := secure.ReadSecret(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return pw, err
	}
	b := make([]byte, 18)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		return secure.Secret{}, err
	}
	pw = secure.NewSecret(base64.RawURLEncoding.EncodeToString(b))
	return pw, secure.WriteSecret(path, pw)
}

// apply secures cfg: mutual TLS everywhere, NATS users, the ACL on the
// stores and the gateway.
func (d devSecurity) apply(cfg *devcluster.Config) {
	cfg.TLS = d.tls.Node()
	cfg.TLS.ClientAuth = true
	cfg.NATSAuth = true
	cfg.StoreACL, cfg.GatewayACL = d.users, d.users
	cfg.PeerUser, cfg.PeerPassword = "peer", d.passwords["peer"].Reveal()
	cfg.GatewayUser, cfg.GatewayPassword = "gateway", d.passwords["gateway"].Reveal()
}

// printUsage prints how to use the secured cluster c from a shell.
func (d devSecurity) printUsage(w io.Writer, c *devcluster.Cluster) {
	client := d.tls.Client()
	fmt.Fprintf(w, "  export VASTO_NATS=%s VASTO_DC=%s\n", c.NATSURL(), c.DC())
	fmt.Fprintf(w, "  export VASTO_TLS_CA=%s VASTO_TLS_CERT=%s VASTO_TLS_KEY=%s\n", client.CAFile, client.CertFile, client.KeyFile)
	fmt.Fprintf(w, "  export VASTO_NATS_CREDS=%s   # NATS admin role; %s reads only\n",
		c.Creds(bus.RoleAdmin, ""), c.Creds(bus.RoleClient, ""))
	fmt.Fprintf(w, "  export VASTO_USER=app VASTO_PASSWORD_FILE=%s   # RESP users: app, reader (read only)\n", d.passwordFile("app"))
}
