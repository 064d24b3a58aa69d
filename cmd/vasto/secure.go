package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/hashicorp/go-hclog"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/internal/secure"
)

// securityFlags are the TLS and credential flags every daemon and client
// command shares. Secrets are never flag values (they would show in ps):
// flags and environment variables name files, or, for a client command's
// password only, VASTO_PASSWORD holds it.
type securityFlags struct {
	tlsCert, tlsKey, tlsCA *string
	tlsClientAuth          *bool
	// natsCreds names the NATS credentials file of this process's role.
	natsCreds *string
	// user and passwordFile are the RESP credentials this process presents
	// (AUTH user password) to stores and gateways.
	user, passwordFile *string
}

func addSecurity(fs *flag.FlagSet) securityFlags {
	return securityFlags{
		tlsCert:       fs.String("tls-cert", envOr("VASTO_TLS_CERT", ""), "PEM certificate this process presents; with --tls-key, serve and dial TLS only (env VASTO_TLS_CERT)"),
		tlsKey:        fs.String("tls-key", envOr("VASTO_TLS_KEY", ""), "PEM private key of --tls-cert (env VASTO_TLS_KEY)"),
		tlsCA:         fs.String("tls-ca", envOr("VASTO_TLS_CA", ""), "PEM certificates of the authorities to trust (default: the system's) (env VASTO_TLS_CA)"),
		tlsClientAuth: fs.Bool("tls-client-auth", envOr("VASTO_TLS_CLIENT_AUTH", "") == "true", "require client certificates signed by --tls-ca (mutual TLS) (env VASTO_TLS_CLIENT_AUTH=true)"),
		natsCreds:     fs.String("nats-creds", envOr("VASTO_NATS_CREDS", ""), "NATS credentials file of this process's role (env VASTO_NATS_CREDS)"),
		user:          fs.String("user", envOr("VASTO_USER", ""), "user to AUTH as at stores and gateways (env VASTO_USER)"),
		passwordFile:  fs.String("password-file", envOr("VASTO_PASSWORD_FILE", ""), "file holding --user's password (env VASTO_PASSWORD_FILE; a client command also reads VASTO_PASSWORD)"),
	}
}

// tls returns the TLS settings, validated.
func (s securityFlags) tls() (secure.TLSFiles, error) {
	f := secure.TLSFiles{CertFile: *s.tlsCert, KeyFile: *s.tlsKey, CAFile: *s.tlsCA, ClientAuth: *s.tlsClientAuth}
	if err := f.Validate(); err != nil {
		return secure.TLSFiles{}, fmt.Errorf("%w: %w", errUsage, err)
	}
	return f, nil
}

// password returns the password of --user: read from --password-file, or
// for a client command (fromEnv) from VASTO_PASSWORD. A daemon reads files
// only. No user means no password.
func (s securityFlags) password(fromEnv bool) (secure.Secret, error) {
	if *s.user == "" {
		if *s.passwordFile != "" {
			return secure.Secret{}, fmt.Errorf("%w: --password-file without --user", errUsage)
		}
		return secure.Secret{}, nil
	}
	if *s.passwordFile != "" {
		return secure.ReadSecret(*s.passwordFile)
	}
	if v := os.Getenv("VASTO_PASSWORD"); fromEnv && v != "" {
		return secure.NewSecret(v), nil
	}
	return secure.Secret{}, fmt.Errorf("%w: --user %s needs its password: --password-file FILE (or VASTO_PASSWORD for a client command)", errUsage, *s.user)
}

// clientTLS returns the TLS configuration of the process's dials to stores
// and gateways: nil without TLS flags, and a usage error when a file named
// cannot be used.
func (s securityFlags) clientTLS() (*tls.Config, error) {
	f, err := s.tls()
	if err != nil || !f.Enabled() {
		return nil, err
	}
	cfg, err := f.Client()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	return cfg, nil
}

// serverTLS returns the TLS configuration of the process's RESP listener:
// nil without TLS flags, and a usage error when the flags name no
// certificate or a file cannot be used.
func (s securityFlags) serverTLS() (*tls.Config, error) {
	f, err := s.tls()
	if err != nil || !f.Enabled() {
		return nil, err
	}
	cfg, err := f.Server()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	return cfg, nil
}

// store returns a store's TLS settings, checked by loading them as its
// listener and its dials to other stores will, and the password of the
// --user it authenticates as to other stores.
func (s securityFlags) store() (secure.TLSFiles, secure.Secret, error) {
	f, err := s.tls()
	if err != nil {
		return secure.TLSFiles{}, secure.Secret{}, err
	}
	if _, err := s.serverTLS(); err != nil {
		return secure.TLSFiles{}, secure.Secret{}, err
	}
	if _, err := s.clientTLS(); err != nil {
		return secure.TLSFiles{}, secure.Secret{}, err
	}
	pw, err := s.password(false)
	if err != nil && !errors.Is(err, errUsage) {
		err = fmt.Errorf("%w: %w", errUsage, err)
	}
	if err != nil {
		return secure.TLSFiles{}, secure.Secret{}, err
	}
	return f, pw, nil
}

// natsClient returns what a NATS connection of this process presents: the
// credentials file (--nats-creds) and, with TLS flags, the TLS dial
// configuration (nil without).
func (s securityFlags) natsClient() (creds string, cfg *tls.Config, err error) {
	if cfg, err = s.clientTLS(); err != nil {
		return "", nil, err
	}
	return *s.natsCreds, cfg, nil
}

// connConfig is the bus connection of a command to the DC's NATS, with the
// process's credentials and TLS.
func (c commonFlags) connConfig(name string, log hclog.Logger) (bus.ConnConfig, error) {
	creds, tlsCfg, err := c.sec.natsClient()
	if err != nil {
		return bus.ConnConfig{}, err
	}
	return bus.ConnConfig{URL: *c.nats, Name: name, Logger: log, CredsFile: creds, TLS: tlsCfg}, nil
}
