#include <catch2/catch.hpp>

#include <map>
#include <set>

#include "dns/resolver.hpp"
#include "engine/engine.hpp"
#include "support/mock_dns.hpp"
#include "support/ports.hpp"

using namespace probe;
using probe::test::closed_udp_port;
using probe::test::MockDns;

namespace {

ResolverSpec mock_spec(const MockDns& server) {
  std::string problem;
  return *parse_resolver(server.address(), &problem);
}

Target dns_target(const std::string& host) {
  Target target;
  target.app = "test";
  target.host = host;
  target.kind = Kind::dns;
  return target;
}

RunSettings settings_for(std::vector<ResolverSpec> resolvers, int timeout_ms = 1000) {
  RunSettings settings;
  settings.timeout_ms = timeout_ms;
  settings.tries = 1;
  settings.resolvers = std::move(resolvers);
  std::string problem;
  // The mock answers from documentation ranges, as a lab does: allow them, as a lab run would.
  settings.allow_bogon = {*parse_cidr("192.0.2.0/24", &problem), *parse_cidr("198.18.0.0/15", &problem),
                          *parse_cidr("2001:db8::/32", &problem)};
  return settings;
}

// Queries keyed "<host> <type>".
std::map<std::string, DnsQuery> run_names(const std::vector<std::string>& names, const RunSettings& settings) {
  std::vector<Target> targets;
  for (const auto& name : names) {
    targets.push_back(dns_target(name));
  }
  std::map<std::string, DnsQuery> out;
  for (const TargetResult& result : measure(targets, settings, EventLoop::now())) {
    for (const DnsQuery& query : result.paths.at("direct").queries) {
      out[result.target.host + " " + query.type] = query;
    }
  }
  return out;
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

}  // namespace

TEST_CASE("each kind of DNS reply from a real server yields its observation and failure string", "[dns-mock]") {
  MockDns server;
  const auto queries =
      run_names({"nxdomain.test", "servfail.test", "refused.test", "empty.test", "bogon.test", "loopback.test",
                 "silent.test", "truncated.test", "many.test", "malformed.test", "garbage.test", "cname.test",
                 "plain.test"},
                settings_for({mock_spec(server)}));
  REQUIRE(queries.size() == 26);
  for (const auto& [key, query] : queries) {
    CHECK(query.resolver == "127.0.0.1:" + std::to_string(server.port()));
  }

  CHECK(failure_of(queries.at("nxdomain.test A")) == "dns_nxdomain_error");
  CHECK(queries.at("nxdomain.test A").rcode == "NXDOMAIN");
  CHECK(failure_of(queries.at("nxdomain.test AAAA")) == "dns_nxdomain_error");
  // SERVFAIL and REFUSED replies are kept, not retried away (ARES_FLAG_NOCHECKRESP).
  CHECK(failure_of(queries.at("servfail.test A")) == "dns_servfail_error");
  CHECK(queries.at("servfail.test A").rcode == "SERVFAIL");
  CHECK(failure_of(queries.at("refused.test AAAA")) == "dns_refused_error");
  CHECK(queries.at("refused.test AAAA").rcode == "REFUSED");
  CHECK(failure_of(queries.at("empty.test A")) == "dns_no_answer");
  CHECK(queries.at("empty.test A").rcode == "NOERROR");

  const DnsQuery& bogon = queries.at("bogon.test A");
  CHECK(failure_of(bogon) == "dns_bogon_error");
  REQUIRE(bogon.answers.size() == 1);
  CHECK(bogon.answers[0].value == "10.10.10.10");
  CHECK(bogon.answers[0].bogon);
  CHECK(failure_of(queries.at("bogon.test AAAA")) == "dns_bogon_error");
  CHECK(failure_of(queries.at("loopback.test A")) == "dns_bogon_error");

  const DnsQuery& silent = queries.at("silent.test A");
  CHECK(failure_of(silent) == "generic_timeout_error");
  CHECK_FALSE(silent.rcode);
  CHECK(silent.duration_ms >= 900);
  CHECK(silent.duration_ms < 3000);

  // The UDP reply has TC set; c-ares repeats the query over TCP and gets the answer.
  const DnsQuery& truncated = queries.at("truncated.test A");
  CHECK(failure_of(truncated) == "none");
  CHECK(values_of(truncated, "A") == std::vector<std::string>{"192.0.2.53"});
  CHECK(values_of(queries.at("truncated.test AAAA"), "AAAA") == std::vector<std::string>{"2001:db8::53"});

  const DnsQuery& many = queries.at("many.test A");
  CHECK(failure_of(many) == "none");
  CHECK(many.answers.size() == k_max_dns_addresses);  // of 2000: the rest is cut, and flagged
  CHECK(many.answers_truncated);
  CHECK(many.answers[0].ttl == 30);
  CHECK(many.raw_truncated);  // the raw reply is kept, capped
  CHECK(many.raw_base64.size() == 4096 / 3 * 4 + 4);
  CHECK(queries.at("many.test AAAA").answers.size() == k_max_dns_addresses);
  CHECK_FALSE(queries.at("truncated.test A").answers_truncated);

  CHECK(failure_of(queries.at("malformed.test A")) == "unknown_failure: malformed DNS reply: malformed answer record");
  // A reply shorter than a header is ignored by c-ares, as a real client would; nothing valid comes.
  CHECK(failure_of(queries.at("garbage.test A")) == "generic_timeout_error");

  const DnsQuery& cname = queries.at("cname.test A");
  CHECK(failure_of(cname) == "none");
  CHECK(cname.cname_chain == std::vector<std::string>{"alias.cname-target.test", "final.cname-target.test"});
  CHECK(values_of(cname, "A") == std::vector<std::string>{"192.0.2.77"});
  CHECK(values_of(queries.at("cname.test AAAA"), "AAAA") == std::vector<std::string>{"2001:db8::77"});

  const DnsQuery& plain = queries.at("plain.test A");
  CHECK(failure_of(plain) == "none");
  REQUIRE(plain.answers.size() == 1);
  CHECK(plain.answers[0].value == "192.0.2.1");
  CHECK(plain.answers[0].ttl == 300);
  CHECK_FALSE(plain.answers[0].bogon);  // allowed range
  CHECK_FALSE(plain.raw_base64.empty());
}

TEST_CASE("without --allow-bogon, documentation-range answers are bogons", "[dns-mock]") {
  MockDns server;
  RunSettings settings = settings_for({mock_spec(server)});
  settings.allow_bogon.clear();
  const auto queries = run_names({"plain.test"}, settings);
  CHECK(failure_of(queries.at("plain.test A")) == "dns_bogon_error");
  CHECK(queries.at("plain.test A").answers.at(0).bogon);
}

TEST_CASE("a resolver port with nothing listening gives connection_refused", "[dns-mock]") {
  std::string problem;
  const auto spec = parse_resolver("127.0.0.1:" + std::to_string(closed_udp_port()), &problem);
  const auto queries = run_names({"plain.test"}, settings_for({*spec}));
  CHECK(failure_of(queries.at("plain.test A")) == "connection_refused");
  CHECK(failure_of(queries.at("plain.test AAAA")) == "connection_refused");
}

TEST_CASE("every resolver gets its own channel and its own observations", "[dns-mock]") {
  MockDns first;
  MockDns second;
  const auto results = measure({dns_target("plain.test")}, settings_for({mock_spec(first), mock_spec(second)}),
                               EventLoop::now());
  REQUIRE(results.size() == 1);
  const auto& queries = results[0].paths.at("direct").queries;
  REQUIRE(queries.size() == 4);
  std::set<std::string> labels;
  for (const auto& query : queries) {
    labels.insert(query.resolver);
    CHECK(failure_of(query) == "none");
  }
  CHECK(labels == std::set<std::string>{first.address(), second.address()});
}
