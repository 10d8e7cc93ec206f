#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "support/net_fixture.hpp"
#include "support/run_command.hpp"
#include "support/temp_dir.hpp"

// The network tests will trust this fixture to stage each failure, so it is checked here against
// independent clients (curl, openssl s_client and a few lines of socket code), never the probe.
// Every connection goes to 127.0.0.1: host names are pinned with --resolve or -connect, proxies
// and ~/.curlrc are ignored, and the one redirect is reported, never followed.

using probe::test::CommandResult;
using probe::test::NetFixture;
using probe::test::run_command;

namespace {

// curl's exit statuses (man curl, EXIT CODES) for the failures the fixture stages.
constexpr int k_curl_couldnt_connect = 7;
constexpr int k_curl_timed_out = 28;
constexpr int k_curl_ssl_connect_error = 35;
constexpr int k_curl_empty_reply = 52;
constexpr int k_curl_send_error = 55;
constexpr int k_curl_recv_error = 56;
constexpr int k_curl_peer_failed_verification = 60;

constexpr std::string_view k_index_title = "<title>Probe fixture</title>";
constexpr auto k_udp_wait = std::chrono::milliseconds(1000);
constexpr auto k_tcp_wait = std::chrono::milliseconds(5000);

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

CommandResult curl(const std::vector<std::string>& args) {
  std::vector<std::string> full = {"curl",       "-q",      "--silent", "--show-error", "--noproxy",
                                   "*",          "--proto", "=http,https", "--max-time", "5"};
  full.insert(full.end(), args.begin(), args.end());
  return run_command(full);
}

// `host` is pinned to 127.0.0.1, so it is what curl sends as SNI and checks the certificate for.
CommandResult curl_https(const NetFixture& fixture, const std::string& behaviour, const std::string& path,
                         std::vector<std::string> options = {}, const std::string& host = "good.test") {
  const auto port = std::to_string(fixture.port(behaviour));
  options.insert(options.end(), {"--cacert", fixture.ca_file(), "--resolve", host + ":" + port + ":127.0.0.1",
                                 "https://" + host + ":" + port + path});
  return curl(options);
}

CommandResult curl_http(const NetFixture& fixture, const std::string& behaviour, const std::string& path,
                        std::vector<std::string> options = {}) {
  options.push_back("http://127.0.0.1:" + std::to_string(fixture.port(behaviour)) + path);
  return curl(options);
}

// stdin is /dev/null, so s_client hangs up right after the handshake.
CommandResult s_client(const NetFixture& fixture, const std::string& behaviour, const std::string& server_name) {
  return run_command({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(fixture.port(behaviour)),
                      "-servername", server_name, "-CAfile", fixture.ca_file(), "-verify_return_error", "-alpn",
                      "http/1.1"});
}

class Socket {
public:
  explicit Socket(int type) : m_fd(::socket(AF_INET, type | SOCK_CLOEXEC, 0)) {
    if (m_fd < 0) {
      throw std::runtime_error("cannot open a socket");
    }
  }
  ~Socket() { ::close(m_fd); }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return m_fd; }

private:
  int m_fd;
};

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

bool readable_within(int fd, std::chrono::milliseconds wait) {
  pollfd ready{fd, POLLIN, 0};
  return ::poll(&ready, 1, static_cast<int>(wait.count())) == 1;
}

// Sends `request` over plain TCP and returns everything until the server closes.
std::string exchange_tcp(std::uint16_t port, const std::string& request) {
  Socket client(SOCK_STREAM);
  const auto server = loopback(port);
  REQUIRE(::connect(client.fd(), reinterpret_cast<const sockaddr*>(&server), sizeof server) == 0);
  REQUIRE(::send(client.fd(), request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size()));
  std::string received;
  std::array<char, 65536> chunk;
  while (readable_within(client.fd(), k_tcp_wait)) {
    const auto size = ::recv(client.fd(), chunk.data(), chunk.size(), 0);
    if (size <= 0) {
      break;
    }
    received.append(chunk.data(), static_cast<std::size_t>(size));
  }
  return received;
}

struct TimedBody {
  std::string head;
  std::string body;
  double seconds = 0;  // from before the connect until the last byte read
};

