#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/failure.hpp"

namespace probe {

// The one place where a foreign error space becomes a Failure: errno, SOCKS5 replies (and curl's
// CURLPX_* codes for them), an HTTP proxy's answer to CONNECT, curl's result codes with what
// comes with them (errno, the X509 verify result, the error text, the proxy's answers) and c-ares
// statuses. Every step and resolver maps through these functions, so one fault reads the same in
// every step. The rule throughout: a proxy's word that it could not reach the destination is the
// destination's failure (connection_refused, host_unreachable, ...); the proxy's own trouble
// (unreachable, handshake, authentication, a refusal by its rules) is proxy_error. DNS rcodes are
// DNS semantics, not a foreign error space, and stay in dns/ (fill_from_reply).

// --- errno from a socket operation: refused, reset, timeout, unreachable; anything else is
// unknown_failure with the error's text.
FailureInfo failure_from_errno(int error);

// --- SOCKS5 (RFC 1928 section 6). Codes for the destination (3 network unreachable, 4 host
// unreachable, 5 refused, 6 TTL expired) are the destination's failures; the rest (general
// failure, not allowed by the rules, command or address type not supported, unassigned codes) are
// proxy_error, with the reason in `detail`.
FailureInfo failure_from_socks_reply(std::uint8_t reply);

// curl's CURLproxycode (CURLINFO_PROXY_ERROR): its CURLPX_REPLY_* codes are SOCKS5 replies and map
// through failure_from_socks_reply; every other code (handshake, authentication, a SOCKS4
// rejection, ...) is the proxy's own: proxy_error.
FailureInfo failure_from_curl_proxy_code(long proxy_code);

// --- HTTP CONNECT. What a CONNECT answered with a status other than 2xx means, from the status,
// the reason phrase and (when there is one) the start of the body. 504 and the connect failures a
// proxy reports with 500/502/503 are the destination's failures; the rest is proxy_error. Without
// a reason or body that says more, a 502 or 503 is connection_refused and a bare 500 the proxy's
// own (proxy_error); tinyproxy's "500 Unable to connect" is connection_refused.
FailureInfo failure_from_connect_status(int status, std::string_view reason, std::string_view body);

// The proxy's own trouble, with what went wrong in `detail` (no credential: callers never put one
// there).
FailureInfo proxy_error(std::string detail);

// Whether a failure from failure_from_socks_reply or failure_from_connect_status is the proxy's own.
inline bool is_proxy_failure(const FailureInfo& failure) { return failure.code == Failure::proxy_error; }

// An HTTP/1.x status line: "HTTP/1.1 500 Unable to connect" (a trailing CR LF is ignored).
struct HttpStatusLine {
  int status = 0;
  std::string reason;  // may be empty
};
std::optional<HttpStatusLine> parse_status_line(std::string_view line);

// --- X509 verify results (OpenSSL's X509_V_*).
// Whether a verify result means the chain did not lead to a trusted root (self-signed, unknown
// issuer), as opposed to a bad certificate (expired, wrong purpose, ...).
bool is_untrusted_issuer(long verify_result);
// A failed certificate check: the chain fine (X509_V_OK, or curl 7.88's placeholder
// X509_V_ERR_UNSPECIFIED) or a hostname mismatch is ssl_invalid_hostname, an untrusted issuer
// ssl_unknown_authority, anything else ssl_invalid_certificate.
FailureInfo failure_from_verify_result(long verify_result);

// --- curl. What curl said about a transfer that failed, from any step that runs one.
// What curl said about a failed transfer, gathered so that classification is a pure function: the
// one record every curl transfer fills (steps/tls_http adds what only it knows).
struct CurlFailure {
  int code = 0;                 // CURLcode, not CURLE_OK
  long os_errno = 0;            // CURLINFO_OS_ERRNO of this (fresh) handle
  long verify_result = 0;       // X509_V_* of the chain check (0: the chain was fine)
  std::string error_text;       // CURLOPT_ERRORBUFFER (credentials already removed)
  bool via_proxy = false;       // the transfer was carried by a proxy
  std::string proxy_scheme;     // "http", "https", "socks5h", ...; may be empty when unknown
  long proxy_code = 0;          // CURLINFO_PROXY_ERROR (CURLproxycode) when code is CURLE_PROXY
  long connect_code = 0;        // CURLINFO_HTTP_CONNECTCODE: an HTTP proxy's answer to CONNECT
  std::string connect_reason;   // that answer's reason phrase ("Unable to connect"), when its status line came
  bool handshake_done = false;  // the TLS handshake completed (false when not known)
};

struct CurlFailureClass {
  FailureInfo failure;
  // The proxy or its tunnel failed: nothing of the transfer itself (TLS, HTTP) happened.
  bool at_proxy = false;
};

// Library codes and errno first, the X509 verify result for certificates, the error text only to
// tell a closed connection from other failures. Through a proxy: a SOCKS reply or a CONNECT answer
// about the destination is the destination's failure; a proxy that could not be resolved or
// reached, or that dropped the connection before it answered the CONNECT, is proxy_error (curl
// never connects to the destination itself when a proxy carries the transfer).
CurlFailureClass classify_curl_failure(const CurlFailure& outcome);

// --- c-ares. What a c-ares status other than ARES_SUCCESS means: ARES_ETIMEOUT a timeout,
// ARES_ECANCELLED and ARES_EDESTRUCTION an interrupted query (the resolver went away), and
// ARES_ECONNREFUSED / ARES_ESERVFAIL (c-ares's words for a socket error) what `last_errno`, the
// most recent socket error, says. Anything else is unknown_failure with c-ares's text.
FailureInfo failure_from_ares(int status, int last_errno = 0);

}  // namespace probe
