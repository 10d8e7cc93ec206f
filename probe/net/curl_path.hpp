#pragma once

#include <optional>
#include <string>

typedef void CURL;

namespace probe {

// How a curl transfer is carried by its path.
struct CurlPath {
  // curl proxy URL without credentials, e.g. "socks5h://10.77.0.10:1080" or
  // "http://10.77.0.11:8888"; empty = none
  std::string proxy;
  std::string proxy_username;  // never logged
  std::string proxy_password;
  std::string interface;  // bind to this interface name (CURLOPT_INTERFACE "if!NAME"); empty = none
};

// Sets CURLOPT_PROXY (an empty proxy turns proxies off, including any from the environment),
// CURLOPT_NOPROXY "" (no_proxy in the environment must not send a transfer around the proxy),
// the proxy credentials, CURLOPT_HTTPPROXYTUNNEL for http:// and https:// proxies (always a
// CONNECT tunnel: the proxy never sees the request itself) and CURLOPT_INTERFACE "if!NAME".
void apply_path(CURL* easy, const CurlPath& path);

// "socks5h", "http", ... from path.proxy, lowercased; empty without a proxy.
std::string proxy_scheme(const CurlPath& path);

// True when the proxy, not curl, turns the destination's name into an address: socks5h and
// socks4a send the name, and an HTTP CONNECT tunnel names host and port in its request.
bool proxy_resolves_names(const CurlPath& path);

// What is wrong with path.proxy for a measurement, or nullopt: a scheme curl cannot tunnel
// through, credentials inside the URL (they belong in proxy_username/proxy_password, which are
// never logged), or a host that is not an IP literal (curl would have to resolve it itself).
std::optional<std::string> proxy_problem(const CurlPath& path);

// `text` with the path's user name and password, wherever they occur, replaced by "***": for
// anything from curl (its error text) that goes into a report or a log.
std::string redact_credentials(std::string text, const CurlPath& path);

// A proxy or DoH URL as a message may quote it: whatever stands before the last '@' of its
// authority (USER:PASSWORD, however malformed) becomes "***", so "socks5h://alice:pw@10.0.0.1:1080"
// reads "socks5h://***@10.0.0.1:1080". Text without '@' is returned as it is.
std::string without_userinfo(std::string_view text);

}  // namespace probe