// GETs `path` over plain TCP from a client socket bound to `source` (an address in 127.0.0.0/8)
// before it connects to 127.0.0.1, and reads until `wanted` body bytes have come, the server
// closes, or 5 s pass without a byte.
TimedBody timed_get(std::uint16_t port, const std::string& path, const std::string& source, std::size_t wanted) {
  Socket client(SOCK_STREAM);
  sockaddr_in local = loopback(0);
  REQUIRE(::inet_pton(AF_INET, source.c_str(), &local.sin_addr) == 1);
  REQUIRE(::bind(client.fd(), reinterpret_cast<const sockaddr*>(&local), sizeof local) == 0);
  const auto started = std::chrono::steady_clock::now();
  const auto server = loopback(port);
  REQUIRE(::connect(client.fd(), reinterpret_cast<const sockaddr*>(&server), sizeof server) == 0);
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: good.test\r\n\r\n";
  REQUIRE(::send(client.fd(), request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size()));
  std::string received;
  std::array<char, 65536> chunk;
  TimedBody out;
  auto head_end = std::string::npos;
  while (readable_within(client.fd(), k_tcp_wait)) {
    const auto size = ::recv(client.fd(), chunk.data(), chunk.size(), 0);
    if (size <= 0) {
      break;
    }
    received.append(chunk.data(), static_cast<std::size_t>(size));
    if (head_end == std::string::npos) {
      head_end = received.find("\r\n\r\n");
    }
    if (head_end != std::string::npos && received.size() - head_end - 4 >= wanted) {
      break;
    }
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (head_end != std::string::npos) {
    out.head = received.substr(0, head_end + 4);
    out.body = received.substr(head_end + 4);
  }
  return out;
}

// Connects with a blocking socket, which on loopback completes before the server even accepts,
// sends `data` and reads: 0 for an orderly close (FIN), else the errno of the failed read.
int connect_then_read(std::uint16_t port, const std::string& data = {}) {
  Socket client(SOCK_STREAM);
  const auto server = loopback(port);
  REQUIRE(::connect(client.fd(), reinterpret_cast<const sockaddr*>(&server), sizeof server) == 0);
  if (!data.empty()) {
    REQUIRE(::send(client.fd(), data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size()));
  }
  REQUIRE(readable_within(client.fd(), k_tcp_wait));
  char byte = 0;
  const auto size = ::recv(client.fd(), &byte, 1, 0);
  REQUIRE(size <= 0);
  return size == 0 ? 0 : errno;
}

using Bytes = std::vector<std::uint8_t>;

constexpr std::uint32_t k_magic_cookie = 0x2112A442;
constexpr std::size_t k_id_offset = 8;
constexpr std::size_t k_id_size = 12;

std::uint16_t read_u16(const Bytes& bytes, std::size_t at) {
  return static_cast<std::uint16_t>((bytes[at] << 8) | bytes[at + 1]);
}

std::uint32_t read_u32(const Bytes& bytes, std::size_t at) {
  return (std::uint32_t{read_u16(bytes, at)} << 16) | read_u16(bytes, at + 2);
}

// RFC 5389 Binding Request without attributes; the transaction ID is 1, 2, ... 12.
Bytes binding_request() {
  Bytes request = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42};
  for (std::uint8_t i = 1; i <= k_id_size; ++i) {
    request.push_back(i);
  }
  return request;
}

Bytes transaction_id(const Bytes& message) {
  return Bytes(message.begin() + k_id_offset, message.begin() + k_id_offset + k_id_size);
}

// A UDP client on 127.0.0.1 whose own port the XOR-MAPPED-ADDRESS should name.
class StunClient {
public:
  StunClient() : m_socket(SOCK_DGRAM) {
    const auto local = loopback(0);
    REQUIRE(::bind(m_socket.fd(), reinterpret_cast<const sockaddr*>(&local), sizeof local) == 0);
    sockaddr_in bound{};
    socklen_t size = sizeof bound;
    REQUIRE(::getsockname(m_socket.fd(), reinterpret_cast<sockaddr*>(&bound), &size) == 0);
    m_port = ntohs(bound.sin_port);
  }

  void send(std::uint16_t port, const Bytes& datagram) const {
    const auto server = loopback(port);
    REQUIRE(::sendto(m_socket.fd(), datagram.data(), datagram.size(), 0, reinterpret_cast<const sockaddr*>(&server),
                     sizeof server) == static_cast<ssize_t>(datagram.size()));
  }

