#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "dns/lifecycle.hpp"
#include "dns/resolver.hpp"
#include "net/classify.hpp"
#include "net/curl_multi.hpp"
#include "net/curl_path.hpp"

namespace probe {

// One DNS-over-HTTPS server and how to reach it.
struct DohServer {
  std::string url;  // https://1.1.1.1/dns-query, https://dns.example/dns-query
  CurlPath path;    // how the transfers are carried (proxy, interface); default: directly
  // IP literal the URL's host is pinned to (CURLOPT_CONNECT_TO). Needed when the host is a name
  // and no proxy resolves names for us: curl never resolves a name by itself.
  std::optional<std::string> address;
  std::string ca_bundle;  // CA file for the server's certificate; empty keeps curl's default
};

// RFC 8484 DNS over HTTPS (label "doh:" + the URL): each query is a POST of the wire-format message (ID 0) with
// Content-Type and Accept application/dns-message, on the run's CurlMulti. Connections are
// reused between queries (HTTP/2 multiplexes them when the server offers it); redirects are not
// followed. Each try gets settings.timeout_ms; when settings.tries > 1 a try that timed out or got
// no reply at all is repeated once.
//
// A reply counts only with HTTP status 200, Content-Type application/dns-message, and the
// question asked; otherwise the failure is unknown_failure with what was wrong. Curl's failures
// map to OONI's strings: the proxy's own failures (unreachable, handshake, credentials) are
// proxy_error, a SOCKS reply or a CONNECT answer about the destination is that failure
// (connection_refused, ...; net/classify.hpp).
class DohResolver : public TransportResolver {
public:
  // Throws std::invalid_argument when the URL is not https:// (or carries credentials), the
  // proxy is unusable (proxy_problem), or curl would have to resolve the URL's host by itself: a
  // name with neither `address` nor a proxy that resolves names (socks5h, socks4a, HTTP CONNECT).
  DohResolver(EventLoop& loop, CurlMulti& multi, DohServer server, const DnsSettings& settings,
              const BogonTable& bogons, MonoTime run_start);
};

// Maps a failed DoH transfer to OONI's failure strings with net/classify.hpp's
// classify_curl_failure, the rule every curl transfer follows (library codes and errno first, the
// error text only to tell a closed connection from other failures); a DoH transfer is carried by a
// proxy exactly when `proxy_scheme` is set.
FailureInfo classify_doh_failure(const CurlFailure& outcome);

}  // namespace probe
