package doctor

import (
	"fmt"

	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/tunnel"
)

// relayDenyFix says what to do about a relay's refusal code (the Sentinel-Deny header) for a
// certificate of role.
func relayDenyFix(code string, role certattrs.Role, relayName string) string {
	reissue := fmt.Sprintf("re-issue the certificate (`backend ca issue %s ...`)", role)
	switch code {
	case tunnel.CodeExpired:
		return "the relay finds the certificate expired or not yet valid: " + reissue + "; if it is valid, check this machine's and the relay's clocks"
	case tunnel.CodeRevoked:
		return "the certificate is revoked: " + reissue + " and install the new one"
	case tunnel.CodeNotAllowed:
		if role == certattrs.RoleServer {
			return "the server certificate does not list relay " + relayName + ": " + reissue + " with --relay " + relayName
		}
		return "the client certificate does not list relay " + relayName + " or names another server: " + reissue + " with --server and --relay " + relayName
	case tunnel.CodeWrongAudience:
		return "the relay at this address is not the relay " + relayName + " the certificate names (its uuid differs; it was re-issued, or the address points at another relay): " + reissue + " so it names the current relay"
	case tunnel.CodeBadChain:
		return "the relay does not trust the CA that issued this certificate: use a certificate from the relay's CA, or give the relay the right CA bundle (its ca)"
	case tunnel.CodeWrongRole:
		return "the relay does not take this role on this endpoint: check that cert is the " + string(role) + " certificate"
	case tunnel.CodeBadToken:
		return "the relay could not read our token: check that both run the same Sentinel version and that no proxy strips the Authorization header"
	case tunnel.CodeReplay:
		return "the relay saw this token before: retry; if it persists, check the relay's and this machine's clocks"
	case tunnel.CodeLimit:
		return "the relay is at a limit (sessions for this certificate, pending opens or server channels): retry later or raise the relay's limits"
	case tunnel.CodeDraining:
		return "the relay is shutting down: retry once it is back, or use another relay"
	case tunnel.CodeSchedule:
		return "the certificate's schedule does not allow connecting now"
	}
	return "see the relay's audit log (auth.deny events) for the reason"
}

// statusFix says what to do about a server's stream refusal code.
func statusFix(code, target string) string {
	switch code {
	case tunnel.CodeNotAllowed:
		return "the target " + target + " is outside the server's resources: re-issue the server with a --resource covering it, or the client with the right --target"
	case tunnel.CodeDialFailed:
		return "the target " + target + " is down or unreachable from the server: start it, or check routing and firewalls between the server and the target"
	case tunnel.CodeSchedule:
		return "the client certificate's schedule does not allow connecting now"
	case tunnel.CodeLimit:
		return "the session is at the server's stream limit (server.max_streams_per_session)"
	}
	return "see the server's audit log (stream.open events) for the reason"
}

// e2eDenyFix says what to do when our side refused the server's certificate.
func e2eDenyFix(code, serverName string) string {
	switch code {
	case tunnel.CodeNotAllowed:
		return "the server behind the relay is not " + serverName + " (its uuid differs): re-issue the client with --server naming the right server"
	case tunnel.CodeExpired:
		return "the server's certificate has expired: re-issue it (`backend ca issue server ...`) and reload the server"
	case tunnel.CodeBadChain:
		return "the server's certificate does not chain to our CA: the server must use a certificate from the same CA"
	case tunnel.CodeWrongRole:
		return "the peer answering for the server is not a server: check the server's cert"
	}
	return "see the server's log for this session"
}
