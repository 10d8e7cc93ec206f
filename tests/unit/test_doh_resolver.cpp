#include <catch2/catch.hpp>

#include <curl/curl.h>
#include <fcntl.h>
#include <openssl/x509_vfy.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>

#include "core/digest.hpp"
#include "dns/dns_message.hpp"
#include "dns/doh_resolver.hpp"
#include "net/curl_multi.hpp"
#include "net/curl_path.hpp"
#include "support/curl_outcomes.hpp"
#include "support/net_fixture.hpp"
#include "support/temp_dir.hpp"
#include "support/skip.hpp"

using namespace probe;
using probe::test::count_entries;
using probe::test::NetFixture;

namespace {

constexpr const char* k_microsocks = "/usr/bin/microsocks";
constexpr const char* k_secret_user = "probe-user-4f1c";
constexpr const char* k_secret_password = "probe-pass-9e27";

BogonTable lab_bogons() {
  std::string problem;
  return BogonTable({*parse_cidr("192.0.2.0/24", &problem), *parse_cidr("2001:db8::/32", &problem)});
}

DnsSettings settings_with(int timeout_ms, int tries = 1) {
  DnsSettings settings;
  settings.timeout_ms = timeout_ms;
  settings.tries = tries;
  return settings;
}

std::string failure_of(const DnsQuery& query) { return query.failure ? query.failure->str() : "none"; }

std::vector<std::string> values_of(const DnsQuery& query, const std::string& type) {
  std::vector<std::string> out;
  for (const auto& answer : query.answers) {
    if (answer.type == type) {
      out.push_back(answer.value);
    }
  }
  return out;
}

// Every text an observation holds, to look for what must never be in it.
std::string everything_in(const DnsQuery& query) {
  std::string out = query.resolver + "|" + query.type + "|" + query.rcode.value_or("") + "|" + failure_of(query) +
                    "|" + query.raw_base64;
  for (const auto& answer : query.answers) {
    out += "|" + answer.type + "|" + answer.value;
  }
  for (const auto& name : query.cname_chain) {
    out += "|" + name;
  }
  return out;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The fixture's DoH port, reached by the name its certificate carries, pinned to 127.0.0.1.
DohServer fixture_doh(const NetFixture& fixture, const std::string& behaviour = "doh",
                      const std::string& host = "good.test") {
  DohServer server;
  server.url = "https://" + host + ":" + std::to_string(fixture.port(behaviour)) + "/dns-query";
  server.address = "127.0.0.1";
  server.ca_bundle = fixture.ca_file();
  return server;
}

struct Question {
  std::string name;
  std::uint16_t type = k_type_a;
};

// Asks every question at once and runs the loop until all are answered. `all_done` runs once the
// last answer is in (e.g. to stop a test proxy, which would keep the loop busy).
std::vector<DnsQuery> ask_all(EventLoop& loop, const DohServer& server, const std::vector<Question>& questions,
                              const DnsSettings& settings, const std::function<void()>& all_done = nullptr) {
  CurlMulti multi(loop);
  const BogonTable bogons = lab_bogons();
  DohResolver resolver(loop, multi, server, settings, bogons, EventLoop::now());
  std::vector<std::optional<DnsQuery>> answers(questions.size());
  std::size_t left = questions.size();
  for (std::size_t i = 0; i < questions.size(); ++i) {
    resolver.query(questions[i].name, questions[i].type, false, [&, i](DnsQuery query) {
      REQUIRE_FALSE(answers[i]);  // exactly once
      answers[i] = std::move(query);
      if (--left == 0 && all_done) {
        all_done();
      }
    });
  }
  loop.run();
  std::vector<DnsQuery> out;
  for (auto& answer : answers) {
    REQUIRE(answer);
    out.push_back(std::move(*answer));
  }
  return out;
}

DnsQuery ask(const DohServer& server, const std::string& name, std::uint16_t type = k_type_a,
             const DnsSettings& settings = settings_with(3000)) {
  EventLoop loop;
  return ask_all(loop, server, {{name, type}}, settings).at(0);
}

std::uint16_t free_tcp_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  const bool bound = fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                     ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  if (fd >= 0) {
    ::close(fd);
  }
  if (!bound) {
    throw std::runtime_error("cannot bind a TCP socket on 127.0.0.1");
  }
  return ntohs(address.sin_port);
}

bool accepts_connections(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool connected = fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  if (fd >= 0) {
    ::close(fd);
  }
  return connected;
}

// microsocks on a free loopback port for as long as the object lives.
class MicroSocks {
public:
  static bool available() { return ::access(k_microsocks, X_OK) == 0; }

