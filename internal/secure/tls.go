package secure

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"sync"
	"time"
)

// TLSFiles names the PEM files of one process's TLS settings. The same
// files serve every listener and every dial of the process: the RESP
// ports, store-to-store connections and NATS.
type TLSFiles struct {
	// CertFile and KeyFile are this process's certificate (chain) and
	// private key: what it presents as a server, and as a client when the
	// server asks for a client certificate (mutual TLS).
	CertFile, KeyFile string
	// CAFile holds the certificates of the authorities this process trusts:
	// to verify servers it dials (default: the system's roots) and, with
	// ClientAuth, the clients that connect to it.
	CAFile string
	// ClientAuth makes listeners require a client certificate signed by
	// CAFile (mutual TLS).
	ClientAuth bool
}

// Enabled reports whether any TLS setting is given: a process with TLS
// settings serves and dials TLS only.
func (f TLSFiles) Enabled() bool {
	return f.CertFile != "" || f.KeyFile != "" || f.CAFile != ""
}

// Validate reports settings that cannot work.
func (f TLSFiles) Validate() error {
	switch {
	case (f.CertFile == "") != (f.KeyFile == ""):
		return fmt.Errorf("%w: a certificate and its key go together (--tls-cert and --tls-key)", ErrTLSConfig)
	case f.ClientAuth && f.CAFile == "":
		return fmt.Errorf("%w: client authentication needs the CA that signs client certificates (--tls-ca)", ErrTLSConfig)
	}
	return nil
}

// MinVersion is the oldest TLS version Vasto speaks or accepts.
const MinVersion = tls.VersionTLS12

// Server returns the configuration of a TLS listener. It needs a
// certificate and key. The key pair is read again when either file
// changes (checked at most once a second), so a rotated certificate is
// served to new connections without a restart.
func (f TLSFiles) Server() (*tls.Config, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	if f.CertFile == "" {
		return nil, fmt.Errorf("%w: a TLS listener needs a certificate and key (--tls-cert, --tls-key)", ErrTLSConfig)
	}
	kp, err := newKeyPair(f.CertFile, f.KeyFile)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		MinVersion: MinVersion,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return kp.get()
		},
	}
	if f.CAFile != "" {
		pool, err := loadPool(f.CAFile)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
		if f.ClientAuth {
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	return cfg, nil
}

// Client returns the configuration of a TLS dial. The server's certificate
// is verified against CAFile (the system's roots without it) and its host
// name; a certificate and key, when given, are presented to servers that
// ask for one.
func (f TLSFiles) Client() (*tls.Config, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: MinVersion}
	if f.CAFile != "" {
		pool, err := loadPool(f.CAFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if f.CertFile != "" {
		kp, err := newKeyPair(f.CertFile, f.KeyFile)
		if err != nil {
			return nil, err
		}
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return kp.get()
		}
	}
	return cfg, nil
}

func loadPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: CA file: %w", ErrTLSConfig, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%w: CA file %s holds no PEM certificate", ErrTLSConfig, path)
	}
	return pool, nil
}

// keyPairCheckEvery bounds how often the key pair files are checked for
// changes.
const keyPairCheckEvery = time.Second

// keyPair is a certificate and key read from files, read again when a
// file's size or modification time changes. A new pair that fails to load
// keeps the last good one (a half-written rotation must not break TLS).
type keyPair struct {
	certFile, keyFile string

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   string
	checked time.Time
}

func newKeyPair(certFile, keyFile string) (*keyPair, error) {
	kp := &keyPair{certFile: certFile, keyFile: keyFile}
	stamp, err := kp.fileStamp()
	if err != nil {
		return nil, err
	}
	if err := kp.load(stamp); err != nil {
		return nil, err
	}
	return kp, nil
}

func (kp *keyPair) fileStamp() (string, error) {
	var stamp string
	for _, p := range []string{kp.certFile, kp.keyFile} {
		fi, err := os.Stat(p)
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrTLSConfig, err)
		}
		stamp += fmt.Sprintf("%d/%d;", fi.Size(), fi.ModTime().UnixNano())
	}
	return stamp, nil
}

func (kp *keyPair) load(stamp string) error {
	cert, err := tls.LoadX509KeyPair(kp.certFile, kp.keyFile)
	if err != nil {
		// The error names no key material; the file names are enough.
		return fmt.Errorf("%w: certificate %s with key %s: %w", ErrTLSConfig, kp.certFile, kp.keyFile, err)
	}
	kp.cert, kp.stamp, kp.checked = &cert, stamp, time.Now()
	return nil
}

func (kp *keyPair) get() (*tls.Certificate, error) {
	kp.mu.Lock()
	defer kp.mu.Unlock()
	if time.Since(kp.checked) < keyPairCheckEvery {
		return kp.cert, nil
	}
	kp.checked = time.Now()
	if stamp, err := kp.fileStamp(); err == nil && stamp != kp.stamp {
		_ = kp.load(stamp) // keep the last good pair on failure
	}
	return kp.cert, nil
}

// ForAddr returns cfg for dialling addr (host:port): a copy whose
// ServerName, when cfg names none, is addr's host, so the server's
// certificate is verified for the host dialled. nil stays nil (plaintext).
func ForAddr(cfg *tls.Config, addr string) *tls.Config {
	if cfg == nil {
		return nil
	}
	c := cfg.Clone()
	if c.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		c.ServerName = host
	}
	return c
}
