#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dns/bogon.hpp"
#include "dns/dns_message.hpp"
#include "dns/doh_resolver.hpp"
#include "dns/resolver.hpp"
#include "dns/stream_resolver.hpp"
#include "dns/udp_resolver.hpp"
#include "net/curl_multi.hpp"
#include "net/event_loop.hpp"
#include "net/stream_connect.hpp"
#include "support/bogons.hpp"
#include "support/mock_dns.hpp"
#include "support/net_fixture.hpp"
#include "support/temp_dir.hpp"

// The contract every resolver keeps, whatever carries its queries (dns/resolver.hpp): one case
// run over each transport, as c-ares's mock tests run one case over UDP and TCP. UDP (c-ares) and
// TCP ask the mock DNS server, DoH the fixture's DoH port; each answers plain.test with addresses,
// nxdomain.test with NXDOMAIN and never answers silent.test.
using namespace probe;
using probe::test::count_entries;
using probe::test::lab_bogons;
using probe::test::MockDns;
using probe::test::NetFixture;

namespace {

struct Servers {
  MockDns dns;
  NetFixture web;
};

struct Transport {
  std::string name;
  std::string label_prefix;  // how the observation names the resolver
  std::function<std::unique_ptr<Resolver>(EventLoop&, CurlMulti&, const DnsSettings&, const BogonTable&)> make;
};

std::vector<Transport> transports(const Servers& servers) {
  ResolverSpec mock;
  mock.address = "127.0.0.1";
  mock.port = servers.dns.port();
  DohServer doh;
  doh.url = "https://good.test:" + std::to_string(servers.web.port("doh")) + "/dns-query";
  doh.address = "127.0.0.1";
  doh.ca_bundle = servers.web.ca_file();
  return {
      {"udp", "127.0.0.1:",
       [mock](EventLoop& loop, CurlMulti&, const DnsSettings& settings, const BogonTable& bogons) {
         return std::unique_ptr<Resolver>(std::make_unique<DnsResolver>(loop, mock, settings, bogons, EventLoop::now()));
       }},
      {"tcp", "tcp:127.0.0.1:",
       [mock](EventLoop& loop, CurlMulti&, const DnsSettings& settings, const BogonTable& bogons) {
         return std::unique_ptr<Resolver>(std::make_unique<StreamResolver>(loop, plain_connector(loop), mock, settings,
                                                                           bogons, EventLoop::now(), "tcp:"));
       }},
      {"doh", "doh:https://good.test:",
       [doh](EventLoop& loop, CurlMulti& multi, const DnsSettings& settings, const BogonTable& bogons) {
         return std::unique_ptr<Resolver>(
             std::make_unique<DohResolver>(loop, multi, doh, settings, bogons, EventLoop::now()));
       }},
  };
}

DnsSettings settings_with(int timeout_ms) {
  DnsSettings settings;
  settings.timeout_ms = timeout_ms;
  settings.tries = 1;
  return settings;
}

std::string failure_of(const DnsQuery& query) { return query.failure ? query.failure->str() : "none"; }

struct Asked {
  std::vector<std::optional<DnsQuery>> answers;
  std::vector<int> calls;        // how often each callback ran
  std::vector<bool> returned;    // query() has returned for it
  bool inside_query = false;     // a callback ran before its query() returned
};

// Asks each name (A, then AAAA, alternately) at once on one resolver and runs the loop until it
// is idle; `after_ms` >= 0 destroys the resolver that long after the queries were sent.
Asked ask(const Transport& transport, const std::vector<std::string>& names, int timeout_ms, int after_ms = -1) {
  EventLoop loop;
  CurlMulti multi(loop);
  const BogonTable bogons = lab_bogons();
  std::unique_ptr<Resolver> resolver = transport.make(loop, multi, settings_with(timeout_ms), bogons);
  Asked asked;
  asked.answers.resize(names.size());
  asked.calls.assign(names.size(), 0);
  asked.returned.assign(names.size(), false);
  for (std::size_t i = 0; i < names.size(); ++i) {
    resolver->query(names[i], i % 2 == 0 ? k_type_a : k_type_aaaa, false, [&asked, i](DnsQuery query) {
      asked.inside_query = asked.inside_query || !asked.returned[i];
      ++asked.calls[i];
      asked.answers[i] = std::move(query);
    });
    asked.returned[i] = true;
  }
  if (after_ms >= 0) {
    loop.add_timer(Millis(after_ms), [&resolver]() { resolver.reset(); });
  }
  loop.run();
  return asked;
}

}  // namespace

