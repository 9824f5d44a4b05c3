package caserver

import (
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"

	"github.com/smallstep/certificates/authority/provisioner"
	"github.com/smallstep/certificates/db"

	"github.com/sentinel-zt/sentinel/pkg/ca"
)

// authDB is step-ca's database, backed by the Sentinel inventory: revocation is read from it
// and every certificate the authority signs or renews is recorded in it.
type authDB struct{ ca *ca.CA }

var _ db.AuthDB = authDB{}

// IsRevoked takes step-ca's decimal serial.
func (d authDB) IsRevoked(sn string) (bool, error) {
	n, ok := new(big.Int).SetString(sn, 10)
	if !ok {
		return false, fmt.Errorf("serial %q is not decimal", sn)
	}
	rec, err := d.ca.Lookup(n.Text(16))
	if errors.Is(err, ca.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return rec.RevokedAt != nil, nil
}

func (authDB) IsSSHRevoked(string) (bool, error) { return false, nil }

func (authDB) Revoke(*db.RevokedCertificateInfo) error {
	return errors.New("revoke with backend ca revoke or the admin endpoint")
}

func (authDB) RevokeSSH(*db.RevokedCertificateInfo) error {
	return errors.New("ssh certificates are not issued here")
}

func (authDB) GetCertificate(string) (*x509.Certificate, error) { return nil, db.ErrNotImplemented }

// UseToken is never reached for enrollment tokens (the provisioner counts their uses in the
// inventory) and renewals do not use step-ca's token flow.
func (authDB) UseToken(string, string) (bool, error) { return true, nil }

func (authDB) IsSSHHost(string) (bool, error)          { return false, nil }
func (authDB) GetSSHHostPrincipals() ([]string, error) { return nil, nil }
func (authDB) Shutdown() error                         { return nil }

// StoreCertificateChain records a certificate the enrollment provisioner signed, with the
// token id and ephemeral mark its provisioner extension carries.
func (d authDB) StoreCertificateChain(_ provisioner.Interface, chain ...*x509.Certificate) error {
	if len(chain) == 0 {
		return errors.New("no certificate to record")
	}
	opts := ca.RecordOptions{}
	if ext, ok := provisioner.GetProvisionerExtension(chain[0]); ok && ext.Name == ProvisionerName {
		opts.Token = ext.CredentialID
		for i := 0; i+1 < len(ext.KeyValuePairs); i += 2 {
			if ext.KeyValuePairs[i] == "ephemeral" && ext.KeyValuePairs[i+1] == "true" {
				opts.Ephemeral = true
			}
		}
	}
	_, err := d.ca.Record(chain[0], opts)
	return err
}

// StoreRenewedCertificate records a renewal as the successor of old.
func (d authDB) StoreRenewedCertificate(old *x509.Certificate, chain ...*x509.Certificate) error {
	if len(chain) == 0 {
		return errors.New("no certificate to record")
	}
	_, err := d.ca.RecordRenewal(old, chain[0])
	return err
}
