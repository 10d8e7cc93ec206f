// net/classify.hpp, the one failure classifier: a table per foreign error space (errno, SOCKS5
// replies, curl's proxy codes, HTTP CONNECT answers, curl results, c-ares statuses), then checks
// that every step and resolver that meets the same fault says the same thing, on paper and
// through a real curl transfer over a loopback proxy.

#include <catch2/catch.hpp>

#include <ares.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <openssl/x509_vfy.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "dns/bogon.hpp"
#include "dns/dns_message.hpp"
#include "dns/doh_resolver.hpp"
#include "net/classify.hpp"
#include "net/curl_multi.hpp"
#include "net/event_loop.hpp"
#include "net/proxy_tunnel.hpp"
#include "steps/tls_http.hpp"
#include "support/curl_outcomes.hpp"
#include "support/ports.hpp"

using namespace probe;

namespace {

// "code" or "code: detail" for a row's expectation; str() alone hides a proxy_error's detail.
std::string full(const FailureInfo& failure) {
  std::string out(to_string(failure.code));
  if (!failure.detail.empty()) {
    out += ": " + failure.detail;
  }
  return out;
}

// A loopback HTTP proxy that answers every CONNECT with `head` (status line and headers, the
// blank line included), then closes, or with hold_open keeps the connection silent until it is
// destroyed. It runs on its own thread: the transfer under test runs on the test's loop.
class ScriptedConnectProxy {
public:
  ScriptedConnectProxy(std::string head, bool hold_open) : m_head(std::move(head)), m_hold_open(hold_open) {
    m_listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (m_listener < 0 || ::bind(m_listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(m_listener, 16) != 0 ||
        ::getsockname(m_listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::runtime_error("cannot listen on 127.0.0.1");
    }
    m_port = ntohs(address.sin_port);
    m_thread = std::thread([this]() { serve(); });
  }
  ~ScriptedConnectProxy() {
    m_stop = true;
    m_thread.join();
    for (const int fd : m_held) {
      ::close(fd);
    }
    ::close(m_listener);
  }
  ScriptedConnectProxy(const ScriptedConnectProxy&) = delete;
  ScriptedConnectProxy& operator=(const ScriptedConnectProxy&) = delete;

  std::uint16_t port() const { return m_port; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(m_port); }
  std::vector<std::string> requests() const {
    const std::lock_guard<std::mutex> lock(m_mutex);
    return m_requests;
  }

private:
  bool wait_readable(int fd) const {
    pollfd entry{fd, POLLIN, 0};
    while (!m_stop) {
      if (::poll(&entry, 1, 20) > 0) {
        return true;
      }
    }
    return false;
  }

  void serve() {
    while (wait_readable(m_listener)) {
      const int client = ::accept4(m_listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) {
        continue;
      }
      std::string request;
      char buffer[4096];
      while (request.find("\r\n\r\n") == std::string::npos && wait_readable(client)) {
        const ssize_t size = ::recv(client, buffer, sizeof buffer, 0);
        if (size <= 0) {
          break;
        }
        request.append(buffer, static_cast<std::size_t>(size));
      }
      {
        const std::lock_guard<std::mutex> lock(m_mutex);
        m_requests.push_back(request.substr(0, request.find("\r\n")));
      }
      std::size_t sent = 0;
      while (sent < m_head.size()) {
        const ssize_t size = ::send(client, m_head.data() + sent, m_head.size() - sent, MSG_NOSIGNAL);
        if (size <= 0) {
          break;
        }
        sent += static_cast<std::size_t>(size);
      }
      if (m_hold_open) {
        m_held.push_back(client);
      } else {
        ::close(client);
      }
    }
  }

  std::string m_head;
  bool m_hold_open;
  int m_listener = -1;
  std::uint16_t m_port = 0;
  std::atomic<bool> m_stop{false};
  mutable std::mutex m_mutex;
  std::vector<std::string> m_requests;
  std::vector<int> m_held;
  std::thread m_thread;
};

TransferResult transfer_through(const std::string& proxy, Kind kind, Millis total = Millis(3000)) {
  TransferRequest request;
  request.kind = kind;
  request.host = "good.test";
  request.address = "127.0.0.1";
  request.port = 9;  // never reached: the proxy answers for it
  request.connect_timeout = total;
  request.total_timeout = total;
  request.user_agent = "test";
  request.carrier.proxy = proxy;
  EventLoop loop;
  CurlMulti multi(loop);
  std::optional<TransferResult> out;
  start_transfer(multi, request, EventLoop::now(), [&](TransferResult result) { out = std::move(result); });
  loop.run();
  REQUIRE(out);
  return std::move(*out);
}

std::string doh_through(const std::string& proxy) {
  EventLoop loop;
  CurlMulti multi(loop);
  DohServer server;
  server.url = "https://127.0.0.1:9/dns-query";  // never reached: the proxy answers for it
  server.path.proxy = proxy;
  DnsSettings settings;
  settings.timeout_ms = 3000;
  settings.tries = 1;
  const BogonTable bogons;
  DohResolver resolver(loop, multi, server, settings, bogons, EventLoop::now());
  std::optional<DnsQuery> answer;
  resolver.query("example.test", k_type_a, false, [&](DnsQuery query) { answer = std::move(query); });
  loop.run();
  REQUIRE(answer);
  return answer->failure ? answer->failure->str() : "none";
}

std::string step_failure(const TransferResult& result) {
  if (result.tls && result.tls->failure) {
    return "tls " + result.tls->failure->str();
  }
  if (result.http && result.http->failure) {
    return "http " + result.http->failure->str();
  }
  return "none";
}

}  // namespace

TEST_CASE("classifier: errno values", "[classify]") {
  struct Row {
    int error;
    std::string expected;
  };
  const std::vector<Row> rows = {
      {ECONNREFUSED, "connection_refused"},
      {ECONNRESET, "connection_reset"},
      {EPIPE, "connection_reset"},
      {ETIMEDOUT, "generic_timeout_error"},
      {EHOSTUNREACH, "host_unreachable"},
      {EHOSTDOWN, "host_unreachable"},
      {ENETUNREACH, "network_unreachable"},
      {ENETDOWN, "network_unreachable"},
      {EACCES, "unknown_failure: Permission denied"},
      {0, "unknown_failure: no error code"},
  };
  for (const Row& row : rows) {
    INFO("errno " << row.error);
    CHECK(full(failure_from_errno(row.error)) == row.expected);
  }
}

TEST_CASE("classifier: every SOCKS5 reply byte", "[classify]") {
  struct Row {
    std::uint8_t reply;
    std::string expected;
  };
  const std::vector<Row> rows = {
      {0x00, "proxy_error: SOCKS5 reply 0x00 is a success, not a failure"},
      {0x01, "proxy_error: SOCKS5 reply 0x01: general failure"},
      {0x02, "proxy_error: SOCKS5 reply 0x02: connection not allowed by ruleset"},
      {0x03, "network_unreachable"},
      {0x04, "host_unreachable"},
      {0x05, "connection_refused"},
      {0x06, "generic_timeout_error"},
      {0x07, "proxy_error: SOCKS5 reply 0x07: command not supported"},
      {0x08, "proxy_error: SOCKS5 reply 0x08: address type not supported"},
      {0x09, "proxy_error: SOCKS5 reply 0x09: unassigned"},
      {0xA7, "proxy_error: SOCKS5 reply 0xa7: unassigned"},
  };
  for (const Row& row : rows) {
    INFO("reply " << static_cast<int>(row.reply));
    const FailureInfo failure = failure_from_socks_reply(row.reply);
    CHECK(full(failure) == row.expected);
    CHECK(is_proxy_failure(failure) == (failure.code == Failure::proxy_error));
  }
}

TEST_CASE("classifier: curl's proxy codes go through the SOCKS5 table", "[classify]") {
  struct Row {
    long code;
    std::string expected;
  };
  const std::vector<Row> rows = {
      {CURLPX_REPLY_GENERAL_SERVER_FAILURE, "proxy_error: SOCKS5 reply 0x01: general failure"},
      {CURLPX_REPLY_NOT_ALLOWED, "proxy_error: SOCKS5 reply 0x02: connection not allowed by ruleset"},
      {CURLPX_REPLY_NETWORK_UNREACHABLE, "network_unreachable"},
      {CURLPX_REPLY_HOST_UNREACHABLE, "host_unreachable"},
      {CURLPX_REPLY_CONNECTION_REFUSED, "connection_refused"},
      {CURLPX_REPLY_TTL_EXPIRED, "generic_timeout_error"},
      {CURLPX_REPLY_COMMAND_NOT_SUPPORTED, "proxy_error: SOCKS5 reply 0x07: command not supported"},
      {CURLPX_REPLY_ADDRESS_TYPE_NOT_SUPPORTED, "proxy_error: SOCKS5 reply 0x08: address type not supported"},
      {CURLPX_REPLY_UNASSIGNED, "proxy_error: SOCKS5 reply 0x09: unassigned"},
      // Not a reply about the destination: the proxy's own trouble.
      {CURLPX_USER_REJECTED, "proxy_error: curl proxy error " + std::to_string(CURLPX_USER_REJECTED)},
      {CURLPX_NO_AUTH, "proxy_error: curl proxy error " + std::to_string(CURLPX_NO_AUTH)},
      {CURLPX_RECV_CONNECT, "proxy_error: curl proxy error " + std::to_string(CURLPX_RECV_CONNECT)},
      {CURLPX_REQUEST_FAILED, "proxy_error: curl proxy error " + std::to_string(CURLPX_REQUEST_FAILED)},
      {CURLPX_CLOSED, "proxy_error: curl proxy error " + std::to_string(CURLPX_CLOSED)},
  };
  for (const Row& row : rows) {
    INFO("CURLproxycode " << row.code);
    CHECK(full(failure_from_curl_proxy_code(row.code)) == row.expected);
  }
}

TEST_CASE("classifier: HTTP CONNECT statuses with and without a reason", "[classify]") {
  struct Row {
    int status;
    std::string reason;
    std::string body;
    std::string expected;
  };
  const std::vector<Row> rows = {
      {401, "Unauthorized", "", "proxy_error: authentication rejected"},
      {403, "Forbidden", "", "proxy_error: proxy refused the destination (403)"},
      {407, "Proxy Authentication Required", "", "proxy_error: proxy requires authentication"},
      {407, "", "", "proxy_error: proxy requires authentication"},
      {500, "", "", "proxy_error: proxy internal error (500)"},
      {500, "Internal Server Error", "", "proxy_error: proxy internal error (500)"},
      {500, "Unable to connect", "", "connection_refused"},  // tinyproxy, for any failed connect
      {502, "", "", "connection_refused"},
      {502, "Bad Gateway", "", "connection_refused"},
      {503, "Service Unavailable", "(111) Connection refused", "connection_refused"},  // squid
      {503, "Service Unavailable", "(113) No route to host", "host_unreachable"},
      {503, "", "", "connection_refused"},
      {504, "Gateway Timeout", "", "generic_timeout_error"},
      {504, "", "", "generic_timeout_error"},
  };
  for (const Row& row : rows) {
    INFO(row.status << " '" << row.reason << "' / '" << row.body << "'");
    CHECK(full(failure_from_connect_status(row.status, row.reason, row.body)) == row.expected);
  }
}

TEST_CASE("classifier: HTTP status lines as curl hands them over", "[classify]") {
  const auto line = parse_status_line("HTTP/1.0 500 Unable to connect\r\n");
  REQUIRE(line);
  CHECK(line->status == 500);
  CHECK(line->reason == "Unable to connect");
  const auto bare = parse_status_line("HTTP/1.1 504\r\n");
  REQUIRE(bare);
  CHECK(bare->status == 504);
  CHECK(bare->reason.empty());
  CHECK_FALSE(parse_status_line("HTTP/2 200 \r\n"));  // curl's line for an HTTP/2 response
  CHECK_FALSE(parse_status_line("HTTP/1.1 2x0 OK\r\n"));
  CHECK_FALSE(parse_status_line("Content-Length: 0\r\n"));
}

TEST_CASE("classifier: curl results", "[classify]") {
  struct Row {
    const char* name;
    CurlFailure outcome;
    std::string expected;
    bool at_proxy;
  };
  const auto curl = [](int code, long os_errno = 0, const char* text = "", long verify = X509_V_OK) {
    CurlFailure out;
    out.code = code;
    out.os_errno = os_errno;
    out.error_text = text;
    out.verify_result = verify;
    return out;
  };
  const auto proxied = [](int code, const char* scheme, long proxy_code, long connect_code,
                          const char* reason = "", long os_errno = 0) {
    CurlFailure out;
    out.code = code;
    out.via_proxy = true;
    out.proxy_scheme = scheme;
    out.proxy_code = proxy_code;
    out.connect_code = connect_code;
    out.connect_reason = reason;
    out.os_errno = os_errno;
    return out;
  };
  const std::vector<Row> rows = {
      {"timeout", curl(CURLE_OPERATION_TIMEDOUT), "generic_timeout_error", false},
      {"got nothing", curl(CURLE_GOT_NOTHING), "eof_error", false},
      {"partial file", curl(CURLE_PARTIAL_FILE), "eof_error", false},
      {"couldn't connect, ECONNRESET", curl(CURLE_COULDNT_CONNECT, ECONNRESET), "connection_reset", false},
      {"couldn't connect, ECONNREFUSED", curl(CURLE_COULDNT_CONNECT, ECONNREFUSED), "connection_refused", false},
      {"couldn't connect, EHOSTUNREACH", curl(CURLE_COULDNT_CONNECT, EHOSTUNREACH), "host_unreachable", false},
      {"recv error, ETIMEDOUT", curl(CURLE_RECV_ERROR, ETIMEDOUT), "generic_timeout_error", false},
      {"SSL connect error, eof text",
       curl(CURLE_SSL_CONNECT_ERROR, 0, "error:0A000126:SSL routines::unexpected eof while reading"), "eof_error",
       false},
      {"SSL connect error, SSL_ERROR_SYSCALL",
       curl(CURLE_SSL_CONNECT_ERROR, 0, "OpenSSL SSL_connect: SSL_ERROR_SYSCALL in connection to x:443"),
       "eof_error", false},
      {"SSL connect error, no text", curl(CURLE_SSL_CONNECT_ERROR), "eof_error", false},
      {"SSL connect error, an alert",
       curl(CURLE_SSL_CONNECT_ERROR, 0, "error:0A000410:SSL routines::sslv3 alert handshake failure"),
       "ssl_failed_handshake", false},
      {"SSL connect error, errno beats the text",
       curl(CURLE_SSL_CONNECT_ERROR, ECONNRESET, "error:0A000410:SSL routines::sslv3 alert handshake failure"),
       "connection_reset", false},
      {"peer failed verification, X509_V_OK", curl(CURLE_PEER_FAILED_VERIFICATION, 0, "", X509_V_OK),
       "ssl_invalid_hostname", false},
      {"peer failed verification, curl's placeholder",
       curl(CURLE_PEER_FAILED_VERIFICATION, 0, "", X509_V_ERR_UNSPECIFIED), "ssl_invalid_hostname", false},
      {"peer failed verification, hostname mismatch",
       curl(CURLE_PEER_FAILED_VERIFICATION, 0, "", X509_V_ERR_HOSTNAME_MISMATCH), "ssl_invalid_hostname", false},
      {"peer failed verification, untrusted issuer",
       curl(CURLE_PEER_FAILED_VERIFICATION, 0, "", X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY),
       "ssl_unknown_authority", false},
      {"peer failed verification, self-signed",
       curl(CURLE_PEER_FAILED_VERIFICATION, 0, "", X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT), "ssl_unknown_authority",
       false},
      {"peer failed verification, expired",
       curl(CURLE_PEER_FAILED_VERIFICATION, 0, "", X509_V_ERR_CERT_HAS_EXPIRED), "ssl_invalid_certificate", false},
      {"recv error with a text that says nothing of a close",
       curl(CURLE_RECV_ERROR, 0, "Too large response headers: 307206 > 307200"),
       "unknown_failure: curl: Failure when receiving data from the peer: Too large response headers: 307206 > "
       "307200",
       false},
      {"something else", curl(CURLE_OUT_OF_MEMORY), "unknown_failure: curl: Out of memory", false},
      // Through a proxy.
      {"SOCKS reply: refused", proxied(CURLE_PROXY, "socks5h", CURLPX_REPLY_CONNECTION_REFUSED, 0),
       "connection_refused", true},
      {"SOCKS reply: general failure", proxied(CURLE_PROXY, "socks5h", CURLPX_REPLY_GENERAL_SERVER_FAILURE, 0),
       "proxy_error: SOCKS5 reply 0x01: general failure", true},
      {"proxy not resolved", proxied(CURLE_COULDNT_RESOLVE_PROXY, "socks5h", 0, 0),
       "proxy_error: curl could not resolve the proxy", true},
      {"CONNECT 500 Unable to connect", proxied(CURLE_RECV_ERROR, "http", 0, 500, "Unable to connect"),
       "connection_refused", true},
      {"CONNECT 500 bare", proxied(CURLE_RECV_ERROR, "http", 0, 500), "proxy_error: proxy internal error (500)",
       true},
      {"CONNECT 503 Service Unavailable", proxied(CURLE_RECV_ERROR, "http", 0, 503, "Service Unavailable"),
       "connection_refused", true},
      {"CONNECT 502 Host Unreachable", proxied(CURLE_COULDNT_CONNECT, "http", 0, 502, "Host Unreachable"),
       "host_unreachable", true},
      {"CONNECT 504", proxied(CURLE_RECV_ERROR, "http", 0, 504, "Gateway Timeout"), "generic_timeout_error", true},
      {"CONNECT 407", proxied(CURLE_RECV_ERROR, "http", 0, 407), "proxy_error: proxy requires authentication",
       true},
      {"dead SOCKS proxy", proxied(CURLE_COULDNT_CONNECT, "socks5h", 0, 0, "", ECONNREFUSED),
       "proxy_error: proxy unreachable or closed before the tunnel was set up", true},
      {"HTTP proxy closed before answering CONNECT", proxied(CURLE_RECV_ERROR, "http", 0, 0, "", ECONNRESET),
       "proxy_error: proxy unreachable or closed before the tunnel was set up", true},
      {"through a CONNECT tunnel, the destination reset", proxied(CURLE_RECV_ERROR, "http", 0, 200, "", ECONNRESET),
       "connection_reset", false},
      {"through SOCKS, the destination reset", proxied(CURLE_RECV_ERROR, "socks5h", 0, 0, "", ECONNRESET),
       "connection_reset", false},
  };
  for (const Row& row : rows) {
    INFO(row.name);
    const CurlFailureClass found = classify_curl_failure(row.outcome);
    CHECK(full(found.failure) == row.expected);
    CHECK(found.at_proxy == row.at_proxy);
  }
}

TEST_CASE("classifier: c-ares statuses", "[classify]") {
  struct Row {
    int status;
    int last_errno;
    std::string expected;
  };
  const std::vector<Row> rows = {
      {ARES_ETIMEOUT, 0, "generic_timeout_error"},
      {ARES_ECANCELLED, 0, "interrupted"},
      {ARES_EDESTRUCTION, 0, "interrupted"},
      {ARES_ECONNREFUSED, ECONNREFUSED, "connection_refused"},
      {ARES_ECONNREFUSED, ENETUNREACH, "network_unreachable"},
      {ARES_ESERVFAIL, EHOSTUNREACH, "host_unreachable"},
      {ARES_ECONNREFUSED, 0, "unknown_failure: c-ares: " + std::string(ares_strerror(ARES_ECONNREFUSED))},
      {ARES_ECONNREFUSED, EACCES,
       "unknown_failure: c-ares: " + std::string(ares_strerror(ARES_ECONNREFUSED)) + " (Permission denied)"},
      {ARES_EBADNAME, 0, "unknown_failure: c-ares: " + std::string(ares_strerror(ARES_EBADNAME))},
      {ARES_ENOMEM, ECONNREFUSED, "unknown_failure: c-ares: " + std::string(ares_strerror(ARES_ENOMEM))},
  };
  for (const Row& row : rows) {
    INFO("status " << row.status << " errno " << row.last_errno);
    CHECK(full(failure_from_ares(row.status, row.last_errno)) == row.expected);
  }
}

TEST_CASE("classifier: one proxy answer reads the same in the tunnel, the TLS and HTTP steps and DoH",
          "[classify]") {
  struct Answer {
    int status;
    std::string reason;
  };
  const std::vector<Answer> answers = {{401, "Unauthorized"},     {403, "Forbidden"},        {407, ""},
                                       {500, ""},                 {500, "Unable to connect"}, {502, "Bad Gateway"},
                                       {503, "No route to host"}, {504, "Gateway Timeout"}};
  for (const Answer& answer : answers) {
    INFO("CONNECT " << answer.status << " " << answer.reason);
    const std::string tunnel = failure_from_connect_status(answer.status, answer.reason, "").str();
    CurlOutcome step;
    step.code = CURLE_RECV_ERROR;
    step.via_proxy = true;
    step.proxy_scheme = "http";
    step.connect_code = answer.status;
    step.connect_reason = answer.reason;
    const Classification classified = classify_transfer(step, Kind::https);
    CHECK(classified.step == FailedStep::tls);
    REQUIRE(classified.failure);
    CHECK(classified.failure->str() == tunnel);
    probe::test::DohFailureSpec connect;
    connect.connect_code = answer.status;
    connect.connect_reason = answer.reason;
    CHECK(classify_doh_failure(probe::test::doh_outcome(CURLE_RECV_ERROR, "http", connect)).str() == tunnel);
  }
  for (long code = CURLPX_OK; code < CURLPX_LAST; ++code) {
    INFO("CURLproxycode " << code);
    const std::string expected = failure_from_curl_proxy_code(code).str();
    CurlOutcome step;
    step.code = CURLE_PROXY;
    step.via_proxy = true;
    step.proxy_scheme = "socks5h";
    step.proxy_code = code;
    const Classification classified = classify_transfer(step, Kind::http);
    CHECK(classified.step == FailedStep::http);
    REQUIRE(classified.failure);
    CHECK(classified.failure->str() == expected);
    probe::test::DohFailureSpec reply;
    reply.proxy_code = code;
    CHECK(classify_doh_failure(probe::test::doh_outcome(CURLE_PROXY, "socks5h", reply)).str() == expected);
  }
}

TEST_CASE("classifier: curl hands over the CONNECT's reason phrase, and its head is not the response",
          "[classify][proxy]") {
  SECTION("tinyproxy's 500 Unable to connect is the destination refusing") {
    ScriptedConnectProxy proxy(
        "HTTP/1.0 500 Unable to connect\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nsorry", false);
    const TransferResult https = transfer_through(proxy.url(), Kind::https);
    CHECK(step_failure(https) == "tls connection_refused");
    CHECK_FALSE(https.http);
    const TransferResult http = transfer_through(proxy.url(), Kind::http);
    CHECK(step_failure(http) == "http connection_refused");
    REQUIRE(http.http);
    CHECK_FALSE(http.http->status);  // the proxy's 500 is no response from the destination
    CHECK(http.http->headers.empty());
    CHECK(doh_through(proxy.url()) == "connection_refused");
    REQUIRE_FALSE(proxy.requests().empty());
    CHECK(proxy.requests().front().rfind("CONNECT ", 0) == 0);
  }
  SECTION("a bare 500 is the proxy's own") {
    ScriptedConnectProxy proxy("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n", false);
    CHECK(step_failure(transfer_through(proxy.url(), Kind::https)) == "tls proxy_error");
    CHECK(doh_through(proxy.url()) == "proxy_error");
  }
  SECTION("a 502 saying why") {
    ScriptedConnectProxy proxy("HTTP/1.1 502 Host Unreachable\r\nContent-Length: 0\r\n\r\n", false);
    CHECK(step_failure(transfer_through(proxy.url(), Kind::tls)) == "tls host_unreachable");
    CHECK(doh_through(proxy.url()) == "host_unreachable");
  }
  SECTION("a tunnel that stands, then silence, is the destination's timeout, not a truncated response") {
    ScriptedConnectProxy proxy("HTTP/1.1 200 Connection established\r\n\r\n", true);
    const TransferResult http = transfer_through(proxy.url(), Kind::http, Millis(800));
    CHECK(step_failure(http) == "http generic_timeout_error");
    REQUIRE(http.http);
    CHECK_FALSE(http.http->status);
    CHECK_FALSE(http.http->body_truncated);
    CHECK(http.http->bytes == 0);  // the proxy's "200 Connection established" is not the response's
  }
  SECTION("a proxy nobody listens on") {
    const std::string url = "http://127.0.0.1:" + std::to_string(probe::test::free_tcp_port());
    CHECK(step_failure(transfer_through(url, Kind::https)) == "tls proxy_error");
    CHECK(doh_through(url) == "proxy_error");
  }
}