TEST_CASE("DNS contract: every transport keeps the same query lifecycle", "[dns][contract]") {
  const Servers servers;
  for (const Transport& transport : transports(servers)) {
    INFO("transport " << transport.name);

    // An answer: addresses, NOERROR, the resolver named, the time taken.
    Asked asked = ask(transport, {"plain.test", "plain.test"}, 3000);
    for (std::size_t i = 0; i < 2; ++i) {
      REQUIRE(asked.answers[i]);
      const DnsQuery& query = *asked.answers[i];
      CHECK(failure_of(query) == "none");
      CHECK(query.rcode == "NOERROR");
      CHECK(query.type == (i == 0 ? "A" : "AAAA"));
      CHECK(query.resolver.rfind(transport.label_prefix, 0) == 0);
      CHECK_FALSE(query.answers.empty());
      CHECK(query.duration_ms >= 0);
    }

    // NXDOMAIN is the name's answer: its failure string and the rcode.
    asked = ask(transport, {"nxdomain.test"}, 3000);
    REQUIRE(asked.answers[0]);
    CHECK(failure_of(*asked.answers[0]) == "dns_nxdomain_error");
    CHECK(asked.answers[0]->rcode == "NXDOMAIN");

    // Silence is a timeout after the step's time, with no rcode.
    asked = ask(transport, {"silent.test"}, 400);
    REQUIRE(asked.answers[0]);
    CHECK(failure_of(*asked.answers[0]) == "generic_timeout_error");
    CHECK_FALSE(asked.answers[0]->rcode);
    CHECK(asked.answers[0]->duration_ms >= 300);
    CHECK(asked.answers[0]->duration_ms < 3000);

    // Many at once, different names: each callback runs exactly once, never from inside query(),
    // with its own answer (one address of the type asked).
    std::vector<std::string> many;
    for (int i = 0; i < 20; ++i) {
      many.push_back("host" + std::to_string(i) + ".test");
    }
    many[7] = "nxdomain.test";
    asked = ask(transport, many, 5000);
    CHECK_FALSE(asked.inside_query);
    for (std::size_t i = 0; i < many.size(); ++i) {
      INFO("query " << i);
      CHECK(asked.calls[i] == 1);
      REQUIRE(asked.answers[i]);
      CHECK(failure_of(*asked.answers[i]) == (i == 7 ? "dns_nxdomain_error" : "none"));
      if (i != 7) {
        const std::string type = i % 2 == 0 ? "A" : "AAAA";
        CHECK(std::count_if(asked.answers[i]->answers.begin(), asked.answers[i]->answers.end(),
                            [&type](const DnsAnswer& answer) { return answer.type == type; }) == 1);
      }
    }

    // A name no query can carry (a label over 63 bytes) fails the same way on every transport,
    // after query() returned.
    asked = ask(transport, {std::string(64, 'x') + ".test"}, 1000);
    CHECK_FALSE(asked.inside_query);
    REQUIRE(asked.answers[0]);
    CHECK(failure_of(*asked.answers[0]) == "unknown_failure: c-ares: Misformatted domain name");

    // A resolver destroyed with queries in flight completes each once as interrupted, at once,
    // and leaves no descriptor behind.
    const std::size_t fds_before = count_entries("/proc/self/fd");
    const MonoTime started = EventLoop::now();
    asked = ask(transport, {"silent.test", "silent.test", "silent.test"}, 5000, 200);
    CHECK(ms_between(started, EventLoop::now()) < 3000);
    for (std::size_t i = 0; i < 3; ++i) {
      CHECK(asked.calls[i] == 1);
      REQUIRE(asked.answers[i]);
      CHECK(failure_of(*asked.answers[i]) == "interrupted");
    }
    CHECK(count_entries("/proc/self/fd") == fds_before);

    // Destroyed before the loop ever ran: every query completes once, as interrupted, even one
    // that had failed before it could be sent.
    {
      EventLoop loop;
      CurlMulti multi(loop);
      const BogonTable bogons = lab_bogons();
      auto resolver = transport.make(loop, multi, settings_with(5000), bogons);
      std::vector<std::string> failures;
      for (const std::string& name : {std::string("plain.test"), std::string(64, 'x') + ".test"}) {
        resolver->query(name, k_type_a, false, [&failures](DnsQuery query) { failures.push_back(failure_of(query)); });
      }
      resolver.reset();
      loop.run();
      CHECK(failures == std::vector<std::string>{"interrupted", "interrupted"});
    }
  }
}