  explicit MicroSocks(const std::vector<std::string>& extra = {}) : m_port(free_tcp_port()) {
    std::vector<std::string> args = {k_microsocks, "-i", "127.0.0.1", "-p", std::to_string(m_port)};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& arg : args) {
      argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    const pid_t parent = ::getpid();
    m_pid = ::fork();
    if (m_pid < 0) {
      throw std::runtime_error("fork for microsocks failed");
    }
    if (m_pid == 0) {
      // Only async-signal-safe calls between fork and exec.
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      const int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
      if (::getppid() != parent || null_fd < 0 || ::dup2(null_fd, STDIN_FILENO) < 0 ||
          ::dup2(null_fd, STDOUT_FILENO) < 0 || ::dup2(null_fd, STDERR_FILENO) < 0) {
        ::_exit(127);
      }
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    for (int i = 0; i < 250 && !accepts_connections(m_port); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!accepts_connections(m_port)) {
      stop();
      throw std::runtime_error("microsocks did not listen on port " + std::to_string(m_port));
    }
  }
  ~MicroSocks() { stop(); }
  MicroSocks(const MicroSocks&) = delete;
  MicroSocks& operator=(const MicroSocks&) = delete;

  std::uint16_t port() const { return m_port; }

private:
  void stop() {
    if (m_pid > 0) {
      ::kill(m_pid, SIGTERM);
      int status = 0;
      while (::waitpid(m_pid, &status, 0) < 0 && errno == EINTR) {
      }
      m_pid = -1;
    }
  }

  std::uint16_t m_port;
  pid_t m_pid = -1;
};

// An HTTP proxy on the test's own loop: it records each request head and answers CONNECT with
// `status`; with 200 it then relays bytes to the destination named in the request.
class TestHttpProxy {
public:
  TestHttpProxy(EventLoop& loop, int status) : m_loop(loop), m_status(status) {
    m_listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
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
    m_loop.watch(m_listener, EventLoop::k_readable, [this](int, std::uint32_t) { on_accept(); });
  }
  ~TestHttpProxy() { stop(); }
  TestHttpProxy(const TestHttpProxy&) = delete;
  TestHttpProxy& operator=(const TestHttpProxy&) = delete;

  std::uint16_t port() const { return m_port; }
  const std::vector<std::string>& heads() const { return m_heads; }

