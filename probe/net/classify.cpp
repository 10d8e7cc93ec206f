#include "net/classify.hpp"

#include <ares.h>
#include <curl/curl.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <initializer_list>

#include "core/text.hpp"

namespace probe {

FailureInfo proxy_error(std::string detail) { return {Failure::proxy_error, std::move(detail)}; }

namespace {

bool contains_any(const std::string& text, std::initializer_list<std::string_view> needles) {
  return std::any_of(needles.begin(), needles.end(),
                     [&text](std::string_view needle) { return text.find(needle) != std::string::npos; });
}

// The destination failure a proxy's error text describes, in its own words: the strerror text
// (squid's "(111) Connection refused", "(113) No route to host"), or tinyproxy's "Unable to
// connect", which it says for every failed connect (see failure_from_connect_status).
std::optional<Failure> failure_from_text(std::string_view raw) {
  const std::string text = lowercase(raw);
  if (contains_any(text, {"refused"})) {
    return Failure::connection_refused;
  }
  if (contains_any(text, {"network is unreachable", "network unreachable", "net unreachable"})) {
    return Failure::network_unreachable;
  }
  if (contains_any(text, {"unreachable", "no route"})) {
    return Failure::host_unreachable;
  }
  if (contains_any(text, {"timed out", "timeout"})) {
    return Failure::generic_timeout_error;
  }
  if (contains_any(text, {"connection reset", "reset by peer"})) {
    return Failure::connection_reset;
  }
  if (contains_any(text, {"unable to connect", "could not connect", "cannot connect", "can't connect",
                          "failed to connect", "connect failed", "connection failed"})) {
    return Failure::connection_refused;
  }
  return std::nullopt;
}

// Words in curl's error text that mean the peer closed the connection (a FIN, no error code).
bool says_closed(std::string_view error_text) {
  if (error_text.empty()) {
    return true;  // curl had nothing to say: the connection just ended
  }
  return contains_any(lowercase(error_text),
                      {"unexpected eof", "closed", "ssl_error_syscall", "recv failure", "send failure"});
}

FailureInfo curl_unknown(const CurlFailure& outcome) {
  std::string detail = std::string("curl: ") + curl_easy_strerror(static_cast<CURLcode>(outcome.code));
  if (!outcome.error_text.empty()) {
    detail += ": ";
    detail += outcome.error_text;
  }
  return {Failure::unknown_failure, detail};
}

}  // namespace

FailureInfo failure_from_errno(int error) {
  switch (error) {
  case ECONNREFUSED: return {Failure::connection_refused, ""};
  case ECONNRESET:
  case EPIPE: return {Failure::connection_reset, ""};
  case ETIMEDOUT: return {Failure::generic_timeout_error, ""};
  case EHOSTUNREACH:
  case EHOSTDOWN: return {Failure::host_unreachable, ""};
  case ENETUNREACH:
  case ENETDOWN: return {Failure::network_unreachable, ""};
  default: break;
  }
  return {Failure::unknown_failure, error == 0 ? "no error code" : std::strerror(error)};
}

// Observed on Debian 12's microsocks 1.0.3 (loopback, and routes in a private network namespace):
// destination refused -> 05 05 00 01 00000000 0000 (reply 0x05); no route at all (ENETUNREACH) ->
// reply 0x03; `ip route unreachable` (EHOSTUNREACH) -> reply 0x04; `ip route prohibit` (EACCES) ->
// reply 0x01; a dropped SYN -> no reply while the kernel retries; success -> 05 00 00 01 00000000
// 0000. Any errno it has no code for becomes 0x01, which is why a general failure stays the
// proxy's: it is not evidence about the destination.
FailureInfo failure_from_socks_reply(std::uint8_t reply) {
  switch (reply) {
  case 0x00: return proxy_error("SOCKS5 reply 0x00 is a success, not a failure");
  case 0x01: return proxy_error("SOCKS5 reply 0x01: general failure");
  case 0x02: return proxy_error("SOCKS5 reply 0x02: connection not allowed by ruleset");
  case 0x03: return {Failure::network_unreachable, ""};
  case 0x04: return {Failure::host_unreachable, ""};
  case 0x05: return {Failure::connection_refused, ""};
  case 0x06: return {Failure::generic_timeout_error, ""};  // "TTL expired": the connect timed out
  case 0x07: return proxy_error("SOCKS5 reply 0x07: command not supported");
  case 0x08: return proxy_error("SOCKS5 reply 0x08: address type not supported");
  default: break;
  }
  constexpr std::string_view k_hex = "0123456789abcdef";
  return proxy_error(std::string("SOCKS5 reply 0x") + k_hex[reply >> 4] + k_hex[reply & 0x0F] + ": unassigned");
}

FailureInfo failure_from_curl_proxy_code(long proxy_code) {
  // curl names the SOCKS5 reply it got (lib/socks.c); the reply byte itself is not kept, and an
  // unassigned one becomes CURLPX_REPLY_UNASSIGNED (0x09 stands for all of them here).
  switch (proxy_code) {
  case CURLPX_REPLY_GENERAL_SERVER_FAILURE: return failure_from_socks_reply(0x01);
  case CURLPX_REPLY_NOT_ALLOWED: return failure_from_socks_reply(0x02);
  case CURLPX_REPLY_NETWORK_UNREACHABLE: return failure_from_socks_reply(0x03);
  case CURLPX_REPLY_HOST_UNREACHABLE: return failure_from_socks_reply(0x04);
  case CURLPX_REPLY_CONNECTION_REFUSED: return failure_from_socks_reply(0x05);
  case CURLPX_REPLY_TTL_EXPIRED: return failure_from_socks_reply(0x06);
  case CURLPX_REPLY_COMMAND_NOT_SUPPORTED: return failure_from_socks_reply(0x07);
  case CURLPX_REPLY_ADDRESS_TYPE_NOT_SUPPORTED: return failure_from_socks_reply(0x08);
  case CURLPX_REPLY_UNASSIGNED: return failure_from_socks_reply(0x09);
  default: break;
  }
  return proxy_error("curl proxy error " + std::to_string(proxy_code));
}

// Observed on Debian 12's tinyproxy 1.11.1 (loopback, and routes in a private network namespace):
// for a destination that refuses, has no route, is unreachable, is prohibited, or drops the SYN
// (after its `Timeout`), alike: "HTTP/1.1 500 Unable to connect" with an HTML body saying "Tinyproxy was
// unable to connect to the remote web server." So "Unable to connect" is read as refused (the
// common case), though from tinyproxy it only means "the destination failed". Other answers:
// a port outside ConnectPort -> "HTTP/1.1 403 Access violation"; no credentials when BasicAuth is
// set -> "HTTP/1.0 407 Proxy Authentication Required"; wrong credentials -> "HTTP/1.0 401
// Unauthorized". Squid says 503 and the errno text in the body ("(111) Connection refused").
FailureInfo failure_from_connect_status(int status, std::string_view reason, std::string_view body) {
  const std::string code = std::to_string(status);
  if (status >= 200 && status < 300) {
    return proxy_error("CONNECT status " + code + " is a success, not a failure");
  }
  switch (status) {
  case 401: return proxy_error("authentication rejected");  // tinyproxy, for wrong credentials
  case 403: return proxy_error("proxy refused the destination (403)");
  case 407: return proxy_error("proxy requires authentication");
  case 504: return {Failure::generic_timeout_error, ""};
  case 500:
  case 502:
  case 503:
    if (const auto failure = failure_from_text(reason)) {
      return {*failure, ""};
    }
    if (const auto failure = failure_from_text(body)) {
      return {*failure, ""};
    }
    // A gateway error says the proxy could not reach the destination; a bare 500 is the proxy's own.
    if (status == 500) {
      return proxy_error("proxy internal error (500)");
    }
    return {Failure::connection_refused, ""};
  default: break;
  }
  return proxy_error("CONNECT answered " + code);
}

std::optional<HttpStatusLine> parse_status_line(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) {
    line.remove_suffix(1);
  }
  // HTTP/x.y SP 3DIGIT [SP reason]
  if (line.size() < 12 || !line.starts_with("HTTP/") || line[8] != ' ' || (line.size() > 12 && line[12] != ' ')) {
    return std::nullopt;
  }
  const std::string_view code = line.substr(9, 3);
  if (!std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  HttpStatusLine out;
  out.status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
  if (line.size() > 13) {
    out.reason = std::string(line.substr(13));
  }
  return out;
}

bool is_untrusted_issuer(long verify_result) {
  switch (verify_result) {
  case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
  case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
  case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
  case X509_V_ERR_CERT_UNTRUSTED:
    return true;
  default:
    return false;
  }
}

FailureInfo failure_from_verify_result(long verify_result) {
  // curl 7.88 checks the name before it records the chain's result, leaving a placeholder (1) in
  // CURLINFO_SSL_VERIFYRESULT: a failure with the chain fine, or with that placeholder, is the name's.
  if (verify_result == X509_V_OK || verify_result == X509_V_ERR_UNSPECIFIED ||
      verify_result == X509_V_ERR_HOSTNAME_MISMATCH) {
    return {Failure::ssl_invalid_hostname, ""};
  }
  if (is_untrusted_issuer(verify_result)) {
    return {Failure::ssl_unknown_authority, ""};
  }
  return {Failure::ssl_invalid_certificate, ""};
}

CurlFailureClass classify_curl_failure(const CurlFailure& outcome) {
  const auto code = static_cast<CURLcode>(outcome.code);
  const bool http_proxy = outcome.proxy_scheme == "http" || outcome.proxy_scheme == "https";
  const auto at_proxy = [](FailureInfo failure) { return CurlFailureClass{std::move(failure), true}; };
  const auto at_transfer = [](FailureInfo failure) { return CurlFailureClass{std::move(failure), false}; };

  // The proxy's answers: a SOCKS reply or an HTTP CONNECT status.
  if (code == CURLE_PROXY) {
    return at_proxy(failure_from_curl_proxy_code(outcome.proxy_code));
  }
  if (code == CURLE_COULDNT_RESOLVE_PROXY) {
    return at_proxy(proxy_error("curl could not resolve the proxy"));
  }
  if (outcome.connect_code != 0 && (outcome.connect_code < 200 || outcome.connect_code > 299)) {
    // curl reads no CONNECT error body: the status and its reason phrase are all there is.
    return at_proxy(failure_from_connect_status(static_cast<int>(outcome.connect_code), outcome.connect_reason, ""));
  }
  if (outcome.via_proxy && outcome.connect_code == 0 && !outcome.handshake_done &&
      (code == CURLE_COULDNT_CONNECT ||
       (http_proxy && (code == CURLE_RECV_ERROR || code == CURLE_SEND_ERROR || code == CURLE_GOT_NOTHING)))) {
    // Nothing got through to the destination: the proxy is unreachable, or it dropped us before
    // it answered the CONNECT.
    return at_proxy(proxy_error("proxy unreachable or closed before the tunnel was set up"));
  }

  switch (code) {
  case CURLE_PEER_FAILED_VERIFICATION: return at_transfer(failure_from_verify_result(outcome.verify_result));
  case CURLE_OPERATION_TIMEDOUT: return at_transfer({Failure::generic_timeout_error, ""});
  case CURLE_GOT_NOTHING:
  case CURLE_PARTIAL_FILE: return at_transfer({Failure::eof_error, ""});
  case CURLE_COULDNT_CONNECT:
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_SSL_CONNECT_ERROR: {
    if (outcome.os_errno != 0) {
      FailureInfo failure = failure_from_errno(static_cast<int>(outcome.os_errno));
      if (failure.code != Failure::unknown_failure) {
        return at_transfer(std::move(failure));
      }
    }
    if (says_closed(outcome.error_text)) {
      return at_transfer({Failure::eof_error, ""});  // OONI's eof_error
    }
    if (code == CURLE_SSL_CONNECT_ERROR) {
      return at_transfer({Failure::ssl_failed_handshake, ""});
    }
    return at_transfer(curl_unknown(outcome));
  }
  default: return at_transfer(curl_unknown(outcome));
  }
}

FailureInfo failure_from_ares(int status, int last_errno) {
  switch (status) {
  case ARES_ETIMEOUT: return {Failure::generic_timeout_error, ""};
  case ARES_ECANCELLED:
  case ARES_EDESTRUCTION: return {Failure::interrupted, ""};
  case ARES_ECONNREFUSED:
  case ARES_ESERVFAIL: {
    // c-ares gave up on a socket error without a reply: the exact errno says which.
    FailureInfo failure = failure_from_errno(last_errno);
    if (failure.code == Failure::unknown_failure) {
      failure.detail = std::string("c-ares: ") + ares_strerror(status) +
                       (last_errno != 0 ? std::string(" (") + std::strerror(last_errno) + ")" : std::string());
    }
    return failure;
  }
  default: break;
  }
  return {Failure::unknown_failure, std::string("c-ares: ") + ares_strerror(status)};
}

}  // namespace probe