  std::optional<Bytes> receive() const {
    if (!readable_within(m_socket.fd(), k_udp_wait)) {
      return std::nullopt;
    }
    Bytes datagram(2048);
    const auto size = ::recv(m_socket.fd(), datagram.data(), datagram.size(), 0);
    REQUIRE(size >= 0);
    datagram.resize(static_cast<std::size_t>(size));
    return datagram;
  }

  std::uint16_t port() const { return m_port; }

private:
  Socket m_socket;
  std::uint16_t m_port = 0;
};

// Checks everything but the transaction ID of a Binding Success Response to `client`.
void check_binding_success(const Bytes& reply, const StunClient& client) {
  REQUIRE(reply.size() == 32);
  CHECK(read_u16(reply, 0) == 0x0101);
  CHECK(read_u16(reply, 2) == 12);
  CHECK(read_u32(reply, 4) == k_magic_cookie);
  CHECK(read_u16(reply, 20) == 0x0020);  // XOR-MAPPED-ADDRESS
  CHECK(read_u16(reply, 22) == 8);
  CHECK(reply[25] == 0x01);  // IPv4
  CHECK((read_u16(reply, 26) ^ (k_magic_cookie >> 16)) == client.port());
  CHECK((read_u32(reply, 28) ^ k_magic_cookie) == INADDR_LOOPBACK);
}

}  // namespace

TEST_CASE("net fixture reports a port for every behaviour and writes its CA", "[fixture]") {
  NetFixture fixture;
  const std::vector<std::string> tcp = {"closed",     "reset_on_accept", "reset_after_hello", "close_after_hello",
                                        "silent",     "https",           "http",              "wrong_name",
                                        "expired",    "untrusted",       "sni_reset",         "doh"};
  std::set<std::uint16_t> ports;
  for (const auto& name : tcp) {
    ports.insert(fixture.port(name));
  }
  CHECK(ports.size() == tcp.size());
  CHECK(fixture.port("stun") != 0);
  CHECK(fixture.port("stun_wrong_id") != 0);
  CHECK(fixture.port("stun_silent") != 0);
  CHECK(fixture.port("stun_mapped") != 0);
  CHECK_THROWS(fixture.port("no_such_behaviour"));

  const auto subject = run_command({"openssl", "x509", "-in", fixture.ca_file(), "-noout", "-subject"});
  CHECK(subject.exit_code == 0);
  CHECK(contains(subject.out, "CN = Probe Test CA"));
  const auto untrusted = std::filesystem::path(fixture.ca_file()).parent_path() / "untrusted.pem";
  CHECK(contains(probe::test::read_file(untrusted), "BEGIN CERTIFICATE"));
}

TEST_CASE("net fixture serves HTTPS for every name in the good certificate", "[fixture]") {
  NetFixture fixture;
  auto result = curl_https(fixture, "https", "/", {"--write-out", "\n%{http_code} %{http_version}"});
  CHECK(result.exit_code == 0);
  CHECK(contains(result.out, k_index_title));
  // curl offers h2 as well; the fixture must settle on HTTP/1.1.
  CHECK(contains(result.out, "\n200 1.1"));

  for (const std::string host : {"www.good.test", "localhost"}) {
    result = curl_https(fixture, "https", "/", {}, host);
    CHECK(result.exit_code == 0);
    CHECK(contains(result.out, k_index_title));
  }
  const auto port = std::to_string(fixture.port("https"));
  result = curl({"--cacert", fixture.ca_file(), "https://127.0.0.1:" + port + "/"});
  CHECK(result.exit_code == 0);
  CHECK(contains(result.out, k_index_title));

  result = s_client(fixture, "https", "good.test");
  CHECK(result.exit_code == 0);
  CHECK(contains(result.out, "ALPN protocol: http/1.1"));
  CHECK(contains(result.out, "Verify return code: 0 (ok)"));
}

