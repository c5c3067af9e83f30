package secretgen

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

// RSABits is the size of an rsa keypair.
const RSABits = 3072

// PEM block types of what this package writes.
const (
	pemPrivateKey  = "PRIVATE KEY"
	pemPublicKey   = "PUBLIC KEY"
	pemCertificate = "CERTIFICATE"
)

// Keypair returns a new keypair of type typ (rsa, ecdsa or ed25519): the
// private key as PKCS#8 PEM and the public key as PKIX PEM.
//
// ecdsa and ed25519 keys are drawn from rand, so a deterministic reader
// gives a deterministic key. An rsa key is not: since Go 1.26,
// crypto/rsa.GenerateKey ignores its reader and always uses the standard
// library's secure source (crypto/rand), and this package does not carry
// its own prime generation to get around that. rand is still passed to it.
//
// Errors never include key material.
func Keypair(rand io.Reader, typ staxv1alpha1.SecretType) (private, public []byte, err error) {
	var key crypto.Signer
	switch typ {
	case staxv1alpha1.SecretTypeRSA:
		key, err = rsa.GenerateKey(rand, RSABits)
	case staxv1alpha1.SecretTypeECDSA:
		key, err = ecdsaKey(rand)
	case staxv1alpha1.SecretTypeEd25519:
		seed := make([]byte, ed25519.SeedSize)
		if _, err = io.ReadFull(rand, seed); err == nil {
			key = ed25519.NewKeyFromSeed(seed)
		}
	default:
		return nil, nil, fmt.Errorf("type %q is not a keypair type", typ)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("generating a %s key: %w", typ, err)
	}
	private, err = encodePrivate(key)
	if err != nil {
		return nil, nil, err
	}
	public, err = encodePublic(key.Public())
	if err != nil {
		return nil, nil, err
	}
	return private, public, nil
}

// ecdsaKey draws a P-256 private key from rand: 32 bytes read as a
// big-endian scalar, drawn again when it is 0 or not below the curve's
// order (probability about 2^-32), so the key is uniform over the valid
// scalars and reproducible from a deterministic reader. (crypto/ecdsa's
// GenerateKey ignores its reader since Go 1.26.)
func ecdsaKey(rand io.Reader) (*ecdsa.PrivateKey, error) {
	buf := make([]byte, 32)
	for range 64 {
		if _, err := io.ReadFull(rand, buf); err != nil {
			return nil, fmt.Errorf("reading random source: %w", err)
		}
		if k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), buf); err == nil {
			return k, nil
		}
	}
	return nil, errors.New("random source produced too many out-of-range scalars")
}

func encodePrivate(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, errors.New("encoding the private key as PKCS#8 failed")
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPrivateKey, Bytes: der}), nil
}

func encodePublic(key crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return nil, errors.New("encoding the public key as PKIX failed")
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPublicKey, Bytes: der}), nil
}

// serial draws a 127-bit positive serial number from rand.
func serial(rand io.Reader) (*big.Int, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(rand, b); err != nil {
		return nil, fmt.Errorf("reading random source: %w", err)
	}
	b[0] &= 0x7f
	n := new(big.Int).SetBytes(b)
	if n.Sign() == 0 {
		n.SetInt64(1)
	}
	return n, nil
}

// NewCA returns a new CA for one Blueprint: an ECDSA P-256 key drawn from
// rand (PKCS#8 PEM) and its self-signed certificate (PEM), named
// commonName, valid from notBefore for staxv1alpha1.CAValidFor, that may
// sign leaf certificates only (path length 0).
func NewCA(rand io.Reader, commonName string, notBefore time.Time) (keyPEM, certPEM []byte, err error) {
	key, err := ecdsaKey(rand)
	if err != nil {
		return nil, nil, fmt.Errorf("generating the CA key: %w", err)
	}
	sn, err := serial(rand)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             notBefore,
		NotAfter:              notBefore.Add(staxv1alpha1.CAValidFor),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("signing the CA certificate: %w", err)
	}
	keyPEM, err = encodePrivate(key)
	if err != nil {
		return nil, nil, err
	}
	return keyPEM, pem.EncodeToMemory(&pem.Block{Type: pemCertificate, Bytes: der}), nil
}

