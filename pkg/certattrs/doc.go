// Package certattrs defines the Sentinel attributes carried in a non-critical X.509
// extension, with their strict JSON encoding, validation, resource matching and schedules.
//
// The extension's OID, 1.3.6.1.4.1.62297.1.1, sits under the IANA private enterprise
// number 62297 (1.3.6.1.4.1 is iso.org.dod.internet.private.enterprise) assigned to the
// project; arc .1 holds X.509 extensions and .1.1 is this attributes extension. Its value
// is a DER UTF8String holding the JSON document {"attrs": {...}} (see MarshalJSON).
//
// The package does no I/O besides loading time zones; it embeds the IANA time zone
// database (time/tzdata) so a schedule validates the same on every host.
package certattrs
