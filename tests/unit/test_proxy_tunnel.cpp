#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "net/event_loop.hpp"
#include "net/proxy_tunnel.hpp"
#include "steps/tcp_connect.hpp"
#include "support/net_fixture.hpp"
#include "support/ports.hpp"
#include "support/proxy_fixture.hpp"
#include "support/server_process.hpp"
#include "support/temp_dir.hpp"
#include "support/skip.hpp"

using namespace probe;
using probe::test::free_tcp_port;
using probe::test::NetFixture;
using probe::test::ProxyFixture;
using probe::test::ServerProcess;
using probe::test::TempDir;

namespace {

constexpr Millis k_timeout(3000);
constexpr Millis k_short_timeout(400);

// What open_tunnel handed over, with the stream closed when the test is done with it.
struct Tunnel {
  int fd = -1;
  std::string failure = "none";
  std::string detail;
  bool proxy_failure = false;
  int calls = 0;
  bool called_inside = false;
  double ms = 0;

  Tunnel() = default;
  Tunnel(const Tunnel&) = delete;
  Tunnel& operator=(const Tunnel&) = delete;
  Tunnel(Tunnel&& other) noexcept { *this = std::move(other); }
  Tunnel& operator=(Tunnel&& other) noexcept {
    std::swap(fd, other.fd);
    failure = std::move(other.failure);
    detail = std::move(other.detail);
    proxy_failure = other.proxy_failure;
    calls = other.calls;
    called_inside = other.called_inside;
    ms = other.ms;
    return *this;
  }
  ~Tunnel() {
    if (fd >= 0) {
      ::close(fd);
    }
  }
};

ProxyEndpoint endpoint(ProxyKind kind, std::uint16_t port, const std::string& user = "",
                       const std::string& password = "") {
  ProxyEndpoint proxy;
  proxy.kind = kind;
  proxy.address = "127.0.0.1";
  proxy.port = port;
  proxy.username = user;
  proxy.password = password;
  return proxy;
}

ProxyEndpoint socks(const ProxyFixture& fixture, const std::string& behaviour) {
  return endpoint(ProxyKind::socks5, fixture.port(behaviour));
}

ProxyEndpoint http(const ProxyFixture& fixture, const std::string& behaviour) {
  return endpoint(ProxyKind::http_connect, fixture.port(behaviour));
}

Tunnel tunnel(const ProxyEndpoint& proxy, const std::string& host, std::uint16_t port, Millis timeout = k_timeout) {
  EventLoop loop;
  Tunnel out;
  bool inside = true;
  const MonoTime started = EventLoop::now();
  open_tunnel(loop, proxy, host, port, timeout, [&](StreamConnection connection) {
    ++out.calls;
    out.called_inside = inside;
    out.ms = ms_between(started, EventLoop::now());
    out.fd = connection.fd;
    if (connection.failure) {
      out.failure = connection.failure->str();
      out.detail = connection.failure->detail;
    }
    out.proxy_failure = connection.proxy_failure;
  });
  inside = false;
  loop.run();
  REQUIRE(out.calls == 1);
  CHECK_FALSE(out.called_inside);
  if (out.failure == "none") {
    CHECK(out.fd >= 0);
  } else {
    CHECK(out.fd == -1);
  }
  return out;
}

// nullopt when healthy, else "failure (detail)".
std::optional<std::string> check(const ProxyEndpoint& proxy, Millis timeout = k_timeout) {
  EventLoop loop;
  int calls = 0;
  bool inside = true;
  std::optional<std::string> out;
  check_proxy(loop, proxy, timeout, [&](std::optional<FailureInfo> failure) {
    ++calls;
    CHECK_FALSE(inside);
    if (failure) {
      out = failure->str() + " (" + failure->detail + ")";
    }
  });
  inside = false;
  loop.run();
  REQUIRE(calls == 1);
  return out;
}

// Blocking I/O on the tunnel's non-blocking stream, for the tests only.
std::string exchange(int fd, const std::string& request, std::size_t enough = 1 << 20) {
  std::string_view left = request;
  while (!left.empty()) {
    pollfd ready{fd, POLLOUT, 0};
    REQUIRE(::poll(&ready, 1, 3000) == 1);
    const auto sent = ::send(fd, left.data(), left.size(), MSG_NOSIGNAL);
    REQUIRE(sent > 0);
    left.remove_prefix(static_cast<std::size_t>(sent));
  }
  std::string response;
  char buffer[4096];
  while (response.size() < enough) {
    pollfd ready{fd, POLLIN, 0};
    if (::poll(&ready, 1, 3000) != 1) {
      break;
    }
    const auto got = ::recv(fd, buffer, sizeof buffer, 0);
    if (got <= 0) {
      break;
    }
    response.append(buffer, static_cast<std::size_t>(got));
  }
  return response;
}

// A GET through the tunnel to NetFixture's `http` port, which answers with its index page.
void check_carries_http(const Tunnel& stream) {
  REQUIRE(stream.failure == "none");
  const std::string response = exchange(stream.fd, "GET / HTTP/1.1\r\nHost: good.test\r\nConnection: close\r\n\r\n");
  CHECK(response.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(response.find("<title>Probe fixture</title>") != std::string::npos);
}

// Sends the probe's log lines, at every level, into a string while it lives.
class LogCapture {
public:
  LogCapture() : m_previous(spdlog::default_logger()) {
    auto logger = std::make_shared<spdlog::logger>("capture", std::make_shared<spdlog::sinks::ostream_sink_st>(m_text));
    logger->set_level(spdlog::level::trace);
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(m_previous); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
  std::string text() const { return m_text.str(); }

private:
  std::shared_ptr<spdlog::logger> m_previous;
  std::ostringstream m_text;
};

}  // namespace

TEST_CASE("SOCKS5 reply codes: the destination's failures and the proxy's own", "[proxy]") {
  struct Row {
    std::uint8_t reply;
    std::string failure;
  };
  const std::vector<Row> rows = {
      {0x01, "proxy_error"},         {0x02, "proxy_error"},           {0x03, "network_unreachable"},
      {0x04, "host_unreachable"},    {0x05, "connection_refused"},    {0x06, "generic_timeout_error"},
      {0x07, "proxy_error"},         {0x08, "proxy_error"},           {0x09, "proxy_error"},
      {0x7F, "proxy_error"},         {0xFF, "proxy_error"},           {0x00, "proxy_error"},
  };
  for (const auto& row : rows) {
    INFO("reply " << static_cast<int>(row.reply));
    const FailureInfo failure = failure_from_socks_reply(row.reply);
    CHECK(failure.str() == row.failure);
    CHECK(is_proxy_failure(failure) == (row.failure == "proxy_error"));
  }
  CHECK(failure_from_socks_reply(0x01).detail == "SOCKS5 reply 0x01: general failure");
  CHECK(failure_from_socks_reply(0x02).detail == "SOCKS5 reply 0x02: connection not allowed by ruleset");
  CHECK(failure_from_socks_reply(0x09).detail == "SOCKS5 reply 0x09: unassigned");
  CHECK(failure_from_socks_reply(0xFF).detail == "SOCKS5 reply 0xff: unassigned");
}

TEST_CASE("CONNECT statuses: the destination's failures and the proxy's own", "[proxy]") {
  const std::string tinyproxy_body =
      "<html>\n<head><title>500 Unable to connect</title></head>\n<body>\n<h1>Unable to connect</h1>\n"
      "<p>Tinyproxy was unable to connect to the remote web server.</p>\n</body>\n</html>\n";
  struct Row {
    int status;
    std::string reason;
    std::string body;
    std::string failure;
    std::string detail;
  };
  const std::vector<Row> rows = {
      {407, "Proxy Authentication Required", "", "proxy_error", "proxy requires authentication"},
      {401, "Unauthorized", "", "proxy_error", "authentication rejected"},
      {403, "Forbidden", "", "proxy_error", "proxy refused the destination (403)"},
      {403, "Access violation", "The CONNECT method not allowed with the port you tried to use.", "proxy_error",
       "proxy refused the destination (403)"},
      {504, "Gateway Timeout", "", "generic_timeout_error", ""},
      {504, "Gateway Timeout", "Connection refused", "generic_timeout_error", ""},
      {502, "Bad Gateway", "", "connection_refused", ""},
      {503, "Service Unavailable", "", "connection_refused", ""},
      {502, "Bad Gateway", "the upstream said no", "connection_refused", ""},
      {502, "Connection refused", "", "connection_refused", ""},
      {503, "Service Unavailable", "(111) Connection refused", "connection_refused", ""},
      {503, "Service Unavailable", "(113) No route to host", "host_unreachable", ""},
      {502, "Host Unreachable", "", "host_unreachable", ""},
      {502, "Bad Gateway", "connect: Network is unreachable", "network_unreachable", ""},
      {503, "Service Unavailable", "(110) Connection timed out", "generic_timeout_error", ""},
      {502, "Timeout", "", "generic_timeout_error", ""},
      {502, "Bad Gateway", "Connection reset by peer", "connection_reset", ""},
      {502, "CONNECTION REFUSED", "timed out", "connection_refused", ""},  // the reason phrase first
      {500, "Unable to connect", tinyproxy_body, "connection_refused", ""},
      {500, "Internal Server Error", tinyproxy_body, "connection_refused", ""},
      {500, "Internal Server Error", "", "proxy_error", "proxy internal error (500)"},
      {400, "Bad Request", "", "proxy_error", "CONNECT answered 400"},
      {405, "Method Not Allowed", "refused", "proxy_error", "CONNECT answered 405"},
      {301, "Moved Permanently", "", "proxy_error", "CONNECT answered 301"},
      {200, "OK", "", "proxy_error", "CONNECT status 200 is a success, not a failure"},
  };
  for (const auto& row : rows) {
    INFO(row.status << " " << row.reason << " / " << row.body);
    const FailureInfo failure = failure_from_connect_status(row.status, row.reason, row.body);
    CHECK(failure.str() == row.failure);
    CHECK(failure.detail == row.detail);
    CHECK(is_proxy_failure(failure) == (row.failure == "proxy_error"));
  }
}

TEST_CASE("a tunnel through SOCKS5 or HTTP CONNECT carries a loopback server's bytes", "[proxy]") {
  ProxyFixture proxies;
  NetFixture servers;
  const std::uint16_t http_port = servers.port("http");
  for (const std::string host : {"127.0.0.1", "::ffff:127.0.0.1", "loopback.test"}) {
    INFO(host);
    check_carries_http(tunnel(socks(proxies, "socks_ok"), host, http_port));
    check_carries_http(tunnel(http(proxies, "http_ok"), host, http_port));
  }
  // A proxy that needs no credentials is not put off by them.
  check_carries_http(
      tunnel(endpoint(ProxyKind::socks5, proxies.port("socks_ok"), "someone", "something"), "127.0.0.1", http_port));
  // The fixtures accept only "u" / "p w:%": a carried request is proof the credentials went out right.
  check_carries_http(tunnel(endpoint(ProxyKind::socks5, proxies.port("socks_auth"), ProxyFixture::k_user,
                                     ProxyFixture::k_password),
                            "127.0.0.1", http_port));
  check_carries_http(tunnel(endpoint(ProxyKind::http_connect, proxies.port("http_auth"), ProxyFixture::k_user,
                                     ProxyFixture::k_password),
                            "127.0.0.1", http_port));
}

namespace {

// The address a proxy's connection to a listener of the test's own came from.
std::string peer_seen_through(const ProxyEndpoint& proxy) {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(listener >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  const bool listening = ::bind(listener, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0 &&
                         ::listen(listener, 4) == 0 &&
                         ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &size) == 0;
  std::string seen = "nothing accepted";
  if (listening) {
    // The kernel completes the proxy's connect on its own; the accept can come after the tunnel.
    const Tunnel stream = tunnel(proxy, "127.0.0.1", ntohs(address.sin_port));
    pollfd ready{listener, POLLIN, 0};
    if (stream.failure == "none" && ::poll(&ready, 1, 3000) == 1) {
      sockaddr_in peer{};
      socklen_t peer_size = sizeof peer;
      const int accepted = ::accept(listener, reinterpret_cast<sockaddr*>(&peer), &peer_size);
      if (accepted >= 0) {
        std::array<char, INET_ADDRSTRLEN> text{};
        seen = ::inet_ntop(AF_INET, &peer.sin_addr, text.data(), text.size()) ? text.data() : "unprintable";
        ::close(accepted);
      }
    }
  }
  ::close(listener);
  REQUIRE(listening);
  return seen;
}

}  // namespace

TEST_CASE("socks_from_2 relays like socks_ok but connects to the destination from 127.0.0.2", "[proxy]") {
  ProxyFixture proxies;
  NetFixture servers;
  CHECK(peer_seen_through(socks(proxies, "socks_from_2")) == "127.0.0.2");
  CHECK(peer_seen_through(socks(proxies, "socks_ok")) == "127.0.0.1");
  check_carries_http(tunnel(socks(proxies, "socks_from_2"), "127.0.0.1", servers.port("http")));

  // net_fixture's /throttled slows 127.0.0.1 only: through socks_from_2 all 256 KiB come at once.
  const Tunnel stream = tunnel(socks(proxies, "socks_from_2"), "127.0.0.1", servers.port("http"));
  REQUIRE(stream.failure == "none");
  const auto started = std::chrono::steady_clock::now();
  const std::string response =
      exchange(stream.fd, "GET /throttled HTTP/1.1\r\nHost: good.test\r\nConnection: close\r\n\r\n");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  INFO("/throttled through socks_from_2: " << response.size() << " bytes in " << seconds << " s");
  CHECK(response.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(response.ends_with("\r\n\r\n" + std::string(256 * 1024, 'z')));
  CHECK(seconds < 1.0);
}

TEST_CASE("the bytes that follow the proxy's reply are left for the receiver", "[proxy]") {
  ProxyFixture proxies;
  // Each sends its success reply and "banner\n" in one write: the client must stop at the reply.
  for (const std::string behaviour : {"socks_banner_v4", "socks_banner_v6", "socks_banner_domain"}) {
    INFO(behaviour);
    const Tunnel stream = tunnel(socks(proxies, behaviour), "127.0.0.1", 80);
    REQUIRE(stream.failure == "none");
    CHECK(exchange(stream.fd, "", 7) == "banner\n");
  }
  const Tunnel stream = tunnel(http(proxies, "http_banner"), "127.0.0.1", 80);
  REQUIRE(stream.failure == "none");
  CHECK(exchange(stream.fd, "", 7) == "banner\n");
}

TEST_CASE("the proxy's own failures are proxy_error, with proxy_failure set", "[proxy]") {
  ProxyFixture proxies;
  NetFixture servers;
  const std::uint16_t dest = servers.port("http");
  struct Row {
    ProxyEndpoint proxy;
    std::string host;
    std::string detail;
  };
  const std::vector<Row> rows = {
      {socks(proxies, "socks_reply_01"), "127.0.0.1", "SOCKS5 reply 0x01: general failure"},
      {socks(proxies, "socks_reply_02"), "127.0.0.1", "SOCKS5 reply 0x02: connection not allowed by ruleset"},
      {socks(proxies, "socks_reply_07"), "127.0.0.1", "SOCKS5 reply 0x07: command not supported"},
      {socks(proxies, "socks_reply_08"), "127.0.0.1", "SOCKS5 reply 0x08: address type not supported"},
      {socks(proxies, "socks_reply_09"), "127.0.0.1", "SOCKS5 reply 0x09: unassigned"},
      {socks(proxies, "socks_no_methods"), "127.0.0.1", "proxy requires authentication"},
      {socks(proxies, "socks_garbage"), "127.0.0.1", "not a SOCKS5 server"},
      {socks(proxies, "socks_close"), "127.0.0.1", "proxy closed the connection during the handshake"},
      {socks(proxies, "socks_auth"), "127.0.0.1", "proxy requires authentication"},
      // The fixture's relay takes only loopback destinations; nothing is sent to this address.
      {socks(proxies, "socks_ok"), "192.0.2.1", "SOCKS5 reply 0x02: connection not allowed by ruleset"},
      {socks(proxies, "closed"), "127.0.0.1", "cannot connect to proxy: connection_refused"},
      {http(proxies, "http_407"), "127.0.0.1", "proxy requires authentication"},
      {http(proxies, "http_auth"), "127.0.0.1", "proxy requires authentication"},
      {http(proxies, "http_403"), "127.0.0.1", "proxy refused the destination (403)"},
      {http(proxies, "http_ok"), "192.0.2.1", "proxy refused the destination (403)"},
      {http(proxies, "http_garbage"), "127.0.0.1", "not an HTTP reply"},
      {http(proxies, "http_huge_head"), "127.0.0.1", "CONNECT reply head over 16 KiB"},
      {http(proxies, "closed"), "127.0.0.1", "cannot connect to proxy: connection_refused"},
  };
  for (const auto& row : rows) {
    INFO(row.detail << " via port " << row.proxy.port);
    const Tunnel result = tunnel(row.proxy, row.host, dest);
    CHECK(result.failure == "proxy_error");
    CHECK(result.detail == row.detail);
    CHECK(result.proxy_failure);
  }
}

TEST_CASE("the destination's failures, as the proxy reports them", "[proxy]") {
  ProxyFixture proxies;
  NetFixture servers;
  const std::uint16_t dest = servers.port("http");
  struct Row {
    ProxyEndpoint proxy;
    std::uint16_t port;
    std::string failure;
  };
  const std::vector<Row> rows = {
      {socks(proxies, "socks_reply_03"), dest, "network_unreachable"},
      {socks(proxies, "socks_reply_04"), dest, "host_unreachable"},
      {socks(proxies, "socks_reply_05"), dest, "connection_refused"},
      {socks(proxies, "socks_reply_06"), dest, "generic_timeout_error"},
      {http(proxies, "http_502"), dest, "connection_refused"},
      {http(proxies, "http_503_no_route"), dest, "host_unreachable"},  // from the body
      {http(proxies, "http_504"), dest, "generic_timeout_error"},
      // Real relays to a port where nothing listens.
      {socks(proxies, "socks_ok"), servers.port("closed"), "connection_refused"},
      {http(proxies, "http_ok"), servers.port("closed"), "connection_refused"},
  };
  for (const auto& row : rows) {
    INFO("proxy port " << row.proxy.port << ", destination port " << row.port);
    const Tunnel result = tunnel(row.proxy, "127.0.0.1", row.port);
    CHECK(result.failure == row.failure);
    CHECK_FALSE(result.proxy_failure);
  }
}

TEST_CASE("timeouts: a proxy that cannot be reached or does not answer is at fault, one still trying is not",
          "[proxy]") {
  ProxyFixture proxies;
  NetFixture servers;
  const std::uint16_t dest = servers.port("http");
  struct Row {
    ProxyEndpoint proxy;
    std::uint16_t port;
    std::string failure;
    std::string detail;
  };
  const std::vector<Row> rows = {
      {socks(proxies, "blackhole"), dest, "proxy_error", "cannot connect to proxy: generic_timeout_error"},
      {http(proxies, "blackhole"), dest, "proxy_error", "cannot connect to proxy: generic_timeout_error"},
      {socks(proxies, "socks_silent"), dest, "proxy_error", "proxy did not complete the handshake in time"},
      {socks(proxies, "socks_silent_connect"), dest, "generic_timeout_error", ""},
      {http(proxies, "http_silent"), dest, "generic_timeout_error", ""},
      // Real relays to a destination that drops the SYN: the proxy is still trying it.
      {socks(proxies, "socks_ok"), proxies.port("blackhole"), "generic_timeout_error", ""},
      {http(proxies, "http_ok"), proxies.port("blackhole"), "generic_timeout_error", ""},
  };
  for (const auto& row : rows) {
    INFO("proxy port " << row.proxy.port << ", destination port " << row.port);
    const Tunnel result = tunnel(row.proxy, "127.0.0.1", row.port, k_short_timeout);
    CHECK(result.failure == row.failure);
    CHECK(result.detail == row.detail);
    CHECK(result.proxy_failure == (row.failure == "proxy_error"));
    CHECK(result.ms >= static_cast<double>(k_short_timeout.count()) - 1);
    CHECK(result.ms < static_cast<double>(k_short_timeout.count()) + 1000);
  }
}

TEST_CASE("credentials are sent, and never written to a failure or a log", "[proxy]") {
  ProxyFixture proxies;
  NetFixture servers;
  LogCapture log;
  const std::string user = "secret-user";
  const std::string password = "secret-password";
  std::vector<std::string> texts;
  for (const std::string behaviour : {"socks_auth", "socks_no_methods", "socks_reply_01", "closed", "blackhole"}) {
    const Tunnel result = tunnel(endpoint(ProxyKind::socks5, proxies.port(behaviour), user, password), "127.0.0.1",
                                 servers.port("http"), k_short_timeout);
    CHECK(result.proxy_failure);
    texts.push_back(result.failure + " " + result.detail);
  }
  for (const std::string behaviour : {"http_auth", "http_407", "http_502", "closed"}) {
    const Tunnel result = tunnel(endpoint(ProxyKind::http_connect, proxies.port(behaviour), user, password),
                                 "127.0.0.1", servers.port("http"), k_short_timeout);
    CHECK(result.failure != "none");
    texts.push_back(result.failure + " " + result.detail);
  }
  CHECK(texts[0] == "proxy_error authentication rejected");
  CHECK(texts[1] == "proxy_error proxy accepts none of the offered authentication methods");
  CHECK(texts[5] == "proxy_error authentication rejected");  // http_auth: 407 although credentials were sent
  CHECK(texts[6] == "proxy_error authentication rejected");
  texts.push_back(log.text());
  CHECK_FALSE(log.text().empty());
  const std::string basic = "c2VjcmV0LXVzZXI6c2VjcmV0LXBhc3N3b3Jk";  // base64("secret-user:secret-password")
  for (const auto& text : texts) {
    INFO(text);
    CHECK(text.find("secret") == std::string::npos);
    CHECK(text.find(basic) == std::string::npos);
  }
}

TEST_CASE("check_proxy: a handshake without a destination", "[proxy]") {
  ProxyFixture proxies;
  const auto with = [&](ProxyKind kind, const std::string& behaviour, const std::string& user = "",
                        const std::string& password = "") {
    return endpoint(kind, proxies.port(behaviour), user, password);
  };
  CHECK(check(with(ProxyKind::socks5, "socks_ok")) == std::nullopt);
  CHECK(check(with(ProxyKind::socks5, "socks_auth", ProxyFixture::k_user, ProxyFixture::k_password)) == std::nullopt);
  // It would never answer a CONNECT: the check asks for none.
  CHECK(check(with(ProxyKind::socks5, "socks_silent_connect"), k_short_timeout) == std::nullopt);
  // HTTP: the TCP connect is all that can be checked without a destination.
  CHECK(check(with(ProxyKind::http_connect, "http_ok")) == std::nullopt);
  CHECK(check(with(ProxyKind::http_connect, "http_silent"), k_short_timeout) == std::nullopt);

  CHECK(check(with(ProxyKind::socks5, "closed")) == "proxy_error (cannot connect to proxy: connection_refused)");
  CHECK(check(with(ProxyKind::http_connect, "closed")) == "proxy_error (cannot connect to proxy: connection_refused)");
  CHECK(check(with(ProxyKind::socks5, "blackhole"), k_short_timeout) ==
        "proxy_error (cannot connect to proxy: generic_timeout_error)");
  CHECK(check(with(ProxyKind::http_connect, "blackhole"), k_short_timeout) ==
        "proxy_error (cannot connect to proxy: generic_timeout_error)");
  CHECK(check(with(ProxyKind::socks5, "socks_auth")) == "proxy_error (proxy requires authentication)");
  CHECK(check(with(ProxyKind::socks5, "socks_auth", "u", "wrong")) == "proxy_error (authentication rejected)");
  CHECK(check(with(ProxyKind::socks5, "socks_garbage")) == "proxy_error (not a SOCKS5 server)");
  CHECK(check(with(ProxyKind::socks5, "socks_no_methods")) == "proxy_error (proxy requires authentication)");
  CHECK(check(with(ProxyKind::socks5, "socks_silent"), k_short_timeout) ==
        "proxy_error (proxy did not complete the handshake in time)");
  CHECK(check(with(ProxyKind::socks5, "http_ok"), k_short_timeout) ==
        "proxy_error (proxy did not complete the handshake in time)");
}

TEST_CASE("a destination that cannot be put in a request fails from the loop, not the proxy", "[proxy]") {
  ProxyFixture proxies;
  const std::vector<std::string> hosts = {"", "bad host", "evil\r\nX-Injected: 1", "a:b", std::string(256, 'a')};
  for (const auto kind : {ProxyKind::socks5, ProxyKind::http_connect}) {
    const auto proxy = endpoint(kind, proxies.port(kind == ProxyKind::socks5 ? "socks_ok" : "http_ok"));
    for (const std::string& host : hosts) {
      if (kind == ProxyKind::http_connect && host.size() == 256) {
        continue;  // CONNECT takes long names; only SOCKS5 has a 255-byte limit
      }
      const Tunnel result = tunnel(proxy, host, 80);
      CHECK(result.failure == "unknown_failure: not an IP address or host name: " + host);
      CHECK_FALSE(result.proxy_failure);
    }
  }
}

TEST_CASE("the TCP step through a proxy path's connector", "[proxy]") {
  ProxyFixture proxies;
  NetFixture servers;
  for (const auto& proxy : {socks(proxies, "socks_ok"), http(proxies, "http_ok")}) {
    EventLoop loop;
    const StreamConnector connector = tunnel_connector(loop, proxy);
    std::vector<std::string> failures;
    for (const std::uint16_t port : {servers.port("http"), servers.port("closed")}) {
      start_tcp_connect(connector, "127.0.0.1", port, k_timeout, EventLoop::now(), [&](TcpObservation tcp) {
        failures.push_back(tcp.failure ? tcp.failure->str() : "none");
      });
    }
    loop.run();
    std::sort(failures.begin(), failures.end());
    CHECK(failures == std::vector<std::string>{"connection_refused", "none"});
  }
}

TEST_CASE("Debian's microsocks: refused, silent and working destinations", "[proxy][real]") {
  const std::filesystem::path binary = "/usr/bin/microsocks";
  if (!std::filesystem::exists(binary)) {
    PROBE_SKIP(binary << " is not installed (apt-get install microsocks)");
  }
  ProxyFixture proxies;
  NetFixture servers;
  TempDir dir;
  const std::uint16_t open_port = free_tcp_port();
  const ServerProcess open_server("microsocks", {binary.string(), "-i", "127.0.0.1", "-p", std::to_string(open_port)},
                                  open_port, dir.path() / "microsocks.log");
  const auto proxy = endpoint(ProxyKind::socks5, open_port);
  CHECK(check(proxy) == std::nullopt);
  check_carries_http(tunnel(proxy, "127.0.0.1", servers.port("http")));
  check_carries_http(tunnel(proxy, "::ffff:127.0.0.1", servers.port("http")));

  const Tunnel refused = tunnel(proxy, "127.0.0.1", servers.port("closed"));
  CHECK(refused.failure == "connection_refused");  // reply 0x05
  CHECK_FALSE(refused.proxy_failure);
  const Tunnel dropped = tunnel(proxy, "127.0.0.1", proxies.port("blackhole"), k_short_timeout);
  CHECK(dropped.failure == "generic_timeout_error");  // microsocks is still in connect()
  CHECK_FALSE(dropped.proxy_failure);

  const std::uint16_t auth_port = free_tcp_port();
  const ServerProcess auth_server("microsocks with credentials",
                                  {binary.string(), "-i", "127.0.0.1", "-p", std::to_string(auth_port), "-u",
                                   ProxyFixture::k_user, "-P", ProxyFixture::k_password},
                                  auth_port, dir.path() / "microsocks-auth.log");
  CHECK(check(endpoint(ProxyKind::socks5, auth_port, ProxyFixture::k_user, ProxyFixture::k_password)) == std::nullopt);
  CHECK(check(endpoint(ProxyKind::socks5, auth_port)) == "proxy_error (proxy requires authentication)");
  CHECK(check(endpoint(ProxyKind::socks5, auth_port, "u", "wrong")) == "proxy_error (authentication rejected)");
  check_carries_http(tunnel(endpoint(ProxyKind::socks5, auth_port, ProxyFixture::k_user, ProxyFixture::k_password),
                            "127.0.0.1", servers.port("http")));
}

TEST_CASE("Debian's tinyproxy: refused, silent and working destinations", "[proxy][real]") {
  const std::filesystem::path binary = "/usr/bin/tinyproxy";
  if (!std::filesystem::exists(binary)) {
    PROBE_SKIP(binary << " is not installed (apt-get install tinyproxy)");
  }
  ProxyFixture proxies;
  NetFixture servers;
  TempDir dir;
  // No ConnectPort line: CONNECT to any port. BasicAuth takes only [-a-z0-9._] in its values.
  const auto start = [&](const std::string& name, std::uint16_t port, const std::string& extra) {
    const auto config = dir.write(name + ".conf", "Port " + std::to_string(port) +
                                                      "\nListen 127.0.0.1\nAllow 127.0.0.1\nTimeout 30\n"
                                                      "MaxClients 20\nLogLevel Info\n" + extra);
    return std::make_unique<ServerProcess>(name, std::vector<std::string>{binary.string(), "-d", "-c", config.string()},
                                           port, dir.path() / (name + ".log"));
  };
  const std::uint16_t open_port = free_tcp_port();
  const auto open_server = start("tinyproxy", open_port, "");
  const auto proxy = endpoint(ProxyKind::http_connect, open_port);
  CHECK(check(proxy) == std::nullopt);
  check_carries_http(tunnel(proxy, "127.0.0.1", servers.port("http")));

  const Tunnel refused = tunnel(proxy, "127.0.0.1", servers.port("closed"));
  CHECK(refused.failure == "connection_refused");  // "HTTP/1.1 500 Unable to connect"
  CHECK_FALSE(refused.proxy_failure);
  const Tunnel dropped = tunnel(proxy, "127.0.0.1", proxies.port("blackhole"), k_short_timeout);
  CHECK(dropped.failure == "generic_timeout_error");  // tinyproxy waits up to its Timeout
  CHECK_FALSE(dropped.proxy_failure);

  const std::uint16_t auth_port = free_tcp_port();
  const auto auth_server = start("tinyproxy-auth", auth_port, "BasicAuth probeuser probe.pass-1\n");
  const auto with_credentials = endpoint(ProxyKind::http_connect, auth_port, "probeuser", "probe.pass-1");
  check_carries_http(tunnel(with_credentials, "127.0.0.1", servers.port("http")));
  const Tunnel missing = tunnel(endpoint(ProxyKind::http_connect, auth_port), "127.0.0.1", servers.port("http"));
  CHECK(missing.failure == "proxy_error");
  CHECK(missing.detail == "proxy requires authentication");  // 407
  const Tunnel wrong =
      tunnel(endpoint(ProxyKind::http_connect, auth_port, "probeuser", "wrong"), "127.0.0.1", servers.port("http"));
  CHECK(wrong.failure == "proxy_error");
  CHECK(wrong.detail == "authentication rejected");  // tinyproxy 1.11 answers 401 here
}
