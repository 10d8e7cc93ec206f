#include <catch2/catch.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dns/dns_message.hpp"
#include "dns/lifecycle.hpp"
#include "net/event_loop.hpp"
#include "support/bogons.hpp"

// The one query lifecycle (dns/lifecycle.hpp) over a scripted transport: what it decides itself
// (tries, the outcome turned into the observation, one callback from the loop, interruption),
// apart from any wire. The same rules over the real transports: test_dns_contract.cpp.
using namespace probe;
using probe::test::lab_bogons;

namespace {

// A reply to `wire` (its ID and question) with one A record, 192.0.2.1 (allowed by lab_bogons).
std::string reply_to(const std::string& wire) {
  std::string reply = wire;
  reply[2] = static_cast<char>(0x81);  // QR, RD
  reply[3] = static_cast<char>(0x80);  // RA, NOERROR
  reply[7] = 1;                        // ANCOUNT 1
  const unsigned char record[] = {0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1};
  reply.append(reinterpret_cast<const char*>(record), sizeof record);
  return reply;
}

struct Sent {
  std::uint64_t key;
  std::string wire;
  int attempt;
};

// Records what it is asked, and answers at once (from inside send()) when the script says what.
class ScriptedTransport : public DnsTransport {
public:
  using Script = std::function<std::optional<TryOutcome>(const Sent&)>;

  ScriptedTransport(Script script, std::vector<Sent>* sent, std::vector<std::uint64_t>* cancelled, std::uint16_t id)
      : m_script(std::move(script)), m_sent(sent), m_cancelled(cancelled), m_id(id) {}

  void on_done(TryDone done) override { m_done = std::move(done); }
  void send(std::uint64_t key, const std::string& wire, int attempt) override {
    m_sent->push_back({key, wire, attempt});
    std::optional<TryOutcome> outcome = m_script(m_sent->back());
    if (outcome) {
      m_done(key, std::move(*outcome));  // at once, from inside send(): allowed
    }
  }
  void cancel(std::uint64_t key) override { m_cancelled->push_back(key); }
  std::uint16_t query_id() override { return m_id; }

  // What a transport says too late (after cancel): must change nothing.
  void report_late(std::uint64_t key) { m_done(key, TryOutcome::failed(FailureInfo{Failure::eof_error, ""}, true)); }

private:
  Script m_script;
  std::vector<Sent>* m_sent;
  std::vector<std::uint64_t>* m_cancelled;
  std::uint16_t m_id;
  TryDone m_done;
};

class ScriptedResolver : public TransportResolver {
public:
  ScriptedResolver(EventLoop& loop, std::unique_ptr<ScriptedTransport> transport, const DnsSettings& settings,
                   const BogonTable& bogons, int tries)
      : TransportResolver(loop, std::move(transport), "scripted:1", settings, bogons, EventLoop::now(), tries) {}
};

struct Run {
  EventLoop loop;
  BogonTable bogons = lab_bogons();
  std::vector<Sent> sent;
  std::vector<std::uint64_t> cancelled;
  ScriptedTransport* transport = nullptr;
  std::unique_ptr<ScriptedResolver> resolver;

  Run(ScriptedTransport::Script script, int tries, std::uint16_t id = 0x1234) {
    auto owned = std::make_unique<ScriptedTransport>(std::move(script), &sent, &cancelled, id);
    transport = owned.get();
    DnsSettings settings;
    settings.timeout_ms = 1000;
    resolver = std::make_unique<ScriptedResolver>(loop, std::move(owned), settings, bogons, tries);
  }
};

std::string failure_of(const DnsQuery& query) { return query.failure ? query.failure->str() : "none"; }

}  // namespace

TEST_CASE("DNS lifecycle: a retryable failure is tried again once when tries allow, from the loop", "[dns_lifecycle]") {
  const auto timeout_then_reply = [](const Sent& sent) -> std::optional<TryOutcome> {
    if (sent.attempt == 1) {
      return TryOutcome::failed(FailureInfo{Failure::generic_timeout_error, ""}, true);
    }
    return TryOutcome::replied(reply_to(sent.wire));
  };
  Run run(timeout_then_reply, 2);
  std::vector<DnsQuery> got;
  run.resolver->query("plain.test", k_type_a, false, [&](DnsQuery query) { got.push_back(std::move(query)); });
  CHECK(run.sent.empty());  // nothing is sent from inside query()
  run.loop.run();
  REQUIRE(got.size() == 1);
  CHECK(failure_of(got[0]) == "none");
  CHECK(got[0].rcode == "NOERROR");
  CHECK(got[0].resolver == "scripted:1");
  REQUIRE(run.sent.size() == 2);
  CHECK(run.sent[0].attempt == 1);
  CHECK(run.sent[1].attempt == 2);
  CHECK(run.sent[0].wire == run.sent[1].wire);  // the same question again
  CHECK(run.cancelled.empty());  // both tries ended by themselves
}

