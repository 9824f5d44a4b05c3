// Package ca is Sentinel's certificate authority store: a root key and certificate in a
// directory, an inventory of every issued certificate (embedded SQLite, or PostgreSQL),
// issuance of relay, server and client certificates carrying pkg/certattrs attributes,
// ready-to-run bundles, revocation and signed CRLs, and what the online CA (pkg/caserver)
// needs on top: enrollment tokens, plans signed for a device's own key, renewals and admin
// certificates. It never prints or exits; cmd/backend formats its results.
//
// A CA directory holds:
//
//	ca.crt         the root certificate (PEM)
//	ca.key         the root private key (PEM, PKCS #8, mode 0600)
//	inventory.db   the SQLite inventory (mode 0600)
//	inventory.url  the PostgreSQL inventory's URL instead, when one is used (mode 0600)
//	enroll.key     the key that signs enrollment tokens (mode 0600), made on first use
package ca
