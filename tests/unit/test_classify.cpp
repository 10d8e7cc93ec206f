#include <catch2/catch.hpp>

#include <curl/curl.h>
#include <openssl/x509_vfy.h>

#include <cerrno>

#include "steps/tls_http.hpp"

using namespace probe;

namespace {
std::string describe(const Classification& c) {
  const char* step = c.step == FailedStep::none ? "none" : c.step == FailedStep::tls ? "tls" : "http";
  return std::string(step) + " " + (c.failure ? c.failure->str() : "ok") + (c.truncated ? " truncated" : "");
}

CurlOutcome outcome(int code, long os_errno = 0, bool handshake = false, bool headers = false,
                    long verify = X509_V_OK, std::string text = "") {
  CurlOutcome out;
  out.code = code;
  out.os_errno = os_errno;
  out.handshake_done = handshake;
  out.headers_received = headers;
  out.verify_result = verify;
  out.error_text = std::move(text);
  return out;
}
}  // namespace

TEST_CASE("curl outcomes map to the step that failed and OONI's failure string", "[classify]") {
  struct Case {
    const char* name;
    CurlOutcome outcome;
    Kind kind;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"success", outcome(CURLE_OK), Kind::https, "none ok"},
      {"reset after the ClientHello", outcome(CURLE_SSL_CONNECT_ERROR, ECONNRESET), Kind::https,
       "tls connection_reset"},
      {"ClientHello dropped", outcome(CURLE_OPERATION_TIMEDOUT, 0), Kind::https, "tls generic_timeout_error"},
      {"closed after the ClientHello", outcome(CURLE_SSL_CONNECT_ERROR, 0, false, false, X509_V_OK,
                                               "OpenSSL SSL_connect: SSL_ERROR_SYSCALL in connection to x:443"),
       Kind::https, "tls eof_error"},
      {"closed: unexpected eof", outcome(CURLE_SSL_CONNECT_ERROR, 0, false, false, X509_V_OK,
                                         "error:0A000126:SSL routines::unexpected eof while reading"),
       Kind::tls, "tls eof_error"},
      {"handshake alert", outcome(CURLE_SSL_CONNECT_ERROR, 0, false, false, X509_V_OK,
                                  "error:0A000410:SSL routines::sslv3 alert handshake failure"),
       Kind::https, "tls ssl_failed_handshake"},
      {"wrong name", outcome(CURLE_PEER_FAILED_VERIFICATION, 0, true, false, X509_V_OK), Kind::https,
       "tls ssl_invalid_hostname"},
      {"self-signed", outcome(CURLE_PEER_FAILED_VERIFICATION, 0, false, false, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT),
       Kind::https, "tls ssl_unknown_authority"},
      {"unknown issuer", outcome(CURLE_PEER_FAILED_VERIFICATION, 0, false, false,
                                 X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY),
       Kind::tls, "tls ssl_unknown_authority"},
      {"expired", outcome(CURLE_PEER_FAILED_VERIFICATION, 0, false, false, X509_V_ERR_CERT_HAS_EXPIRED),
       Kind::https, "tls ssl_invalid_certificate"},
      {"reset after the request", outcome(CURLE_RECV_ERROR, ECONNRESET, true), Kind::https,
       "http connection_reset"},
      {"closed without a response", outcome(CURLE_GOT_NOTHING, 0, true), Kind::https, "http eof_error"},
      {"plain http, nothing back", outcome(CURLE_GOT_NOTHING), Kind::http, "http eof_error"},
      {"plain http, timeout", outcome(CURLE_OPERATION_TIMEDOUT), Kind::http, "http generic_timeout_error"},
      {"plain http, refused on curl's connect", outcome(CURLE_COULDNT_CONNECT, ECONNREFUSED), Kind::http,
       "http connection_refused"},
      {"body capped by us", outcome(CURLE_WRITE_ERROR, 0, true, true), Kind::https, "none ok truncated"},
      {"slow body timed out after the headers", outcome(CURLE_OPERATION_TIMEDOUT, 0, true, true), Kind::https,
       "none ok truncated"},
      {"body cut short", outcome(CURLE_PARTIAL_FILE, 0, true, true), Kind::http, "none ok truncated"},
      {"body reset", outcome(CURLE_RECV_ERROR, ECONNRESET, true, true), Kind::https, "none ok truncated"},
      {"something else", outcome(CURLE_OUT_OF_MEMORY, 0, true), Kind::https,
       "http unknown_failure: curl: Out of memory"},
      {"receive ended by the peer", outcome(CURLE_RECV_ERROR, 0, true), Kind::https, "http eof_error"},
      {"response head too large for curl", outcome(CURLE_RECV_ERROR, 0, true, false, X509_V_OK,
                                                   "Too large response headers: 307206 > 307200"),
       Kind::https,
       "http unknown_failure: curl: Failure when receiving data from the peer: Too large response headers: "
       "307206 > 307200"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    CHECK(describe(classify_transfer(c.outcome, c.kind)) == c.expected);
  }
}