TEST_CASE("DNS lifecycle: no second try with one try, or for a failure that is not retryable", "[dns_lifecycle]") {
  SECTION("one try") {
    Run run([](const Sent&) { return TryOutcome::failed(FailureInfo{Failure::generic_timeout_error, ""}, true); }, 1);
    std::optional<DnsQuery> got;
    run.resolver->query("plain.test", k_type_a, false, [&](DnsQuery query) { got = std::move(query); });
    run.loop.run();
    REQUIRE(got);
    CHECK(failure_of(*got) == "generic_timeout_error");
    CHECK(run.sent.size() == 1);
  }
  SECTION("not retryable") {
    Run run([](const Sent&) { return TryOutcome::failed(FailureInfo{Failure::proxy_error, ""}, false); }, 2);
    std::optional<DnsQuery> got;
    run.resolver->query("plain.test", k_type_a, false, [&](DnsQuery query) { got = std::move(query); });
    run.loop.run();
    REQUIRE(got);
    CHECK(failure_of(*got) == "proxy_error");
    CHECK(run.sent.size() == 1);
  }
  SECTION("two retryable failures: the second one is the query's") {
    Run run(
        [](const Sent& sent) {
          return TryOutcome::failed(
              FailureInfo{sent.attempt == 1 ? Failure::generic_timeout_error : Failure::eof_error, ""}, true);
        },
        2);
    std::optional<DnsQuery> got;
    run.resolver->query("plain.test", k_type_a, false, [&](DnsQuery query) { got = std::move(query); });
    run.loop.run();
    REQUIRE(got);
    CHECK(failure_of(*got) == "eof_error");
    CHECK(run.sent.size() == 2);
  }
}

TEST_CASE("DNS lifecycle: the outcome becomes the observation", "[dns_lifecycle]") {
  SECTION("a reply to another question is kept, and is the failure") {
    Run run(
        [](const Sent& sent) {
          std::string other = reply_to(sent.wire);
          other[0] = static_cast<char>(other[0] ^ 0x55);
          return TryOutcome::other_question(other);
        },
        2);
    std::optional<DnsQuery> got;
    run.resolver->query("plain.test", k_type_aaaa, false, [&](DnsQuery query) { got = std::move(query); });
    run.loop.run();
    REQUIRE(got);
    CHECK(failure_of(*got) == "unknown_failure: mismatched DNS reply");
    CHECK_FALSE(got->raw_base64.empty());
    CHECK(got->type == "AAAA");
    CHECK(run.sent.size() == 1);  // not retried
  }
  SECTION("a reply too short to parse is judged by the parser") {
    Run run([](const Sent&) { return TryOutcome::replied("\x12\x34\x81"); }, 1);
    std::optional<DnsQuery> got;
    run.resolver->query("plain.test", k_type_a, false, [&](DnsQuery query) { got = std::move(query); });
    run.loop.run();
    REQUIRE(got);
    CHECK(failure_of(*got).rfind("unknown_failure: malformed DNS reply", 0) == 0);
  }
  SECTION("the transport's query ID is the one sent") {
    Run run([](const Sent& sent) { return TryOutcome::replied(reply_to(sent.wire)); }, 1, 0);
    run.resolver->query("plain.test", k_type_a, false, [](DnsQuery) {});
    run.loop.run();
    REQUIRE(run.sent.size() == 1);
    CHECK(run.sent[0].wire.substr(0, 2) == std::string("\0\0", 2));
  }
}

TEST_CASE("DNS lifecycle: going away cancels each try with the transport and interrupts its query once",
          "[dns_lifecycle]") {
  Run run([](const Sent&) { return std::nullopt; }, 2);  // the transport never answers
  std::vector<std::string> failures;
  Resolver* going = run.resolver.get();
  for (int i = 0; i < 3; ++i) {
    run.resolver->query("silent.test", k_type_a, false, [&, i](DnsQuery query) {
      failures.push_back(failure_of(query));
      if (i == 0) {
        // The first callback asks again (the resolver is being destroyed: unique_ptr is null by
        // then): that query is interrupted too.
        going->query("again.test", k_type_a, false, [&](DnsQuery again) { failures.push_back(failure_of(again)); });
      }
    });
  }
  std::vector<std::uint64_t> in_flight;
  run.loop.add_timer(Millis(50), [&run, &in_flight]() {
    for (const Sent& each : run.sent) {
      in_flight.push_back(each.key);
    }
    run.resolver.reset();
  });
  run.loop.run();
  CHECK(failures == std::vector<std::string>{"interrupted", "interrupted", "interrupted", "interrupted"});
  CHECK(in_flight.size() == 3);
  CHECK(run.cancelled == in_flight);  // the fourth was never sent: nothing to cancel
}

TEST_CASE("DNS lifecycle: what a transport reports too late changes nothing", "[dns_lifecycle]") {
  std::uint64_t first_key = 0;
  Run run(
      [&first_key](const Sent& sent) -> std::optional<TryOutcome> {
        first_key = first_key == 0 ? sent.key : first_key;
        return TryOutcome::replied(reply_to(sent.wire));
      },
      2);
  int calls = 0;
  std::optional<DnsQuery> got;
  run.resolver->query("plain.test", k_type_a, false, [&](DnsQuery query) {
    ++calls;
    got = std::move(query);
  });
  run.loop.run();
  run.transport->report_late(first_key);  // the query is done
  run.transport->report_late(first_key + 100);  // no such query
  run.loop.run();
  CHECK(calls == 1);
  REQUIRE(got);
  CHECK(failure_of(*got) == "none");
}

TEST_CASE("DNS lifecycle: a callback may destroy the resolver with other queries waiting", "[dns_lifecycle]") {
  Run run(
      [](const Sent& sent) -> std::optional<TryOutcome> {
        if (sent.key == 1) {
          return TryOutcome::failed(FailureInfo{Failure::connection_refused, ""}, false);
        }
        return std::nullopt;
      },
      1);
  std::vector<std::string> failures;
  for (int i = 0; i < 3; ++i) {
    run.resolver->query("host.test", k_type_a, false, [&](DnsQuery query) {
      failures.push_back(failure_of(query));
      run.resolver.reset();
    });
  }
  run.loop.run();
  CHECK(failures == std::vector<std::string>{"connection_refused", "interrupted", "interrupted"});
}