TEST_CASE("net fixture presents certificates that fail verification", "[fixture]") {
  NetFixture fixture;
  auto result = curl_https(fixture, "wrong_name", "/");
  CHECK(result.exit_code == k_curl_peer_failed_verification);
  CHECK(contains(result.err, "no alternative certificate subject name matches target host name 'good.test'"));

  result = curl_https(fixture, "expired", "/");
  CHECK(result.exit_code == k_curl_peer_failed_verification);
  CHECK(contains(result.err, "certificate has expired"));

  result = curl_https(fixture, "untrusted", "/");
  CHECK(result.exit_code == k_curl_peer_failed_verification);
  CHECK(contains(result.err, "self-signed certificate"));

  // Past the certificate each one is the ordinary HTTP server.
  for (const std::string behaviour : {"wrong_name", "expired", "untrusted"}) {
    result = curl_https(fixture, behaviour, "/", {"--insecure"});
    CHECK(result.exit_code == 0);
    CHECK(contains(result.out, k_index_title));
  }
}

TEST_CASE("net fixture refuses, resets, closes and stalls connections", "[fixture]") {
  NetFixture fixture;
  auto result = curl_http(fixture, "closed", "/");
  CHECK(result.exit_code == k_curl_couldnt_connect);
  CHECK(contains(result.err, "Couldn't connect to server"));

  // On loopback the RST can beat curl's own check that its non-blocking connect finished, so curl
  // reports any of these; the socket below shows what the fixture does.
  result = curl_https(fixture, "reset_on_accept", "/");
  CHECK_THAT(result.exit_code, Catch::Matchers::Predicate<int>([](int code) {
               return code == k_curl_couldnt_connect || code == k_curl_ssl_connect_error;
             }));
  result = curl_http(fixture, "reset_on_accept", "/");
  CHECK_THAT(result.exit_code, Catch::Matchers::Predicate<int>([](int code) {
               return code == k_curl_couldnt_connect || code == k_curl_send_error || code == k_curl_recv_error;
             }));
  CHECK(connect_then_read(fixture.port("reset_on_accept")) == ECONNRESET);
  // A one-byte TLS record is a whole "ClientHello" as far as the fixture's framing goes.
  const std::string tiny_record("\x16\x03\x01\x00\x01\x01", 6);
  CHECK(connect_then_read(fixture.port("close_after_hello"), tiny_record) == 0);
  CHECK(connect_then_read(fixture.port("reset_after_hello"), tiny_record) == ECONNRESET);

  result = curl_https(fixture, "reset_after_hello", "/");
  CHECK(result.exit_code == k_curl_ssl_connect_error);
  CHECK(contains(result.err, "Connection reset by peer"));

  // A FIN in the middle of the handshake: OpenSSL calls it SSL_ERROR_SYSCALL, not a reset.
  result = curl_https(fixture, "close_after_hello", "/");
  CHECK(result.exit_code == k_curl_ssl_connect_error);
  CHECK(!contains(result.err, "reset"));
  result = curl_http(fixture, "close_after_hello", "/");
  CHECK(result.exit_code == k_curl_empty_reply);

  result = curl_https(fixture, "silent", "/", {"--max-time", "0.5"});
  CHECK(result.exit_code == k_curl_timed_out);
}

TEST_CASE("net fixture resets a ClientHello that names blocked.test", "[fixture]") {
  NetFixture fixture;
  auto result = s_client(fixture, "sni_reset", "blocked.test");
  CHECK(result.exit_code != 0);
  CHECK(!contains(result.out, "BEGIN CERTIFICATE"));
  CHECK(contains(result.out + result.err, "errno=104"));  // ECONNRESET

  result = s_client(fixture, "sni_reset", "good.test");
  CHECK(result.exit_code == 0);
  CHECK(contains(result.out, "Verify return code: 0 (ok)"));

  result = curl_https(fixture, "sni_reset", "/", {}, "blocked.test");
  CHECK(result.exit_code == k_curl_ssl_connect_error);
  CHECK(contains(result.err, "Connection reset by peer"));
  result = curl_https(fixture, "sni_reset", "/");
  CHECK(result.exit_code == 0);
  CHECK(contains(result.out, k_index_title));
}