  // Closes everything, so that the loop has nothing left to wait for.
  void stop() {
    for (const int fd : m_open) {
      m_loop.unwatch(fd);
      ::close(fd);
    }
    m_open.clear();
    if (m_listener >= 0) {
      m_loop.unwatch(m_listener);
      ::close(m_listener);
      m_listener = -1;
    }
  }

private:
  void on_accept() {
    const int client = ::accept4(m_listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (client < 0) {
      return;
    }
    m_open.push_back(client);
    auto head = std::make_shared<std::string>();
    m_loop.watch(client, EventLoop::k_readable, [this, client, head](int, std::uint32_t) {
      char buffer[4096];
      const ssize_t size = ::recv(client, buffer, sizeof buffer, 0);
      if (size <= 0) {
        drop(client);
        return;
      }
      head->append(buffer, static_cast<std::size_t>(size));
      const auto end = head->find("\r\n\r\n");
      if (end != std::string::npos) {
        on_request(client, head->substr(0, end));
      }
    });
  }

  void on_request(int client, const std::string& head) {
    m_heads.push_back(head);
    if (m_status != 200) {
      send_all(client, "HTTP/1.1 " + std::to_string(m_status) + " No\r\nContent-Length: 0\r\n\r\n");
      drop(client);
      return;
    }
    // "CONNECT 127.0.0.1:PORT HTTP/1.1": loopback destinations only.
    const auto colon = head.find(':');
    const auto space = head.find(' ', colon);
    const int port = std::stoi(head.substr(colon + 1, space - colon - 1));
    const int upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (head.rfind("CONNECT 127.0.0.1:", 0) != 0 ||
        ::connect(upstream, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      ::close(upstream);
      send_all(client, "HTTP/1.1 502 No\r\nContent-Length: 0\r\n\r\n");
      drop(client);
      return;
    }
    m_open.push_back(upstream);
    send_all(client, "HTTP/1.1 200 Connection established\r\n\r\n");
    relay(client, upstream);
    relay(upstream, client);
  }

  void relay(int from, int to) {
    m_loop.watch(from, EventLoop::k_readable, [this, from, to](int, std::uint32_t) {
      char buffer[16384];
      const ssize_t size = ::recv(from, buffer, sizeof buffer, 0);
      if (size <= 0) {
        drop(from);
        drop(to);
        return;
      }
      send_all(to, std::string(buffer, static_cast<std::size_t>(size)));
    });
  }

  // Loopback and small messages: a short blocking wait for room is fine here.
  static void send_all(int fd, const std::string& data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
      const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        continue;
      }
      if (n <= 0) {
        return;
      }
      sent += static_cast<std::size_t>(n);
    }
  }

  void drop(int fd) {
    const auto it = std::find(m_open.begin(), m_open.end(), fd);
    if (it != m_open.end()) {
      m_open.erase(it);
      m_loop.unwatch(fd);
      ::close(fd);
    }
  }

