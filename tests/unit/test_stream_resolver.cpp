#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <stdexcept>

#include "dns/dns_message.hpp"
#include "dns/stream_resolver.hpp"
#include "support/bogons.hpp"
#include "support/mock_dns.hpp"
#include "support/temp_dir.hpp"

using namespace probe;
using probe::test::count_entries;
using probe::test::lab_bogons;
using probe::test::MockDns;

namespace {

ResolverSpec loopback_spec(std::uint16_t port) {
  ResolverSpec spec;
  spec.address = "127.0.0.1";
  spec.port = port;
  return spec;
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

// Counts how often a query opens a connection.
StreamConnector counting(StreamConnector inner, int* calls) {
  return [inner = std::move(inner), calls](const std::string& address, std::uint16_t port, Millis timeout,
                                           StreamCallback done) {
    ++*calls;
    inner(address, port, timeout, std::move(done));
  };
}

// A connector that fails the way a tunnel through a dead proxy does.
StreamConnector failing_connector(EventLoop& loop, FailureInfo failure, bool proxy_failure, int* calls) {
  return [&loop, failure, proxy_failure, calls](const std::string&, std::uint16_t, Millis, StreamCallback done) {
    ++*calls;
    loop.add_timer(Millis(0), [done = std::move(done), failure, proxy_failure]() {
      StreamConnection connection;
      connection.failure = failure;
      connection.proxy_failure = proxy_failure;
      done(connection);
    });
  };
}

struct Question {
  std::string name;
  std::uint16_t type = k_type_a;
};

// Asks every question at once on one loop, through `connector` (plain by default), and returns
// the observations in the order asked.
std::vector<DnsQuery> ask_all(std::uint16_t port, const std::vector<Question>& questions, const DnsSettings& settings,
                              StreamConnector connector = nullptr, EventLoop* given_loop = nullptr) {
  EventLoop own_loop;
  EventLoop& loop = given_loop != nullptr ? *given_loop : own_loop;
  const BogonTable bogons = lab_bogons();
  StreamResolver resolver(loop, connector ? std::move(connector) : plain_connector(loop), loopback_spec(port), settings,
                          bogons, EventLoop::now(), "tcp:");
  std::vector<std::optional<DnsQuery>> answers(questions.size());
  for (std::size_t i = 0; i < questions.size(); ++i) {
    resolver.query(questions[i].name, questions[i].type, false, [&answers, i](DnsQuery query) {
      REQUIRE_FALSE(answers[i]);  // exactly once
      answers[i] = std::move(query);
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

DnsQuery ask(std::uint16_t port, const std::string& name, std::uint16_t type, const DnsSettings& settings,
             StreamConnector connector = nullptr, EventLoop* loop = nullptr) {
  return ask_all(port, {{name, type}}, settings, std::move(connector), loop).at(0);
}

// A TCP port on 127.0.0.1 that is bound but not listening for as long as the object lives: a
// connection attempt gets RST, and nothing else can take the number meanwhile.
class ClosedTcpPort {
public:
  ClosedTcpPort() : m_fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (m_fd < 0 || ::bind(m_fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::getsockname(m_fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::runtime_error("cannot bind a TCP socket on 127.0.0.1");
    }
    m_port = ntohs(address.sin_port);
  }
  ~ClosedTcpPort() { ::close(m_fd); }
  ClosedTcpPort(const ClosedTcpPort&) = delete;
  ClosedTcpPort& operator=(const ClosedTcpPort&) = delete;
  std::uint16_t port() const { return m_port; }

private:
  int m_fd;
  std::uint16_t m_port = 0;
};

std::size_t open_fds() { return count_entries("/proc/self/fd"); }

}  // namespace

TEST_CASE("DNS over TCP: A and AAAA answers, labelled with the prefix and the server", "[dns_stream]") {
  MockDns server;
  EventLoop loop;
  const BogonTable bogons = lab_bogons();
  const StreamResolver resolver(loop, plain_connector(loop), loopback_spec(server.port()), settings_with(1000),
                                bogons, EventLoop::now(), "tcp:");
  CHECK(resolver.label() == "tcp:127.0.0.1:" + std::to_string(server.port()));

  const auto queries = ask_all(server.port(), {{"plain.test", k_type_a}, {"plain.test", k_type_aaaa}},
                               settings_with(1000));
  const DnsQuery& a = queries[0];
  CHECK(a.resolver == "tcp:127.0.0.1:" + std::to_string(server.port()));
  CHECK(a.type == "A");
  CHECK(failure_of(a) == "none");
  CHECK(a.rcode == "NOERROR");
  CHECK(values_of(a, "A") == std::vector<std::string>{"192.0.2.1"});
  CHECK(a.answers.at(0).ttl == 300);
  CHECK_FALSE(a.raw_base64.empty());
  CHECK(a.duration_ms > 0);
  CHECK(a.duration_ms < 1000);

  const DnsQuery& aaaa = queries[1];
  CHECK(aaaa.type == "AAAA");
  CHECK(failure_of(aaaa) == "none");
  CHECK(values_of(aaaa, "AAAA") == std::vector<std::string>{"2001:db8::1"});
}

TEST_CASE("DNS over TCP: each kind of reply yields its observation and failure string", "[dns_stream]") {
  MockDns server;
  const auto queries = ask_all(server.port(),
                               {{"nxdomain.test"}, {"servfail.test"}, {"refused.test", k_type_aaaa}, {"empty.test"},
                                {"bogon.test"}, {"loopback.test", k_type_aaaa}, {"cname.test"}, {"many.test"},
                                {"truncated.test"}, {"malformed.test"}, {"garbage.test"}},
                               settings_with(1000));
  CHECK(failure_of(queries[0]) == "dns_nxdomain_error");
  CHECK(queries[0].rcode == "NXDOMAIN");
  CHECK(failure_of(queries[1]) == "dns_servfail_error");
  CHECK(queries[1].rcode == "SERVFAIL");
  CHECK(failure_of(queries[2]) == "dns_refused_error");
  CHECK(queries[2].rcode == "REFUSED");
  CHECK(failure_of(queries[3]) == "dns_no_answer");
  CHECK(queries[3].rcode == "NOERROR");

  CHECK(failure_of(queries[4]) == "dns_bogon_error");
  REQUIRE(queries[4].answers.size() == 1);
  CHECK(queries[4].answers[0].value == "10.10.10.10");
  CHECK(queries[4].answers[0].bogon);
  CHECK(failure_of(queries[5]) == "dns_bogon_error");
  CHECK(values_of(queries[5], "AAAA") == std::vector<std::string>{"::1"});

  CHECK(failure_of(queries[6]) == "none");
  CHECK(queries[6].cname_chain == std::vector<std::string>{"alias.cname-target.test", "final.cname-target.test"});
  CHECK(values_of(queries[6], "A") == std::vector<std::string>{"192.0.2.77"});

  // Over TCP the 2000-record reply comes whole; what is kept of it is capped.
  CHECK(failure_of(queries[7]) == "none");
  CHECK(queries[7].answers.size() == k_max_dns_addresses);
  CHECK(queries[7].answers_truncated);
  CHECK(queries[7].raw_truncated);
  CHECK(queries[7].raw_base64.size() == 4096 / 3 * 4 + 4);

  CHECK(values_of(queries[8], "A") == std::vector<std::string>{"192.0.2.53"});
  CHECK(failure_of(queries[9]) == "unknown_failure: malformed DNS reply: malformed answer record");
  // Over TCP a message shorter than a header is the reply (there is nothing else it could be).
  CHECK(failure_of(queries[10]) == "unknown_failure: malformed DNS reply: reply shorter than a DNS header");
}

TEST_CASE("DNS over TCP: a server that never answers gives generic_timeout_error, once per try", "[dns_stream]") {
  MockDns server;
  EventLoop loop;
  int connections = 0;
  const DnsQuery once = ask(server.port(), "silent.test", k_type_a, settings_with(400, 1),
                            counting(plain_connector(loop), &connections), &loop);
  CHECK(failure_of(once) == "generic_timeout_error");
  CHECK_FALSE(once.rcode);
  CHECK(once.duration_ms >= 390);
  CHECK(once.duration_ms < 1500);
  CHECK(connections == 1);

  // Two tries: a fresh connection for the second, and twice the time.
  connections = 0;
  const DnsQuery twice = ask(server.port(), "silent.test", k_type_a, settings_with(400, 3),
                             counting(plain_connector(loop), &connections), &loop);
  CHECK(failure_of(twice) == "generic_timeout_error");
  CHECK(twice.duration_ms >= 790);
  CHECK(twice.duration_ms < 2500);
  CHECK(connections == 2);
}

TEST_CASE("DNS over TCP: a closed port gives connection_refused, without a retry", "[dns_stream]") {
  const ClosedTcpPort closed;
  EventLoop loop;
  int connections = 0;
  const DnsQuery query =
      ask(closed.port(), "plain.test", k_type_a, settings_with(1000, 2), counting(plain_connector(loop), &connections),
          &loop);
  CHECK(failure_of(query) == "connection_refused");
  CHECK(connections == 1);
}

TEST_CASE("DNS over TCP: a server that closes or resets before a whole reply", "[dns_stream]") {
  MockDns server;
  EventLoop loop;
  int connections = 0;
  const auto plain = [&]() { return counting(plain_connector(loop), &connections); };

  // Half a reply, then FIN: the length prefix promised more.
  CHECK(failure_of(ask(server.port(), "cutoff.test", k_type_a, settings_with(1000, 1), plain(), &loop)) ==
        "eof_error");
  CHECK(connections == 1);
  // EOF is worth one more try on a fresh connection.
  connections = 0;
  CHECK(failure_of(ask(server.port(), "cutoff.test", k_type_aaaa, settings_with(1000, 2), plain(), &loop)) ==
        "eof_error");
  CHECK(connections == 2);
  connections = 0;
  CHECK(failure_of(ask(server.port(), "hangup.test", k_type_a, settings_with(1000, 2), plain(), &loop)) ==
        "eof_error");
  CHECK(connections == 2);
  // A reset is not retried.
  connections = 0;
  CHECK(failure_of(ask(server.port(), "reset.test", k_type_a, settings_with(1000, 2), plain(), &loop)) ==
        "connection_reset");
  CHECK(connections == 1);
}

TEST_CASE("DNS over TCP: replies to another question are skipped", "[dns_stream]") {
  MockDns server;
  // The wrong-ID reply comes first and is ignored; the right one follows on the same connection.
  const DnsQuery later = ask(server.port(), "wrongidfirst.test", k_type_a, settings_with(1000));
  CHECK(failure_of(later) == "none");
  CHECK(values_of(later, "A") == std::vector<std::string>{"192.0.2.1"});

  // Only a wrong-ID reply: nothing answers the question, and the stray reply is kept as evidence.
  const DnsQuery stray = ask(server.port(), "wrongid.test", k_type_a, settings_with(500, 2));
  CHECK(failure_of(stray) == "unknown_failure: mismatched DNS reply");
  CHECK_FALSE(stray.rcode);
  CHECK(stray.answers.empty());
  CHECK_FALSE(stray.raw_base64.empty());
  CHECK(stray.duration_ms >= 490);
  CHECK(stray.duration_ms < 1400);  // not retried: a reply did come
}

TEST_CASE("matching a reply to its query: ID, then the question without regard to case", "[dns_stream]") {
  const std::string header_query("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", 12);
  const std::string question("\x05Plain\x04test\x00\x00\x01\x00\x01", 17);
  const std::string query = header_query + question;
  std::string reply = query;
  reply[2] = '\x81';
  reply[3] = '\x80';
  CHECK(match_reply(reply, query) == ReplyMatch::matches);

  std::string lowered = reply;
  lowered[13] = 'p';
  CHECK(match_reply(lowered, query) == ReplyMatch::matches);

  std::string other_id = reply;
  other_id[1] = '\x35';
  CHECK(match_reply(other_id, query) == ReplyMatch::mismatched);

  std::string other_name = reply;
  other_name[14] = 'x';
  CHECK(match_reply(other_name, query) == ReplyMatch::mismatched);

  std::string other_type = reply;
  other_type[other_type.size() - 3] = '\x1c';
  CHECK(match_reply(other_type, query) == ReplyMatch::mismatched);

  std::string no_question = reply.substr(0, 12);
  no_question[5] = '\x00';
  CHECK(match_reply(no_question, query) == ReplyMatch::matches);

  CHECK(match_reply(reply.substr(0, 7), query) == ReplyMatch::malformed);
  CHECK(match_reply(reply.substr(0, 20), query) == ReplyMatch::malformed);
}

TEST_CASE("DNS over TCP: the connector's failure is the query's, proxy_error included", "[dns_stream]") {
  EventLoop loop;
  int calls = 0;
  const DnsQuery proxy = ask(53, "plain.test", k_type_a, settings_with(1000, 2),
                             failing_connector(loop, {Failure::proxy_error, ""}, true, &calls), &loop);
  CHECK(failure_of(proxy) == "proxy_error");
  CHECK(calls == 1);  // the proxy's own failure is not retried
  CHECK_FALSE(proxy.rcode);

  // A destination that timed out behind the proxy is a timeout, and worth a second try.
  calls = 0;
  const DnsQuery timeout = ask(53, "plain.test", k_type_a, settings_with(1000, 2),
                               failing_connector(loop, {Failure::generic_timeout_error, ""}, false, &calls), &loop);
  CHECK(failure_of(timeout) == "generic_timeout_error");
  CHECK(calls == 2);

  calls = 0;
  const DnsQuery refused = ask(53, "plain.test", k_type_a, settings_with(1000, 2),
                               failing_connector(loop, {Failure::connection_refused, ""}, false, &calls), &loop);
  CHECK(failure_of(refused) == "connection_refused");
  CHECK(calls == 1);
}

TEST_CASE("DNS over TCP: the callback never runs from inside query()", "[dns_stream]") {
  EventLoop loop;
  const BogonTable bogons = lab_bogons();
  int calls = 0;
  StreamResolver resolver(loop, failing_connector(loop, {Failure::proxy_error, ""}, true, &calls),
                          loopback_spec(53), settings_with(1000), bogons, EventLoop::now(), "tcp:");
  std::vector<std::string> failures;
  resolver.query("plain.test", k_type_a, false, [&](DnsQuery query) { failures.push_back(failure_of(query)); });
  // A label over 63 bytes: c-ares refuses to build the query at all.
  resolver.query(std::string(64, 'x') + ".test", k_type_a, false,
                 [&](DnsQuery query) { failures.push_back(failure_of(query)); });
  CHECK(failures.empty());
  loop.run();
  REQUIRE(failures.size() == 2);
  std::sort(failures.begin(), failures.end());
  CHECK(failures[0] == "proxy_error");
  CHECK(failures[1] == "unknown_failure: c-ares: Misformatted domain name");
}

// Waiting for a reply, a query is interrupted as on every transport (test_dns_contract.cpp); here,
// what only a stream has: a connection still being made when the resolver goes.
TEST_CASE("DNS over TCP: queries in flight are interrupted when the resolver goes away", "[dns_stream]") {
  MockDns server;
  EventLoop loop;
  const BogonTable bogons = lab_bogons();
  const std::size_t fds_before = open_fds();

  SECTION("still connecting: the connection that comes too late is closed") {
    // A connector as slow as a proxy handshake: the connection is handed over 300 ms later.
    const StreamConnector slow = [&loop](const std::string& address, std::uint16_t port, Millis timeout,
                                         StreamCallback done) {
      connect_stream(loop, address, port, timeout, "", [&loop, done](StreamConnection connection) {
        loop.add_timer(Millis(300), [done, connection]() { done(connection); });
      });
    };
    auto resolver = std::make_unique<StreamResolver>(loop, slow, loopback_spec(server.port()), settings_with(5000),
                                                     bogons, EventLoop::now(), "tcp:");
    std::optional<DnsQuery> result;
    resolver->query("plain.test", k_type_a, false, [&](DnsQuery query) { result = std::move(query); });
    loop.add_timer(Millis(100), [&]() { resolver.reset(); });
    loop.run();
    REQUIRE(result);
    CHECK(failure_of(*result) == "interrupted");
  }

  CHECK(open_fds() == fds_before);
}

TEST_CASE("DNS over TCP: queries share a few pipelined connections, answered in any order", "[dns_stream]") {
  MockDns server;
  EventLoop loop;
  int connections = 0;
  std::vector<Question> questions;
  for (int i = 0; i < 50; ++i) {
    questions.push_back({"host" + std::to_string(i) + ".test", i % 2 == 0 ? k_type_a : k_type_aaaa});
  }
  const auto queries =
      ask_all(server.port(), questions, settings_with(3000), counting(plain_connector(loop), &connections), &loop);
  for (const auto& query : queries) {
    CHECK(failure_of(query) == "none");
  }
  CHECK(connections == 7);  // a new connection once each has 8 queries out

  // The slow reply comes 1.5 s after the others, which were asked after it on the same connection.
  connections = 0;
  const auto mixed = ask_all(server.port(), {{"slow.test"}, {"one.test"}, {"two.test", k_type_aaaa}},
                             settings_with(3000), counting(plain_connector(loop), &connections), &loop);
  CHECK(connections == 1);
  CHECK(failure_of(mixed[0]) == "none");
  CHECK(mixed[0].duration_ms >= 1400);
  CHECK(failure_of(mixed[1]) == "none");
  CHECK(mixed[1].duration_ms < 1000);
  CHECK(values_of(mixed[2], "AAAA") == std::vector<std::string>{"2001:db8::1"});
  CHECK(mixed[2].duration_ms < 1000);
}

TEST_CASE("DNS over TCP: an idle connection is reused, and one that ended is replaced", "[dns_stream]") {
  MockDns server;
  EventLoop loop;
  const BogonTable bogons = lab_bogons();
  std::vector<int> fds;
  const StreamConnector recording = [&loop, &fds](const std::string& address, std::uint16_t port, Millis timeout,
                                                  StreamCallback done) {
    connect_stream(loop, address, port, timeout, "", [&fds, done](StreamConnection connection) {
      fds.push_back(connection.fd);
      done(connection);
    });
  };
  StreamResolver resolver(loop, recording, loopback_spec(server.port()), settings_with(1000), bogons,
                          EventLoop::now(), "tcp:");
  const auto ask_one = [&](const std::string& name) {
    std::optional<DnsQuery> result;
    resolver.query(name, k_type_a, false, [&](DnsQuery query) { result = std::move(query); });
    loop.run();  // returns with the idle connection still open: it does not keep the loop going
    REQUIRE(result);
    return failure_of(*result);
  };
  CHECK(ask_one("first.test") == "none");
  CHECK(ask_one("second.test") == "none");
  CHECK(fds.size() == 1);

  // The connection ends while idle (as a proxy closing an idle tunnel would): it is dropped
  // quietly, and the next query opens another.
  ::shutdown(fds.at(0), SHUT_RDWR);
  loop.add_timer(Millis(100), []() {});
  loop.run();
  CHECK(ask_one("third.test") == "none");
  CHECK(fds.size() == 2);
}

TEST_CASE("DNS over TCP: a failure on a shared connection stays with the name that caused it", "[dns_stream]") {
  MockDns server;
  // One try only: a shared try that broke must not count against the names that did nothing.
  const auto behind = [](const std::string& first) {
    std::vector<Question> questions{{first}};
    for (int i = 0; i < 10; ++i) {
      questions.push_back({"after" + std::to_string(i) + ".test", k_type_a});
    }
    return questions;
  };
  const auto all_fine_but_first = [](const std::vector<DnsQuery>& queries) {
    for (std::size_t i = 1; i < queries.size(); ++i) {
      INFO("query " << i);
      CHECK(failure_of(queries[i]) == "none");
      CHECK(values_of(queries[i], "A") == std::vector<std::string>{"192.0.2.1"});
    }
  };

  // The server resets the connection on reading the first name, as a censor injecting RSTs does.
  const auto reset = ask_all(server.port(), behind("reset.test"), settings_with(1000, 1));
  CHECK(failure_of(reset[0]) == "connection_reset");
  all_fine_but_first(reset);

  // The server answers the first name and then closes the connection, as a server does once it
  // has served enough queries on one: the names after it go once more to a shared connection,
  // not each to its own.
  {
    EventLoop loop;
    int connections = 0;
    auto questions = behind("last.test");
    questions.resize(7);  // one connection's worth: a second opens at 8 queries out
    const auto last = ask_all(server.port(), questions, settings_with(1000, 1),
                              counting(plain_connector(loop), &connections), &loop);
    CHECK(failure_of(last[0]) == "none");
    all_fine_but_first(last);
    CHECK(connections == 2);
  }

  // The server closes it after the first name, unanswered.
  const auto hangup = ask_all(server.port(), behind("hangup.test"), settings_with(1000, 1));
  CHECK(failure_of(hangup[0]) == "eof_error");
  all_fine_but_first(hangup);

  // A reply too short to say which query it answers is the reply only when asked alone. The slow
  // name ahead of it is still unanswered when it comes.
  auto questions = behind("garbage.test");
  questions.insert(questions.begin(), Question{"slow.test"});
  auto garbage = ask_all(server.port(), questions, settings_with(3000, 1));
  CHECK(values_of(garbage[0], "A") == std::vector<std::string>{"192.0.2.1"});
  garbage.erase(garbage.begin());
  CHECK(failure_of(garbage[0]) == "unknown_failure: malformed DNS reply: reply shorter than a DNS header");
  all_fine_but_first(garbage);

  // Unanswered on the shared connection: asked again alone, where the stray reply is its evidence.
  const auto stray = ask_all(server.port(), behind("wrongid.test"), settings_with(300, 1));
  CHECK(failure_of(stray[0]) == "unknown_failure: mismatched DNS reply");
  CHECK_FALSE(stray[0].raw_base64.empty());
  all_fine_but_first(stray);
}