TEST_CASE("net fixture routes HTTP requests by path", "[fixture]") {
  NetFixture fixture;
  auto result = curl_http(fixture, "http", "/", {"--include"});
  CHECK(result.exit_code == 0);
  CHECK(result.out.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(contains(result.out, "Connection: close\r\n"));
  CHECK(contains(result.out, "Content-Type: text/html\r\n"));
  CHECK(contains(result.out, "Content-Length: 69\r\n"));
  CHECK(contains(result.out, k_index_title));

  // %{redirect_url} is where curl would go; without --location it goes nowhere.
  result = curl_https(fixture, "https", "/redirect", {"--write-out", "%{http_code} %{redirect_url}"});
  CHECK(result.exit_code == 0);
  CHECK(result.out == "301 https://elsewhere.test/landing");

  const std::vector<std::pair<std::string, std::string>> statuses = {
      {"/status/418", "418"}, {"/status/503", "503"}, {"/status/204", "204"}, {"/status/100", "404"},
      {"/status/600", "404"}, {"/status/2x0", "404"}, {"/nowhere", "404"},
  };
  for (const auto& [path, status] : statuses) {
    result = curl_http(fixture, "http", path, {"--output", "/dev/null", "--write-out", "%{http_code}"});
    CHECK(result.exit_code == 0);
    CHECK(result.out == status);
  }

  result = curl_http(fixture, "http", "/bad-utf8", {"--include"});
  CHECK(result.exit_code == 0);
  CHECK(contains(result.out, "\r\nX-Bad: \xff\xfe\xc3\x28\r\n"));
  CHECK(contains(result.out, "<title>Bad \xff\xfe title</title>"));

  result = curl_http(fixture, "http", "/mapped-echo", {"--include"});
  CHECK(result.exit_code == 0);
  CHECK(contains(result.out, "\r\nX-Client-Address: 203.0.113.77\r\n"));
  CHECK(contains(result.out, "<title>Your address is 203.0.113.77</title>"));

  result = curl_http(fixture, "http", "/endless", {"--head"});
  CHECK(result.exit_code == 0);
  CHECK(result.out.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(!contains(result.out, "Content-Length"));
}

TEST_CASE("net fixture sends bodies that are huge, endless or slow", "[fixture]") {
  NetFixture fixture;
  auto result = curl_https(fixture, "https", "/big", {"--output", "/dev/null", "--write-out", "%{size_download}"});
  CHECK(result.exit_code == 0);
  CHECK(result.out == "10485760");

  result = curl_https(fixture, "https", "/endless",
                      {"--max-time", "0.3", "--output", "/dev/null", "--write-out", "%{size_download}"});
  CHECK(result.exit_code == k_curl_timed_out);
  CHECK(std::stoull(result.out) > 65536);

  // At one byte per 100 ms, 650 ms see about six of the fifty.
  result = curl_http(fixture, "http", "/drip",
                     {"--max-time", "0.65", "--output", "/dev/null", "--write-out", "%{size_download}"});
  CHECK(result.exit_code == k_curl_timed_out);
  CHECK(std::stoull(result.out) > 0);
  CHECK(std::stoull(result.out) < 50);
  CHECK(contains(result.err, "out of 50 bytes received"));

  // curl gives up on these (over 300 KiB of headers), so they are counted off the wire.
  const auto response = exchange_tcp(fixture.port("http"), "GET /many-headers HTTP/1.1\r\nHost: good.test\r\n\r\n");
  CHECK(response.starts_with("HTTP/1.1 200 OK\r\n"));
  std::size_t fillers = 0;
  for (auto at = response.find("\r\nX-Filler-"); at != std::string::npos; at = response.find("\r\nX-Filler-", at + 1)) {
    ++fillers;
  }
  CHECK(fillers == 100000);
  CHECK(contains(response, "\r\nX-Filler-100000: value-100000\r\n"));
  CHECK(response.ends_with("Content-Length: 0\r\n\r\n"));
}

TEST_CASE("net fixture throttles /throttled for a client from 127.0.0.1 only", "[fixture]") {
  NetFixture fixture;
  constexpr std::size_t k_size = 256 * 1024;
  constexpr std::size_t k_quarter = 64 * 1024;
  // 32 KiB/s from 127.0.0.1: the first 64 KiB take about 2 s.
  const auto slow = timed_get(fixture.port("http"), "/throttled", "127.0.0.1", k_quarter);
  INFO("from 127.0.0.1: " << slow.body.size() << " bytes in " << slow.seconds << " s");
  CHECK(slow.head.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(contains(slow.head, "\r\nContent-Length: 262144\r\n"));
  REQUIRE(slow.body.size() >= k_quarter);
  CHECK(slow.body.size() < k_size);
  CHECK(slow.body.find_first_not_of('z') == std::string::npos);  // plain filler, no page or title
  CHECK(slow.seconds >= 1.0);

  // Any other address gets it all at once, up to the server's close.
  const auto fast = timed_get(fixture.port("http"), "/throttled", "127.0.0.2", k_size + 1);
  INFO("from 127.0.0.2: " << fast.body.size() << " bytes in " << fast.seconds << " s");
  CHECK(contains(fast.head, "\r\nContent-Length: 262144\r\n"));
  CHECK(fast.body == std::string(k_size, 'z'));
  CHECK(fast.seconds < 1.0);

  // The same over TLS: curl's --interface picks its source address.
  auto result = curl_https(fixture, "https", "/throttled",
                           {"--interface", "127.0.0.2", "--output", "/dev/null", "--write-out", "%{size_download}"});
  CHECK(result.exit_code == 0);
  CHECK(result.out == "262144");
  result = curl_https(fixture, "https", "/throttled",
                      {"--max-time", "0.5", "--output", "/dev/null", "--write-out", "%{size_download}"});
  CHECK(result.exit_code == k_curl_timed_out);
  CHECK(std::stoull(result.out) < k_quarter);
}

TEST_CASE("net fixture answers, garbles and ignores STUN binding requests", "[fixture]") {
  NetFixture fixture;
  const auto request = binding_request();
  StunClient client;

  // Junk first: UDP on loopback keeps order, so a reply to it would arrive before the real one.
  client.send(fixture.port("stun"), {0x00, 0x01, 0x00, 0x00, 0xde, 0xad});
  client.send(fixture.port("stun"), request);
  auto reply = client.receive();
  REQUIRE(reply);
  check_binding_success(*reply, client);
  CHECK(transaction_id(*reply) == transaction_id(request));

  client.send(fixture.port("stun_wrong_id"), request);
  reply = client.receive();
  REQUIRE(reply);
  check_binding_success(*reply, client);
  auto garbled = transaction_id(request);
  garbled[0] = static_cast<std::uint8_t>(~garbled[0]);
  CHECK(transaction_id(*reply) == garbled);

  client.send(fixture.port("stun_silent"), request);
  CHECK(!client.receive());

  // stun_mapped: a success whose XOR-MAPPED-ADDRESS (the one attribute, at byte 20: type, length,
  // a zero, family, port, address) is 203.0.113.77, whoever asked.
  client.send(fixture.port("stun_mapped"), request);
  reply = client.receive();
  REQUIRE(reply);
  REQUIRE(reply->size() == 32);
  CHECK(transaction_id(*reply) == transaction_id(request));
  const std::uint8_t cookie[4] = {0x21, 0x12, 0xA4, 0x42};
  const std::vector<int> address = {(*reply)[28] ^ cookie[0], (*reply)[29] ^ cookie[1], (*reply)[30] ^ cookie[2],
                                    (*reply)[31] ^ cookie[3]};
  CHECK(address == std::vector<int>{203, 0, 113, 77});
}

namespace {

// A DNS query written out by hand (RFC 1035 section 4.1): header with the given ID and RD, one
// question for `first_label`.test.
std::string dns_query(std::uint16_t id, const std::string& first_label, std::uint16_t type) {
  std::string query;
  query += static_cast<char>(id >> 8);
  query += static_cast<char>(id & 0xFF);
  query += std::string("\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", 10);
  query += static_cast<char>(first_label.size());
  query += first_label;
  query += std::string("\x04test\x00", 6);
  query += static_cast<char>(type >> 8);
  query += static_cast<char>(type & 0xFF);
  query += std::string("\x00\x01", 2);
  return query;
}

struct DohExchange {
  int exit_code = -1;
  std::string status_and_type;  // "200 application/dns-message"
  std::string body;
};

// One RFC 8484 POST with curl, the body from a file; `headers` replace the DoH ones when given.
DohExchange post_doh(const NetFixture& fixture, const std::string& query, const std::string& path = "/dns-query",
                     std::vector<std::string> headers = {"Content-Type: application/dns-message",
                                                         "Accept: application/dns-message"},
                     const std::string& max_time = "5") {
  const probe::test::TempDir dir;
  const auto body_file = dir.write("query.bin", query);
  const auto reply_file = dir.path() / "reply.bin";
  std::vector<std::string> options = {"--data-binary", "@" + body_file.string(), "--output", reply_file.string(),
                                      "--write-out", "%{http_code} %{content_type}", "--max-time", max_time};
  for (const auto& header : headers) {
    options.insert(options.end(), {"--header", header});
  }
  const auto result = curl_https(fixture, "doh", path, options);
  DohExchange exchange;
  exchange.exit_code = result.exit_code;
  exchange.status_and_type = result.out;
  if (std::filesystem::exists(reply_file)) {
    exchange.body = probe::test::read_file(reply_file);
  }
  return exchange;
}

std::uint8_t byte_at(const std::string& text, std::size_t at) { return static_cast<std::uint8_t>(text.at(at)); }

}  // namespace

TEST_CASE("net fixture answers DNS over HTTPS", "[fixture]") {
  NetFixture fixture;
  auto exchange = post_doh(fixture, dns_query(0, "plain", 1));
  CHECK(exchange.exit_code == 0);
  CHECK(exchange.status_and_type == "200 application/dns-message");
  const std::string& a = exchange.body;
  REQUIRE(a.size() == 12 + 16 + 16);
  CHECK(a.substr(0, 2) == std::string("\x00\x00", 2));  // ID 0, as asked
  CHECK(byte_at(a, 2) == 0x81);                             // QR, RD
  CHECK((byte_at(a, 3) & 0x0F) == 0);                       // NOERROR
  CHECK(byte_at(a, 7) == 1);                                // one answer
  CHECK(a.substr(12, 16) == dns_query(0, "plain", 1).substr(12));
  CHECK(a.substr(a.size() - 6) == std::string("\x00\x04\xc0\x00\x02\x50", 6));  // 192.0.2.80

  exchange = post_doh(fixture, dns_query(0, "plain", 28));
  CHECK(exchange.body.substr(exchange.body.size() - 4) == std::string("\x00\x00\x00\x80", 4));  // 2001:db8::80

  exchange = post_doh(fixture, dns_query(0, "NXDomain-x", 1));
  CHECK(exchange.status_and_type == "200 application/dns-message");
  CHECK((byte_at(exchange.body, 3) & 0x0F) == 3);
  CHECK(byte_at(exchange.body, 7) == 0);

  CHECK(post_doh(fixture, dns_query(0, "http500", 1)).status_and_type.rfind("500 ", 0) == 0);
  CHECK(post_doh(fixture, dns_query(0, "badtype", 1)).status_and_type == "200 text/plain");
  exchange = post_doh(fixture, dns_query(0, "mismatch", 1));
  CHECK(exchange.body.substr(12, 9) == std::string("\x08xismatch", 9));
  exchange = post_doh(fixture, dns_query(0, "oversize", 1));
  CHECK(exchange.body == std::string(70000, '\0'));
  exchange = post_doh(fixture, dns_query(0, "silent", 1), "/dns-query",
                      {"Content-Type: application/dns-message", "Accept: application/dns-message"}, "1");
  // Held open without a response until curl gives up.
  CHECK(exchange.exit_code == k_curl_timed_out);
}

TEST_CASE("net fixture holds DoH clients to RFC 8484", "[fixture]") {
  NetFixture fixture;
  const std::string query = dns_query(0, "plain", 1);
  CHECK(post_doh(fixture, dns_query(0x1234, "plain", 1)).status_and_type.rfind("400 ", 0) == 0);
  CHECK(post_doh(fixture, query, "/other").status_and_type.rfind("404 ", 0) == 0);
  CHECK(post_doh(fixture, query, "/dns-query", {"Accept: application/dns-message"})
            .status_and_type.rfind("415 ", 0) == 0);
  CHECK(post_doh(fixture, query, "/dns-query", {"Content-Type: application/dns-message"})
            .status_and_type.rfind("406 ", 0) == 0);
  const auto get = curl_https(fixture, "doh", "/dns-query", {"--write-out", "%{http_code}", "--output", "/dev/null"});
  CHECK(get.out == "405");
}