  EventLoop& m_loop;
  int m_status;
  int m_listener = -1;
  std::uint16_t m_port = 0;
  std::vector<int> m_open;
  std::vector<std::string> m_heads;
};

}  // namespace

TEST_CASE("DoH: A and AAAA answers from a name pinned to an address", "[doh]") {
  NetFixture fixture;
  const DohServer server = fixture_doh(fixture);
  EventLoop loop;
  const auto queries = ask_all(loop, server, {{"plain.test", k_type_a}, {"plain.test", k_type_aaaa}}, settings_with(3000));

  const DnsQuery& a = queries[0];
  CHECK(a.resolver == "doh:https://good.test:" + std::to_string(fixture.port("doh")) + "/dns-query");
  CHECK(a.type == "A");
  CHECK(failure_of(a) == "none");
  CHECK(a.rcode == "NOERROR");
  CHECK(values_of(a, "A") == std::vector<std::string>{"192.0.2.80"});
  CHECK(a.answers.at(0).ttl == 60);
  CHECK_FALSE(a.raw_base64.empty());
  CHECK(a.duration_ms > 0);

  const DnsQuery& aaaa = queries[1];
  CHECK(failure_of(aaaa) == "none");
  CHECK(values_of(aaaa, "AAAA") == std::vector<std::string>{"2001:db8::80"});

  // The label is the URL, whatever the path.
  CurlMulti multi(loop);
  const BogonTable bogons = lab_bogons();
  const DohResolver resolver(loop, multi, server, settings_with(1000), bogons, EventLoop::now());
  CHECK(resolver.label() == a.resolver);
}

TEST_CASE("DoH: an IP-literal URL needs no address", "[doh]") {
  NetFixture fixture;
  DohServer server = fixture_doh(fixture, "doh", "127.0.0.1");
  server.address.reset();
  const DnsQuery query = ask(server, "plain.test");
  CHECK(failure_of(query) == "none");
  CHECK(values_of(query, "A") == std::vector<std::string>{"192.0.2.80"});
}

TEST_CASE("DoH: replies that do not count, each with its failure string", "[doh]") {
  NetFixture fixture;
  EventLoop loop;
  const auto queries = ask_all(loop, fixture_doh(fixture),
                               {{"nxdomain.test"}, {"http500.test"}, {"badtype.test"}, {"mismatch.test"},
                                {"oversize.test"}, {"NXDOMAIN-upper.test", k_type_aaaa}},
                               settings_with(3000));
  CHECK(failure_of(queries[0]) == "dns_nxdomain_error");
  CHECK(queries[0].rcode == "NXDOMAIN");
  CHECK(failure_of(queries[1]) == "unknown_failure: DoH HTTP status 500");
  CHECK_FALSE(queries[1].rcode);
  CHECK(failure_of(queries[2]) ==
        "unknown_failure: DoH reply Content-Type 'text/plain', not application/dns-message");
  CHECK(failure_of(queries[3]) == "unknown_failure: mismatched DNS reply");
  CHECK_FALSE(queries[3].raw_base64.empty());  // the stray reply is kept as evidence
  CHECK(failure_of(queries[4]) == "unknown_failure: DoH reply longer than 65535 bytes");
  CHECK(failure_of(queries[5]) == "dns_nxdomain_error");
}

TEST_CASE("DoH: the constructor refuses what would make curl resolve a name or expose a secret", "[doh]") {
  EventLoop loop;
  CurlMulti multi(loop);
  const BogonTable bogons = lab_bogons();
  const auto make = [&](const DohServer& server) {
    DohResolver resolver(loop, multi, server, settings_with(1000), bogons, EventLoop::now());
  };
  const auto refusal = [&](const DohServer& server) -> std::string {
    try {
      make(server);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "accepted";
  };

  DohServer named;
  named.url = "https://dns.example/dns-query";
  CHECK(contains(refusal(named), "'dns.example' is a name and curl must not resolve it"));
  named.path.proxy = "socks5://127.0.0.1:1080";  // curl would resolve the name for SOCKS5 without h
  CHECK(contains(refusal(named), "is a name"));
  named.path.proxy = "socks5h://127.0.0.1:1080";
  CHECK(refusal(named) == "accepted");
  named.path.proxy = "http://127.0.0.1:8888";  // CONNECT carries the name to the proxy
  CHECK(refusal(named) == "accepted");
  named.path.proxy.clear();
  named.address = "192.0.2.53";
  CHECK(refusal(named) == "accepted");
  named.address = "dns.example";
  CHECK(contains(refusal(named), "is not an IP address"));

  DohServer plain;
  plain.url = "http://192.0.2.53/dns-query";
  CHECK(contains(refusal(plain), "is not https://"));
  plain.url = "not a url";
  CHECK(contains(refusal(plain), "cannot be parsed"));
  plain.url = std::string("https://") + k_secret_user + ":" + k_secret_password + "@192.0.2.53/dns-query";
  CHECK(refusal(plain) == "a DoH URL must not carry credentials");

  DohServer proxied;
  proxied.url = "https://192.0.2.53/dns-query";
  proxied.path.proxy = "socks5h://proxy.example:1080";
  CHECK(contains(refusal(proxied), "proxy host 'proxy.example' is not an IP address"));
  proxied.path.proxy = std::string("socks5://") + k_secret_user + ":" + k_secret_password + "@127.0.0.1:1080";
  const std::string message = refusal(proxied);
  CHECK(contains(message, "carries credentials"));
  CHECK_FALSE(contains(message, k_secret_user));
  CHECK_FALSE(contains(message, k_secret_password));
  proxied.path.proxy = "ftp://127.0.0.1:21";
  CHECK(contains(refusal(proxied), "proxy scheme 'ftp'"));
}

TEST_CASE("DoH: TLS failures are the certificate's", "[doh]") {
  NetFixture fixture;
  // The fixture's certificate names good.test, not this.
  CHECK(failure_of(ask(fixture_doh(fixture, "doh", "other.test"), "plain.test")) == "ssl_invalid_hostname");
  CHECK(failure_of(ask(fixture_doh(fixture, "expired"), "plain.test")) == "ssl_invalid_certificate");
  CHECK(failure_of(ask(fixture_doh(fixture, "untrusted"), "plain.test")) == "ssl_unknown_authority");
  DohServer default_roots = fixture_doh(fixture);
  default_roots.ca_bundle.clear();  // the system's roots do not know the test CA
  CHECK(failure_of(ask(default_roots, "plain.test")) == "ssl_unknown_authority");
}

TEST_CASE("DoH: connection failures, timeouts and the retry", "[doh]") {
  NetFixture fixture;
  CHECK(failure_of(ask(fixture_doh(fixture, "closed"), "plain.test")) == "connection_refused");
  CHECK(failure_of(ask(fixture_doh(fixture, "reset_on_accept"), "plain.test")) == "connection_reset");
  CHECK(failure_of(ask(fixture_doh(fixture, "close_after_hello"), "plain.test")) == "eof_error");

  // The handshake never answered: a timeout, and with two tries, twice the time.
  const DnsQuery handshake = ask(fixture_doh(fixture, "silent"), "plain.test", k_type_a, settings_with(400, 1));
  CHECK(failure_of(handshake) == "generic_timeout_error");
  CHECK(handshake.duration_ms >= 390);
  CHECK(handshake.duration_ms < 1500);
  const DnsQuery twice = ask(fixture_doh(fixture, "silent"), "plain.test", k_type_a, settings_with(400, 2));
  CHECK(failure_of(twice) == "generic_timeout_error");
  CHECK(twice.duration_ms >= 790);
  CHECK(twice.duration_ms < 2500);

  // The request went through and no response came.
  const DnsQuery unanswered = ask(fixture_doh(fixture), "silent.test", k_type_a, settings_with(500, 1));
  CHECK(failure_of(unanswered) == "generic_timeout_error");
}

// The resolver going first is the contract every transport keeps (test_dns_contract.cpp); here,
// what only DoH has: the curl multi it shares going first.
TEST_CASE("DoH: queries in flight are interrupted when the resolver or the multi goes away", "[doh]") {
  NetFixture fixture;
  const BogonTable bogons = lab_bogons();
  const std::size_t fds_before = count_entries("/proc/self/fd");

  SECTION("the multi goes first") {
    EventLoop loop;
    auto multi = std::make_unique<CurlMulti>(loop);
    DohResolver resolver(loop, *multi, fixture_doh(fixture), settings_with(5000), bogons, EventLoop::now());
    std::optional<DnsQuery> result;
    resolver.query("silent.test", k_type_a, false, [&](DnsQuery query) { result = std::move(query); });
    loop.add_timer(Millis(300), [&]() { multi.reset(); });
    loop.run();
    REQUIRE(result);
    CHECK(failure_of(*result) == "interrupted");
  }

  CHECK(count_entries("/proc/self/fd") == fds_before);
}

TEST_CASE("DoH: the callback never runs from inside query()", "[doh]") {
  EventLoop loop;
  CurlMulti multi(loop);
  const BogonTable bogons = lab_bogons();
  DohServer server;
  server.url = "https://127.0.0.1:" + std::to_string(free_tcp_port()) + "/dns-query";
  DohResolver resolver(loop, multi, server, settings_with(1000), bogons, EventLoop::now());
  std::vector<std::string> failures;
  // A label over 63 bytes: c-ares refuses to build the query at all.
  resolver.query(std::string(64, 'x') + ".test", k_type_a, false,
                 [&](DnsQuery query) { failures.push_back(failure_of(query)); });
  resolver.query("plain.test", k_type_a, false, [&](DnsQuery query) { failures.push_back(failure_of(query)); });
  CHECK(failures.empty());
  loop.run();
  REQUIRE(failures.size() == 2);
  std::sort(failures.begin(), failures.end());
  CHECK(failures[0] == "connection_refused");
  CHECK(failures[1] == "unknown_failure: c-ares: Misformatted domain name");
}

TEST_CASE("DoH: a callback may drop the resolver while the multi stops its transfers", "[doh]") {
  NetFixture fixture;
  EventLoop loop;
  auto multi = std::make_unique<CurlMulti>(loop);
  const BogonTable bogons = lab_bogons();
  auto resolver =
      std::make_unique<DohResolver>(loop, *multi, fixture_doh(fixture), settings_with(5000), bogons, EventLoop::now());
  std::vector<std::string> failures;
  for (int i = 0; i < 3; ++i) {
    resolver->query("silent.test", k_type_a, false, [&](DnsQuery query) {
      failures.push_back(failure_of(query));
      resolver.reset();  // the first callback takes the resolver, and with it the other queries, down
    });
  }
  loop.add_timer(Millis(300), [&]() { multi.reset(); });
  loop.run();
  CHECK(failures == std::vector<std::string>{"interrupted", "interrupted", "interrupted"});
}

TEST_CASE("DoH through a SOCKS5 proxy", "[doh]") {
  if (!MicroSocks::available()) {
    PROBE_SKIP(k_microsocks << " is not installed");
  }
  NetFixture fixture;
  MicroSocks proxy;
  const std::string proxy_url = "127.0.0.1:" + std::to_string(proxy.port());

  // socks5: the URL's host is an address, so nothing needs resolving on either side.
  DohServer literal = fixture_doh(fixture, "doh", "127.0.0.1");
  literal.address.reset();
  literal.path.proxy = "socks5://" + proxy_url;
  const DnsQuery through = ask(literal, "plain.test");
  CHECK(failure_of(through) == "none");
  CHECK(values_of(through, "A") == std::vector<std::string>{"192.0.2.80"});

  // socks5h with a name pinned to an address: the proxy is handed the address, never the name.
  DohServer named = fixture_doh(fixture);
  named.path.proxy = "socks5h://" + proxy_url;
  CHECK(failure_of(ask(named, "plain.test")) == "none");

  // The proxy reports that the server refused: the server's failure, not the proxy's.
  DohServer refused = fixture_doh(fixture, "closed", "127.0.0.1");
  refused.address.reset();
  refused.path.proxy = "socks5://" + proxy_url;
  CHECK(failure_of(ask(refused, "plain.test")) == "connection_refused");

  // Nothing listens where the proxy should be: the proxy's failure.
  DohServer dead = literal;
  dead.path.proxy = "socks5://127.0.0.1:" + std::to_string(fixture.port("closed"));
  CHECK(failure_of(ask(dead, "plain.test")) == "proxy_error");
}

TEST_CASE("apply_path: proxy credentials reach the proxy and nothing else", "[doh]") {
  if (!MicroSocks::available()) {
    PROBE_SKIP(k_microsocks << " is not installed");
  }
  NetFixture fixture;
  MicroSocks proxy({"-u", "right-user", "-P", "right-password"});
  DohServer server = fixture_doh(fixture, "doh", "127.0.0.1");
  server.address.reset();
  server.path.proxy = "socks5://127.0.0.1:" + std::to_string(proxy.port());

  server.path.proxy_username = "right-user";
  server.path.proxy_password = "right-password";
  CHECK(failure_of(ask(server, "plain.test")) == "none");

  server.path.proxy_username = k_secret_user;
  server.path.proxy_password = k_secret_password;
  const DnsQuery rejected = ask(server, "plain.test");
  CHECK(failure_of(rejected) == "proxy_error");
  CHECK_FALSE(contains(everything_in(rejected), k_secret_user));
  CHECK_FALSE(contains(everything_in(rejected), k_secret_password));

  server.path.proxy_username.clear();
  server.path.proxy_password.clear();
  CHECK(failure_of(ask(server, "plain.test")) == "proxy_error");  // no acceptable method
}

TEST_CASE("apply_path: an HTTP proxy always gets a CONNECT tunnel, credentials go to it only", "[doh]") {
  NetFixture fixture;
  const std::string doh_port = std::to_string(fixture.port("doh"));

  SECTION("the proxy lets us through") {
    EventLoop loop;
    TestHttpProxy proxy(loop, 200);
    DohServer server = fixture_doh(fixture);
    server.path.proxy = "http://127.0.0.1:" + std::to_string(proxy.port());
    const auto queries = ask_all(loop, server, {{"plain.test"}}, settings_with(3000), [&]() { proxy.stop(); });
    CHECK(failure_of(queries.at(0)) == "none");
    CHECK(values_of(queries.at(0), "A") == std::vector<std::string>{"192.0.2.80"});
    REQUIRE(proxy.heads().size() == 1);
    // Pinned: the tunnel goes to the address, and the name travels only inside TLS (SNI, Host).
    CHECK(proxy.heads()[0].rfind("CONNECT 127.0.0.1:" + doh_port + " HTTP/1.1\r\n", 0) == 0);
  }

  SECTION("the proxy refuses the credentials") {
    EventLoop loop;
    TestHttpProxy proxy(loop, 407);
    DohServer server = fixture_doh(fixture);
    server.path.proxy = "http://127.0.0.1:" + std::to_string(proxy.port());
    server.path.proxy_username = k_secret_user;
    server.path.proxy_password = k_secret_password;
    const auto queries = ask_all(loop, server, {{"plain.test"}}, settings_with(3000), [&]() { proxy.stop(); });
    CHECK(failure_of(queries.at(0)) == "proxy_error");
    CHECK_FALSE(contains(everything_in(queries.at(0)), k_secret_user));
    CHECK_FALSE(contains(everything_in(queries.at(0)), k_secret_password));
    REQUIRE_FALSE(proxy.heads().empty());
    const std::string basic = base64_encode(std::string(k_secret_user) + ":" + k_secret_password);
    CHECK(contains(proxy.heads()[0], "Proxy-Authorization: Basic " + basic));
  }

  SECTION("the proxy cannot reach the server") {
    EventLoop loop;
    TestHttpProxy proxy(loop, 502);
    DohServer server = fixture_doh(fixture);
    server.path.proxy = "http://127.0.0.1:" + std::to_string(proxy.port());
    const auto queries = ask_all(loop, server, {{"plain.test"}}, settings_with(3000), [&]() { proxy.stop(); });
    CHECK(failure_of(queries.at(0)) == "connection_refused");  // "502 No": the proxy could not reach it
  }

  SECTION("the proxy is not there") {
    EventLoop loop;
    DohServer server = fixture_doh(fixture);
    server.path.proxy = "http://127.0.0.1:" + std::to_string(fixture.port("closed"));
    CHECK(failure_of(ask_all(loop, server, {{"plain.test"}}, settings_with(3000)).at(0)) == "proxy_error");
  }
}

TEST_CASE("apply_path: an interface path binds the transfer to that interface", "[doh]") {
  NetFixture fixture;
  DohServer server = fixture_doh(fixture);
  server.path.interface = "lo";
  CHECK(failure_of(ask(server, "plain.test")) == "none");
  server.path.interface = "probe-none0";
  const DnsQuery unbound = ask(server, "plain.test");
  CHECK(failure_of(unbound).rfind("unknown_failure: curl: Failed binding local connection end", 0) == 0);
  CHECK(contains(failure_of(unbound), "probe-none0"));
  CHECK_FALSE(unbound.rcode);
}

TEST_CASE("DoH failure classification: the proxy's own failures against the destination's", "[doh]") {
  const auto classify = [](int code, const std::string& scheme, long proxy_code = 0, long connect_code = 0,
                           long os_errno = 0, long verify = 0, const std::string& text = "") {
    probe::test::DohFailureSpec spec;
    spec.proxy_code = proxy_code;
    spec.connect_code = connect_code;
    spec.os_errno = os_errno;
    spec.verify_result = verify;
    spec.error_text = text;
    return classify_doh_failure(probe::test::doh_outcome(code, scheme, spec)).str();
  };
  CHECK(classify(CURLE_COULDNT_CONNECT, "socks5") == "proxy_error");
  CHECK(classify(CURLE_COULDNT_CONNECT, "", 0, 0, ECONNREFUSED) == "connection_refused");
  CHECK(classify(CURLE_COULDNT_RESOLVE_PROXY, "socks5h") == "proxy_error");
  CHECK(classify(CURLE_PROXY, "socks5h", CURLPX_REPLY_CONNECTION_REFUSED) == "connection_refused");
  CHECK(classify(CURLE_PROXY, "socks5h", CURLPX_REPLY_HOST_UNREACHABLE) == "host_unreachable");
  CHECK(classify(CURLE_PROXY, "socks5h", CURLPX_REPLY_NETWORK_UNREACHABLE) == "network_unreachable");
  CHECK(classify(CURLE_PROXY, "socks5h", CURLPX_REPLY_TTL_EXPIRED) == "generic_timeout_error");
  CHECK(classify(CURLE_PROXY, "socks5h", CURLPX_USER_REJECTED) == "proxy_error");
  CHECK(classify(CURLE_PROXY, "socks5", CURLPX_NO_AUTH) == "proxy_error");
  CHECK(classify(CURLE_PROXY, "socks5", CURLPX_RECV_CONNECT) == "proxy_error");
  CHECK(classify(CURLE_RECV_ERROR, "http", 0, 407) == "proxy_error");
  CHECK(classify(CURLE_RECV_ERROR, "http", 0, 403) == "proxy_error");
  // A CONNECT 5xx follows the one rule (net/classify.hpp): a 502/503 is the proxy failing to reach the
  // server, connection_refused unless its reason says more.
  CHECK(classify(CURLE_RECV_ERROR, "http", 0, 503) == "connection_refused");
  CHECK(classify(CURLE_RECV_ERROR, "http", 0, 0, ECONNRESET) == "proxy_error");
  // Once the tunnel stands, failures are the server's.
  CHECK(classify(CURLE_SSL_CONNECT_ERROR, "http", 0, 200, ECONNRESET) == "connection_reset");
  CHECK(classify(CURLE_OPERATION_TIMEDOUT, "socks5") == "generic_timeout_error");
  CHECK(classify(CURLE_PEER_FAILED_VERIFICATION, "", 0, 0, 0, X509_V_ERR_UNSPECIFIED) == "ssl_invalid_hostname");
  CHECK(classify(CURLE_PEER_FAILED_VERIFICATION, "", 0, 0, 0, X509_V_ERR_CERT_HAS_EXPIRED) ==
        "ssl_invalid_certificate");
  CHECK(classify(CURLE_PEER_FAILED_VERIFICATION, "", 0, 0, 0, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT) ==
        "ssl_unknown_authority");
  CHECK(classify(CURLE_SSL_CONNECT_ERROR, "", 0, 0, 0, 0, "OpenSSL SSL_connect: SSL_ERROR_SYSCALL") == "eof_error");
  CHECK(classify(CURLE_SSL_CONNECT_ERROR, "", 0, 0, 0, 0, "error:0A00010B:SSL routines::wrong version number") ==
        "ssl_failed_handshake");
  CHECK(classify(CURLE_GOT_NOTHING, "") == "eof_error");
  CHECK(classify(CURLE_SSL_CACERT_BADFILE, "", 0, 0, 0, 0, "error setting certificate file") ==
        "unknown_failure: curl: Problem with the SSL CA cert (path? access rights?): error setting certificate file");
}

TEST_CASE("curl paths: schemes, what the proxy resolves, and redaction", "[doh]") {
  CurlPath path;
  CHECK(proxy_scheme(path).empty());
  CHECK_FALSE(proxy_resolves_names(path));
  CHECK_FALSE(proxy_problem(path));
  path.proxy = "SOCKS5H://10.77.0.10:1080";
  CHECK(proxy_scheme(path) == "socks5h");
  CHECK(proxy_resolves_names(path));
  path.proxy = "socks5://10.77.0.10:1080";
  CHECK_FALSE(proxy_resolves_names(path));
  path.proxy = "10.77.0.11:8888";  // curl's default scheme
  CHECK(proxy_scheme(path) == "http");
  CHECK(proxy_resolves_names(path));
  CHECK_FALSE(proxy_problem(path));
  path.proxy = "http://[2001:db8::11]:8888";
  CHECK_FALSE(proxy_problem(path));

  path.proxy_username = "alice";
  path.proxy_password = "s3cret";
  CHECK(redact_credentials("user alice rejected (s3cret), alice", path) == "user *** rejected (***), ***");
  path.proxy_password = "";
  CHECK(redact_credentials("no secret here", path) == "no secret here");
}
