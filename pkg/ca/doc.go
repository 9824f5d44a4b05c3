// Package ca is Sentinel's offline certificate authority: a root key and certificate in a
// directory, an embedded SQLite inventory of every issued certificate, issuance of relay,
// server and client certificates carrying pkg/certattrs attributes, ready-to-run bundles,
// revocation and signed CRLs. It never prints or exits; cmd/backend formats its results.
//
// A CA directory holds:
//
//	ca.crt        the root certificate (PEM)
//	ca.key        the root private key (PEM, PKCS #8, mode 0600)
//	inventory.db  the SQLite inventory (mode 0600)
package ca
