package secure

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// DevFiles are the files GenerateDev writes.
type DevFiles struct {
	// CA is the throwaway authority's certificate (its key is not kept).
	CA string
	// NodeCert and NodeKey are for daemons: valid as server and as client
	// (mutual TLS between stores, to NATS, across leafnodes).
	NodeCert, NodeKey string
	// ClientCert and ClientKey are for users and services: client only.
	ClientCert, ClientKey string
}

// Node returns the TLS settings of a daemon using the files, with client
// certificates required.
func (d DevFiles) Node() TLSFiles {
	return TLSFiles{CertFile: d.NodeCert, KeyFile: d.NodeKey, CAFile: d.CA, ClientAuth: true}
}

// Client returns the TLS settings of a client using the files.
func (d DevFiles) Client() TLSFiles {
	return TLSFiles{CertFile: d.ClientCert, KeyFile: d.ClientKey, CAFile: d.CA}
}

// devValidity is how long generated certificates are valid.
const devValidity = 365 * 24 * time.Hour

// GenerateDev creates a throwaway certificate authority in dir and signs a
// node certificate for hosts (plus localhost, 127.0.0.1 and ::1) and a
// client certificate with it. Files that exist are overwritten; keys are
// written with mode 0600. Every call makes a new, unrelated authority.
// For development and tests only: the authority's key is discarded, so
// nothing more can be signed with it.
func GenerateDev(dir string, hosts ...string) (DevFiles, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return DevFiles{}, fmt.Errorf("%w: %w", ErrTLSConfig, err)
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return DevFiles{}, err
	}
	now := time.Now().Add(-time.Hour) // tolerate clocks a little behind
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "vasto dev CA", Organization: []string{"vasto"}},
		NotBefore:             now,
		NotAfter:              now.Add(devValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return DevFiles{}, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return DevFiles{}, err
	}
	d := DevFiles{
		CA:         filepath.Join(dir, "ca.pem"),
		NodeCert:   filepath.Join(dir, "node.pem"),
		NodeKey:    filepath.Join(dir, "node-key.pem"),
		ClientCert: filepath.Join(dir, "client.pem"),
		ClientKey:  filepath.Join(dir, "client-key.pem"),
	}
	if err := writePEM(d.CA, "CERTIFICATE", caDER, 0o644); err != nil {
		return DevFiles{}, err
	}
	node := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "vasto node", Organization: []string{"vasto"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			node.IPAddresses = append(node.IPAddresses, ip)
		} else if h != "" {
			node.DNSNames = append(node.DNSNames, h)
		}
	}
	if err := sign(node, ca, caKey, now, d.NodeCert, d.NodeKey); err != nil {
		return DevFiles{}, err
	}
	client := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "vasto client", Organization: []string{"vasto"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if err := sign(client, ca, caKey, now, d.ClientCert, d.ClientKey); err != nil {
		return DevFiles{}, err
	}
	return d, nil
}

func sign(tmpl, ca *x509.Certificate, caKey *ecdsa.PrivateKey, now time.Time, certPath, keyPath string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl.SerialNumber = serial()
	tmpl.NotBefore, tmpl.NotAfter = now, now.Add(devValidity)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := writePEM(keyPath, "PRIVATE KEY", keyDER, 0o600); err != nil {
		return err
	}
	return writePEM(certPath, "CERTIFICATE", der, 0o644)
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

// writePEM replaces path atomically, so a process reloading the file never
// reads half of it.
func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode); err != nil {
		return fmt.Errorf("%w: %w", ErrTLSConfig, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("%w: %w", ErrTLSConfig, err)
	}
	return nil
}