// Leaf returns a new leaf: an ECDSA P-256 key drawn from rand (PKCS#8 PEM)
// and its certificate (PEM) for dnsNames, for server and client
// authentication, valid from notBefore to notAfter, signed by the CA whose
// key and certificate are caKeyPEM and caCertPEM (as NewCA returns them).
func Leaf(rand io.Reader, caKeyPEM, caCertPEM []byte, dnsNames []string, notBefore, notAfter time.Time) (keyPEM, certPEM []byte, err error) {
	if len(dnsNames) == 0 {
		return nil, nil, errors.New("a leaf certificate needs at least one DNS name")
	}
	caKey, caCert, err := parseCA(caKeyPEM, caCertPEM)
	if err != nil {
		return nil, nil, err
	}
	key, err := ecdsaKey(rand)
	if err != nil {
		return nil, nil, fmt.Errorf("generating the leaf key: %w", err)
	}
	sn, err := serial(rand)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: dnsNames[0]},
		DNSNames:              dnsNames,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand, tmpl, caCert, key.Public(), caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("signing the leaf certificate: %w", err)
	}
	keyPEM, err = encodePrivate(key)
	if err != nil {
		return nil, nil, err
	}
	return keyPEM, pem.EncodeToMemory(&pem.Block{Type: pemCertificate, Bytes: der}), nil
}

// parseCA reads a CA as NewCA writes it. Its errors never quote the input.
func parseCA(keyPEM, certPEM []byte) (crypto.Signer, *x509.Certificate, error) {
	kb, _ := pem.Decode(keyPEM)
	if kb == nil || kb.Type != pemPrivateKey {
		return nil, nil, errors.New("the CA key is not a PEM private key")
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, errors.New("the CA key is not a PKCS#8 private key")
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, nil, errors.New("the CA key cannot sign")
	}
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != pemCertificate {
		return nil, nil, errors.New("the CA certificate is not a PEM certificate")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, errors.New("the CA certificate cannot be parsed")
	}
	if !cert.IsCA {
		return nil, nil, errors.New("the CA certificate is not a CA's")
	}
	return signer, cert, nil
}

// Spec is one value to make with Value.
type Spec struct {
	// Type of the value; empty is a password.
	Type staxv1alpha1.SecretType
	// Charset, Length and Exclude of a password.
	Charset string
	Length  int
	Exclude string
	// DNSNames, NotBefore and NotAfter of a tls leaf (NotBefore also of a
	// CA), signed by the CA of CAKey and CACert.
	DNSNames            []string
	NotBefore, NotAfter time.Time
	CAKey, CACert       []byte
	// CA asks for a CA named CAName instead.
	CA     bool
	CAName string
}

// Value makes the value spec describes, from rand, as the keys of a
// generated Secret hold it, by key suffix: "" for the value (a password or
// a private key), staxv1alpha1.PartPublic for a keypair's public key,
// staxv1alpha1.PartCert for a certificate and staxv1alpha1.PartCA for the
// certificate of the CA that signed a leaf.
func Value(rand io.Reader, spec Spec) (map[string][]byte, error) {
	if spec.CA {
		key, cert, err := NewCA(rand, spec.CAName, spec.NotBefore)
		if err != nil {
			return nil, err
		}
		return map[string][]byte{"": key, staxv1alpha1.PartCert: cert}, nil
	}
	switch spec.Type {
	case "", staxv1alpha1.SecretTypePassword:
		v, err := GenerateExcluding(rand, spec.Charset, spec.Length, spec.Exclude)
		if err != nil {
			return nil, err
		}
		return map[string][]byte{"": v}, nil
	case staxv1alpha1.SecretTypeRSA, staxv1alpha1.SecretTypeECDSA, staxv1alpha1.SecretTypeEd25519:
		priv, pub, err := Keypair(rand, spec.Type)
		if err != nil {
			return nil, err
		}
		return map[string][]byte{"": priv, staxv1alpha1.PartPublic: pub}, nil
	case staxv1alpha1.SecretTypeTLS:
		key, cert, err := Leaf(rand, spec.CAKey, spec.CACert, spec.DNSNames, spec.NotBefore, spec.NotAfter)
		if err != nil {
			return nil, err
		}
		return map[string][]byte{"": key, staxv1alpha1.PartCert: cert, staxv1alpha1.PartCA: spec.CACert}, nil
	}
	return nil, fmt.Errorf("unknown type %q", spec.Type)
}