TEST_CASE("titles are found case-insensitively and tidied", "[classify]") {
  CHECK(extract_title("<html><head><TITLE>\n  Blocked   by\norder </title>") == "Blocked by order");
  CHECK(extract_title("<title lang=en>x</title>") == "x");
  CHECK(extract_title("<title>unterminated") == "unterminated");
  CHECK_FALSE(extract_title("<p>no title</p>"));
  CHECK(extract_title("<title>" + std::string(1000, 'a') + "</title>")->size() == 256);
}

TEST_CASE("through a proxy, the proxy's replies about the destination are the destination's failures", "[classify]") {
  const auto via_proxy = [](int code, long proxy_code, long connect_code, std::string text = "") {
    CurlOutcome out = outcome(code);
    out.via_proxy = true;
    out.proxy_code = proxy_code;
    out.connect_code = connect_code;
    out.error_text = std::move(text);
    return out;
  };
  struct Case {
    const char* name;
    CurlOutcome outcome;
    Kind kind;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"SOCKS: refused", via_proxy(CURLE_PROXY, CURLPX_REPLY_CONNECTION_REFUSED, 0), Kind::https,
       "tls connection_refused"},
      {"SOCKS: host unreachable", via_proxy(CURLE_PROXY, CURLPX_REPLY_HOST_UNREACHABLE, 0), Kind::https,
       "tls host_unreachable"},
      {"SOCKS: network unreachable", via_proxy(CURLE_PROXY, CURLPX_REPLY_NETWORK_UNREACHABLE, 0), Kind::http,
       "http network_unreachable"},
      {"SOCKS: TTL expired", via_proxy(CURLE_PROXY, CURLPX_REPLY_TTL_EXPIRED, 0), Kind::tls,
       "tls generic_timeout_error"},
      {"SOCKS: general failure", via_proxy(CURLE_PROXY, CURLPX_REPLY_GENERAL_SERVER_FAILURE, 0), Kind::https,
       "tls proxy_error"},
      {"SOCKS: not allowed", via_proxy(CURLE_PROXY, CURLPX_REPLY_NOT_ALLOWED, 0), Kind::https, "tls proxy_error"},
      {"SOCKS: authentication", via_proxy(CURLE_PROXY, CURLPX_USER_REJECTED, 0), Kind::https, "tls proxy_error"},
      {"CONNECT 407", via_proxy(CURLE_COULDNT_CONNECT, 0, 407), Kind::https, "tls proxy_error"},
      {"CONNECT 403", via_proxy(CURLE_RECV_ERROR, 0, 403), Kind::https, "tls proxy_error"},
      {"CONNECT 504", via_proxy(CURLE_COULDNT_CONNECT, 0, 504), Kind::https, "tls generic_timeout_error"},
      {"CONNECT 502", via_proxy(CURLE_COULDNT_CONNECT, 0, 502), Kind::http, "http connection_refused"},
      {"CONNECT 500 (tinyproxy: unable to connect)", [&] {
         CurlOutcome out = via_proxy(CURLE_COULDNT_CONNECT, 0, 500);
         out.connect_reason = "Unable to connect";  // curl hands the CONNECT's status line to on_header
         return out;
       }(),
       Kind::https, "tls connection_refused"},
      {"CONNECT 500 without a reason: the proxy's own", via_proxy(CURLE_COULDNT_CONNECT, 0, 500), Kind::https,
       "tls proxy_error"},
      {"proxy unreachable", via_proxy(CURLE_COULDNT_CONNECT, 0, 0, "Failed to connect to proxy port 1080"),
       Kind::https, "tls proxy_error"},
      {"CONNECT 200, then a TLS reset: the destination's", [&] {
         CurlOutcome out = via_proxy(CURLE_SSL_CONNECT_ERROR, 0, 200);
         out.os_errno = ECONNRESET;
         return out;
       }(),
       Kind::https, "tls connection_reset"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    CHECK(describe(classify_transfer(c.outcome, c.kind)) == c.expected);
  }
}
