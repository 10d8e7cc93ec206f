#include <catch2/catch.hpp>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "verdict/blockpages.hpp"
#include "verdict/verdict.hpp"

using namespace probe;

namespace {

const std::string k_good = "10.77.12.3";   // the site's address: both paths' resolvers agree on it
const std::string k_other = "10.77.20.1";  // another edge of the same site (a CDN)
const std::string k_bogus = "10.77.5.80";  // a plausible public address that serves nothing
const std::string k_v6 = "2001:db8:77::3";
const std::string k_system = "system:10.77.1.1:53";
const std::string k_control_dns = "tcp:10.77.9.9:53";
const std::string k_injection = "injection:10.77.250.1:53";
const std::string k_root = "DigiCert Global Root G2";

FailureInfo failure(const std::string& text) {
  const std::optional<Failure> code = failure_from_string(text);
  REQUIRE(code);
  return FailureInfo{*code, ""};
}

// Builds a TargetResult step by step: a query or an endpoint is added, then the calls after it
// fill that query or endpoint in.
class Obs {
public:
  explicit Obs(Kind kind = Kind::https, std::string host = "chat.example.org") {
    m_result.target.app = "example";
    m_result.target.host = std::move(host);
    m_result.target.kind = kind;
    m_result.target.port = kind == Kind::tcp ? std::optional<std::uint16_t>(5222) : default_port(kind);
  }

  Obs& bogon_expected() {
    m_result.target.bogon_expected = true;
    return *this;
  }
  Obs& any_response() {
    m_result.target.any_response = true;
    return *this;
  }

  // DNS. An empty answer list is a NOERROR reply without addresses (dns_no_answer).
  Obs& query(const std::string& path, const std::string& resolver, const std::string& type,
             const std::vector<std::string>& addresses) {
    DnsQuery query;
    query.resolver = resolver;
    query.type = type;
    query.rcode = "NOERROR";
    for (const std::string& address : addresses) {
      query.answers.push_back(DnsAnswer{type, address, 300, false});
    }
    if (addresses.empty()) {
      query.failure = FailureInfo{Failure::dns_no_answer, ""};
    }
    auto& queries = m_result.paths[path].queries;
    queries.push_back(query);
    m_query = &queries.back();
    m_endpoint = nullptr;
    return *this;
  }
  Obs& system(const std::string& type, const std::vector<std::string>& addresses) {
    return query("direct", k_system, type, addresses);
  }
  Obs& control_query(const std::string& type, const std::vector<std::string>& addresses,
                     const std::string& path = "control") {
    return query(path, k_control_dns, type, addresses);
  }
  Obs& query_fail(const std::string& path, const std::string& resolver, const std::string& type,
                  const std::string& text) {
    query(path, resolver, type, {});
    m_query->failure = failure(text);
    if (text == "dns_nxdomain_error") {
      m_query->rcode = "NXDOMAIN";
    } else if (text != "dns_no_answer") {
      m_query->rcode = std::nullopt;
    }
    return *this;
  }
  // The last query's answers are special-purpose addresses (the resolver flags them, and calls
  // the query a dns_bogon_error unless the target expects them).
  Obs& bogon() {
    for (DnsAnswer& answer : m_query->answers) {
      answer.bogon = true;
    }
    if (!m_result.target.bogon_expected) {
      m_query->failure = FailureInfo{Failure::dns_bogon_error, ""};
    }
    return *this;
  }

  // Endpoints.
  Obs& ep(const std::string& path, const std::string& address) {
    EndpointObservation endpoint;
    endpoint.address = address;
    endpoint.port = m_result.target.port.value_or(0);
    endpoint.family = address.find(':') != std::string::npos ? 6 : 4;
    endpoint.sources = {path};
    auto& endpoints = m_result.paths[path].endpoints;
    endpoints.push_back(endpoint);
    m_endpoint = &endpoints.back();
    m_query = nullptr;
    return *this;
  }
  Obs& direct_ep(const std::string& address) { return ep("direct", address); }
  Obs& control_ep(const std::string& address, const std::string& path = "control") { return ep(path, address); }
  Obs& not_tested(const std::string& why = "no IPv6 route on this path") {
    m_endpoint->not_tested = why;
    return *this;
  }
  Obs& tcp_ok() {
    m_endpoint->tcp = TcpObservation{};
    return *this;
  }
  Obs& tcp_fail(const std::string& text) {
    m_endpoint->tcp = TcpObservation{};
    m_endpoint->tcp->failure = failure(text);
    return *this;
  }
  Obs& tls_ok(const std::string& root = k_root) {
    TlsObservation tls;
    tls.sni = m_result.target.host;
    tls.verified = true;
    tls.root = root;
    m_endpoint->tls = tls;
    return *this;
  }
  Obs& tls_fail(const std::string& text) {
    TlsObservation tls;
    tls.sni = m_result.target.host;
    tls.failure = failure(text);
    m_endpoint->tls = tls;
    return *this;
  }
  Obs& http(int status, const std::string& title = "Example Chat Service", std::uint64_t length = 5000) {
    HttpObservation http;
    http.status = status;
    if (!title.empty()) {
      http.title = title;
    }
    http.body_length = length;
    m_endpoint->http = http;
    return *this;
  }
  // How the body read ended, and (on a timeout) how long the connection had been silent.
  Obs& body_stop(const std::string& why, double duration_ms = 0, std::optional<double> idle_ms = std::nullopt) {
    m_endpoint->http->body_stop = why.empty() ? std::nullopt : std::optional<std::string>(why);
    m_endpoint->http->duration_ms = duration_ms;
    m_endpoint->http->idle_ms = idle_ms;
    m_endpoint->http->bytes_received = 16384;
    return *this;
  }
  Obs& http_fail(const std::string& text) {
    m_endpoint->http = HttpObservation{};
    m_endpoint->http->failure = failure(text);
    return *this;
  }
  Obs& header(const std::string& name, const std::string& value) {
    m_endpoint->http->headers.emplace_back(name, value);
    return *this;
  }
  Obs& stun_ok() {
    m_endpoint->stun = StepTiming{};
    return *this;
  }
  Obs& stun_fail(const std::string& text) {
    m_endpoint->stun = StepTiming{};
    m_endpoint->stun->failure = failure(text);
    return *this;
  }
  // Every step the kind needs succeeds.
  Obs& works(const std::string& root = k_root) {
    switch (m_result.target.kind) {
      case Kind::stun:
        return stun_ok();
      case Kind::tcp:
        return tcp_ok();
      case Kind::tls:
        return tcp_ok().tls_ok(root);
      case Kind::http:
        return tcp_ok().http(200);
      case Kind::https:
        return tcp_ok().tls_ok(root).http(200);
      case Kind::dns:
        break;
    }
    return *this;
  }
  Obs& decoy_ok() {
    TlsObservation decoy;
    decoy.sni = "www.example.net";
    decoy.decoy_sni = true;
    m_endpoint->decoy_tls = decoy;
    return *this;
  }
  Obs& decoy_fail(const std::string& text) {
    decoy_ok();
    m_endpoint->decoy_tls->failure = failure(text);
    return *this;
  }
  // The re-test of the step that failed; an empty failure means it passed.
  Obs& retest(const std::string& step, const std::string& text = "") {
    RetestObservation retest;
    retest.step = step;
    if (!text.empty()) {
      retest.failure = failure(text);
    }
    m_endpoint->retest = retest;
    return *this;
  }
  Obs& residual() {
    m_endpoint->residual = true;
    return *this;
  }
  // The throughput phase's records (engine.cpp): a body sample at `rate` bytes per second (no
  // rate: too small to time), the real and the decoy name's handshakes (an empty failure: it got
  // through in `ms`), a body sample under the decoy name.
  static RateSample rate_sample(std::optional<double> rate, std::uint64_t bytes, const std::string& stop) {
    RateSample sample;
    sample.rate = rate;
    sample.bytes = bytes;
    sample.duration_ms = rate ? static_cast<double>(bytes) * 1000.0 / *rate : 5.0;
    sample.body_stop = stop;
    return sample;
  }
  ThroughputObservation& throughput() {
    if (!m_endpoint->throughput) {
      m_endpoint->throughput.emplace();
    }
    return *m_endpoint->throughput;
  }
  Obs& sample(std::optional<double> rate, std::uint64_t bytes = 65536, const std::string& stop = "cap") {
    throughput().sample = rate_sample(rate, bytes, stop);
    return *this;
  }
  Obs& handshakes(double real_ms, double decoy_ms, const std::string& real_failure = "") {
    RateSample real;
    real.duration_ms = real_ms;
    real.bytes = 1500;
    if (!real_failure.empty()) {
      real.failure = failure(real_failure);
    }
    RateSample decoy;
    decoy.duration_ms = decoy_ms;
    decoy.bytes = 1500;
    throughput().handshake = real;
    throughput().decoy_handshake = decoy;
    return *this;
  }
  Obs& decoy_sample(std::optional<double> rate, std::uint64_t bytes, const std::string& stop) {
    throughput().decoy_sample = rate_sample(rate, bytes, stop);
    return *this;
  }

  const TargetResult& result() const { return m_result; }

private:
  TargetResult m_result;
  DnsQuery* m_query = nullptr;
  EndpointObservation* m_endpoint = nullptr;
};

const PathStatus k_direct{"direct", false, false};
const std::vector<PathStatus> k_direct_only{k_direct};
const std::vector<PathStatus> k_healthy{k_direct, PathStatus{"control", true, true}};
const std::vector<PathStatus> k_unhealthy{k_direct, PathStatus{"control", true, false}};

// The usual healthy control: its resolver answers the site's address, which works over it.
Obs& control_works(Obs& obs, const std::string& path = "control") {
  return obs.control_query("A", {k_good}, path).control_ep(k_good, path).works();
}

Obs https_target() { return Obs(Kind::https); }

// One row of the table: the observations, the paths, and what the verdict must say.
}  // namespace

namespace {

std::vector<std::string> names(const std::vector<Signature>& signatures) {
  std::vector<std::string> out;
  for (Signature signature : signatures) {
    out.emplace_back(to_string(signature));
  }
  return out;
}

struct Case {
  Case(std::string case_name, const Obs& obs, std::vector<PathStatus> case_paths, Status expected_status,
       std::optional<std::string> expected_method, std::string detail_part)
      : name(std::move(case_name)),
        result(obs.result()),
        paths(std::move(case_paths)),
        status(expected_status),
        method(std::move(expected_method)),
        detail_has(std::move(detail_part)) {}

  Case& evidence(std::string part) {
    evidence_has = std::move(part);
    return *this;
  }
  Case& methods(std::vector<std::string> layers) {
    exact_methods = std::move(layers);
    return *this;
  }
  Case& detail_lacks(std::string part) {
    detail_without = std::move(part);
    return *this;
  }
  Case& evidence_lacks(std::string part) {
    evidence_without = std::move(part);
    return *this;
  }
  Case& interrupted() {
    run_interrupted = true;
    return *this;
  }
  Case& signature(Signature word) {
    signatures.push_back(word);
    return *this;
  }

  std::string name;
  TargetResult result;
  std::vector<PathStatus> paths;
  Status status;
  std::optional<std::string> method;
  std::string detail_has;                  // a substring the detail must contain
  std::string evidence_has;                // a substring one evidence line must contain
  std::vector<std::string> exact_methods;  // when not empty, exactly these
  std::string detail_without;              // a substring the detail must not contain
  std::string evidence_without;            // a substring no evidence line may contain
  bool run_interrupted = false;
  std::vector<Signature> signatures;       // exactly these, in this order
};

// Rule 1: interrupted.
std::vector<Case> interrupted_cases() {
  std::vector<Case> out;
  const auto add = [&](const Case& c) { out.push_back(c); };
  {
    Obs obs = https_target();
    obs.system("A", {k_good})
        .direct_ep(k_good)
        .tcp_fail("generic_timeout_error")
        .retest("tcp", "generic_timeout_error");
    control_works(obs);
    add(Case("an interrupted run is inconclusive even where direct looks blocked", obs, k_healthy, Status::inconclusive,
             std::nullopt, "interrupted")
            .interrupted()
            .signature(Signature::interrupted));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good})
        .direct_ep(k_good)
        .tcp_ok()
        .tls_fail("connection_reset")
        .decoy_ok()
        .retest("tls", "interrupted");
    control_works(obs);
    add(Case("a re-test cut by the end of the run is inconclusive", obs, k_healthy, Status::inconclusive, std::nullopt,
             "interrupted")
            .evidence("direct 10.77.12.3:443 interrupted")
            .signature(Signature::interrupted));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good}).direct_ep(k_good).tcp_ok().tls_fail("interrupted");
    control_works(obs);
    add(Case("an interrupted step is inconclusive", obs, k_healthy, Status::inconclusive, std::nullopt, "interrupted")
            .signature(Signature::interrupted));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good})
        .direct_ep(k_good)
        .tcp_fail("generic_timeout_error")
        .retest("tcp", "generic_timeout_error");
    obs.query_fail("control", k_control_dns, "A", "interrupted").control_ep(k_good).works();
    add(Case("an interrupted control query is inconclusive", obs, k_healthy, Status::inconclusive, std::nullopt,
             "interrupted")
            .signature(Signature::interrupted));
  }
  return out;
}

// Rule 2: accessible.
std::vector<Case> accessible_cases() {
  std::vector<Case> out;
  const auto add = [&](const Case& c) { out.push_back(c); };
  {
    Obs obs = https_target();
    obs.system("A", {k_good}).direct_ep(k_good).works();
    control_works(obs);
    add(Case("direct works with its own answers", obs, k_healthy, Status::accessible, std::nullopt, "works over direct")
            .evidence("direct 10.77.12.3:443 https 200"));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good}).direct_ep(k_good).works();
    obs.query_fail("control", k_control_dns, "A", "proxy_error").control_ep(k_good).tcp_fail("proxy_error");
    add(Case("control down: a working target stays accessible", obs, k_unhealthy, Status::accessible, std::nullopt,
             "works over direct"));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_other}).direct_ep(k_other).works();
    obs.direct_ep(k_good).tcp_fail("generic_timeout_error").retest("tcp", "generic_timeout_error");
    control_works(obs);
    obs.control_ep(k_other).works();
    add(Case("CDN answers that differ but validate are accessible", obs, k_healthy, Status::accessible, std::nullopt,
             "works over direct")
            .evidence("direct 10.77.20.1:443 https 200"));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good}).direct_ep(k_good).tcp_ok().tls_fail("connection_reset").retest("tls");
    control_works(obs);
    add(Case("a flaky step whose re-test passed is accessible", obs, k_healthy, Status::accessible, std::nullopt,
             "flaky")
            .evidence("tls connection_reset (re-test: ok)"));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good}).direct_ep(k_good).tcp_fail("generic_timeout_error").retest("tcp");
    control_works(obs);
    add(Case("a TCP connect that timed out once and passed its re-test is accessible", obs, k_healthy,
             Status::accessible, std::nullopt, "flaky")
            .evidence("tcp generic_timeout_error (re-test: ok)"));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good}).direct_ep(k_good).tcp_ok().tls_ok().http_fail("connection_reset").retest("http");
    control_works(obs);
    add(Case("a request reset once that passed its re-test is accessible", obs, k_healthy, Status::accessible,
             std::nullopt, "flaky")
            .evidence("http connection_reset (re-test: ok)"));
  }
  {
    Obs obs(Kind::tcp, "edge-mqtt.example.org");
    obs.system("A", {k_good}).direct_ep(k_good).tcp_fail("connection_refused").retest("tcp");
    obs.control_query("A", {k_good}).control_ep(k_good).tcp_ok();
    add(Case("a refused TCP target that connects on its re-test is accessible", obs, k_healthy, Status::accessible,
             std::nullopt, "flaky")
            .evidence("tcp connection_refused (re-test: ok)"));
  }
  {
    Obs obs(Kind::stun, "stun.example.org");
    obs.system("A", {k_good}).direct_ep(k_good).stun_fail("generic_timeout_error").retest("stun");
    obs.control_query("A", {k_good}).control_ep(k_good).not_tested("UDP is not carried over a proxy path");
    add(Case("a STUN request that timed out once and passed its re-test is accessible", obs, k_healthy,
             Status::accessible, std::nullopt, "flaky")
            .evidence("stun generic_timeout_error (re-test: ok)"));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good}).direct_ep(k_good).tcp_ok().tls_ok().http(200, "Example Chat", 90000);
    obs.control_query("A", {k_good}).control_ep(k_good).tcp_ok().tls_ok().http(403, "Just a moment...", 800);
    add(Case("an HTTPS challenge page on control is never compared", obs, k_healthy, Status::accessible, std::nullopt,
             "works over direct"));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good}).direct_ep(k_good).tcp_ok().tls_ok().http(451, "Unavailable", 300);
    control_works(obs);
    add(Case("any HTTPS status over a validated certificate is the site's answer", obs, k_healthy, Status::accessible,
             std::nullopt, "works over direct")
            .evidence("https 451"));
  }
  {
    Obs obs(Kind::http, "news.example.org");
    obs.system("A", {k_good}).direct_ep(k_good).tcp_ok().http(200, "Example News Today", 5000);
    obs.control_query("A", {k_good}).control_ep(k_good).tcp_ok().http(200, "Example News Today", 5300);
    add(Case("a plain-HTTP response that matches control's is accessible", obs, k_healthy, Status::accessible,
             std::nullopt, "works over direct"));
  }
  {
    Obs obs = https_target();
    obs.query("direct", "10.77.8.8:53", "A", {k_good}).direct_ep(k_good).works();
    obs.query_fail("direct", k_injection, "A", "generic_timeout_error");
    control_works(obs);
    add(Case("without a system resolver the --resolver answers are direct's own", obs, k_healthy, Status::accessible,
             std::nullopt, "works over direct"));
  }
  {
    Obs obs(Kind::dns, "chat.example.org");
    obs.system("A", {"10.77.12.40"});
    obs.control_query("A", {k_good});
    add(Case("a dns target whose answers share a /24 with control's is accessible", obs, k_healthy, Status::accessible,
             std::nullopt, "agree")
            .evidence("10.77.12.40"));
  }
  {
    Obs obs(Kind::dns, "localhost.example.org");
    obs.bogon_expected().system("A", {"127.0.0.1"}).bogon();
    obs.control_query("A", {"127.0.0.1"}).bogon();
    add(Case("a bogon_expected target answering 127.0.0.1 on both paths is accessible", obs, k_healthy,
             Status::accessible, std::nullopt, "agree"));
  }
  return out;
}

// Rule 3: no healthy control path.
std::vector<Case> no_control_cases() {
  std::vector<Case> out;
  const auto add = [&](const Case& c) { out.push_back(c); };
  {
    Obs obs = https_target();
    obs.system("A", {k_good})
        .direct_ep(k_good)
        .tcp_ok()
        .tls_fail("connection_reset")
        .decoy_ok()
        .retest("tls", "connection_reset");
    add(Case("a TLS reset with no healthy control is an anomaly", obs, k_unhealthy, Status::anomaly, std::nullopt,
             "TLS reset after the ClientHello")
            .evidence("direct 10.77.12.3:443 tls connection_reset (re-test: connection_reset); decoy SNI ok")
            .signature(Signature::tls_reset)
            .signature(Signature::sni));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good})
        .direct_ep(k_good)
        .tcp_ok()
        .tls_fail("generic_timeout_error")
        .retest("tls", "generic_timeout_error");
    add(Case("a TLS timeout with no control is no signature", obs, k_direct_only, Status::inconclusive, std::nullopt,
             "no healthy control path and no censorship signature"));
  }
  {
    Obs obs = https_target();
    obs.query_fail("direct", k_system, "A", "generic_timeout_error")
        .query_fail("direct", k_system, "AAAA", "generic_timeout_error");
    add(Case("a direct-only run where nothing resolves is inconclusive, never down", obs, k_direct_only,
             Status::inconclusive, std::nullopt, "the vantage point seems offline: nothing resolves"));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good})
        .direct_ep(k_good)
        .tcp_fail("generic_timeout_error")
        .retest("tcp", "generic_timeout_error");
    add(Case("a direct-only run with TCP timeouts is inconclusive, never down", obs, k_direct_only,
             Status::inconclusive, std::nullopt, "no healthy control path and no censorship signature")
            .evidence("direct 10.77.12.3:443 tcp generic_timeout_error"));
  }
  {
    Obs obs = https_target();
    obs.query_fail("direct", k_system, "A", "dns_nxdomain_error");
    add(Case("NXDOMAIN with no control is inconclusive", obs, k_direct_only, Status::inconclusive, std::nullopt,
             "no censorship signature"));
  }
  {
    Obs obs = https_target();
    obs.system("A", {"10.10.34.34"}).bogon().direct_ep("10.10.34.34").not_tested("special-purpose address");
    add(Case("a bogon answer with no control is an anomaly", obs, k_direct_only, Status::anomaly, std::nullopt,
             "special-purpose address")
            .evidence("-> 10.10.34.34 dns_bogon_error (bogon)")
            .signature(Signature::bogon));
  }
  {
    Obs obs(Kind::dns, "localhost.example.org");
    obs.bogon_expected().system("A", {"127.0.0.1"}).bogon();
    add(Case("a bogon_expected target answering 127.0.0.1 is no signature", obs, k_direct_only, Status::inconclusive,
             std::nullopt, "no censorship signature"));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good})
        .direct_ep(k_good)
        .tcp_fail("generic_timeout_error")
        .retest("tcp", "generic_timeout_error");
    obs.query("direct", k_injection, "A", {k_bogus});
    obs.direct_ep(k_bogus).tcp_ok().tls_fail("ssl_invalid_hostname").retest("tls", "ssl_invalid_hostname");
    add(Case("an answered injection probe with no control is an anomaly", obs, k_direct_only, Status::anomaly,
             std::nullopt, "injected DNS answers")
            .evidence("injection:10.77.250.1:53 A -> 10.77.5.80 (injected)")
            .signature(Signature::injected));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good}).direct_ep(k_good).works();
    obs.query("direct", k_injection, "A", {k_good});
    add(Case("an injection probe answered with working addresses is no signature", obs, k_direct_only,
             Status::accessible, std::nullopt, ""));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good})
        .direct_ep(k_good)
        .tcp_fail("generic_timeout_error")
        .retest("tcp", "generic_timeout_error");
    obs.query("direct", k_injection, "A", {k_other}).direct_ep(k_other).works();
    add(Case("an injection probe answered with an address that works is no signature", obs, k_direct_only,
             Status::inconclusive, std::nullopt, "no censorship signature"));
  }
  {
    Obs obs(Kind::http, "news.example.org");
    obs.system("A", {k_good}).direct_ep(k_good).tcp_ok().http(200, "Telekomünikasyon İletişim Başkanlığı", 900);
    add(Case("a known blockpage with no control is an anomaly", obs, k_direct_only, Status::anomaly, std::nullopt,
             "ooni.tr_0")
            .signature(Signature::blockpage));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good}).direct_ep(k_good).tcp_ok().tls_fail("connection_reset").retest("tls", "connection_reset");
    obs.query_fail("control", k_control_dns, "A", "proxy_error").control_ep(k_good).tcp_fail("proxy_error");
    add(Case("a healthy control with only proxy_error says nothing: anomaly, not blocked", obs, k_healthy,
             Status::anomaly, std::nullopt, "no healthy control path")
            .signature(Signature::tls_reset));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good})
        .direct_ep(k_good)
        .tcp_fail("generic_timeout_error")
        .retest("tcp", "generic_timeout_error");
    obs.query_fail("control", k_control_dns, "A", "proxy_error").control_ep(k_good).tcp_fail("proxy_error");
    add(Case("a healthy control with only proxy_error never makes a target down", obs, k_healthy, Status::inconclusive,
             std::nullopt, "no healthy control path could test this target and no censorship signature"));
  }
  {
    Obs obs(Kind::stun, "stun.example.org");
    obs.system("A", {"127.0.0.1"}).bogon().direct_ep("127.0.0.1").not_tested("special-purpose address");
    obs.control_query("A", {k_good}).control_ep(k_good).not_tested("UDP is not carried over a proxy path");
    add(Case("STUN over a healthy proxy: the control could not test it, which the detail says", obs, k_healthy,
             Status::anomaly, std::nullopt, "no healthy control path could test this target; direct shows a special")
            .signature(Signature::bogon));
  }
  {
    Obs obs(Kind::stun, "stun.example.org");
    obs.system("A", {k_good}).direct_ep(k_good).stun_fail("generic_timeout_error").retest("stun", "generic_timeout_error");
    obs.control_query("A", {k_good}).control_ep(k_good).not_tested("UDP is not carried over a proxy path");
    add(Case("a STUN timeout with only a proxy control is inconclusive, never blocked", obs, k_healthy,
             Status::inconclusive, std::nullopt, "no healthy control path could test this target and no censorship"));
  }
  return out;
}

// Rule 4: down.
std::vector<Case> down_cases() {
  std::vector<Case> out;
  const auto add = [&](const Case& c) { out.push_back(c); };
  {
    Obs obs = https_target();
    obs.system("A", {k_good})
        .direct_ep(k_good)
        .tcp_fail("generic_timeout_error")
        .retest("tcp", "generic_timeout_error");
    obs.control_query("A", {k_good}).control_ep(k_good).tcp_fail("generic_timeout_error");
    add(Case("a target that fails everywhere is down", obs, k_healthy, Status::down, std::nullopt,
             "fails over every healthy control path")
            .evidence("control 10.77.12.3:443 tcp generic_timeout_error"));
  }
  {
    Obs obs = https_target();
    obs.query_fail("direct", k_system, "A", "dns_nxdomain_error");
    obs.query_fail("control", k_control_dns, "A", "dns_nxdomain_error");
    add(Case("NXDOMAIN everywhere with a healthy control is down", obs, k_healthy, Status::down, std::nullopt,
             "resolves over no path")
            .evidence("control tcp:10.77.9.9:53 A dns_nxdomain_error"));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good}).direct_ep(k_good).tcp_fail("connection_refused").retest("tcp", "connection_refused");
    obs.control_query("A", {k_good}).control_ep(k_good).tcp_fail("connection_refused");
    obs.control_query("A", {k_good}, "control-2").control_ep(k_good, "control-2").tcp_fail("generic_timeout_error");
    add(Case("every healthy control failing makes the target down", obs,
             {k_direct, PathStatus{"control", true, true}, PathStatus{"control-2", true, true}}, Status::down,
             std::nullopt, "fails over every healthy control path"));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good})
        .direct_ep(k_good)
        .tcp_fail("generic_timeout_error")
        .retest("tcp", "generic_timeout_error");
    obs.control_query("A", {k_good}).control_ep(k_good).tcp_fail("generic_timeout_error");
    control_works(obs, "control-2");
    add(Case("an unhealthy control that works is ignored", obs,
             {k_direct, PathStatus{"control", true, true}, PathStatus{"control-2", true, false}}, Status::down,
             std::nullopt, "fails over every healthy control path")
            .evidence_lacks("control-2"));
  }
  // Congestion: a fifth or more of a path's steps timed out and most of its re-tested timeouts
  // got through at low concurrency (PathStatus::congested). A target that times out everywhere,
  // re-tests included, is then down only where a control path that is not congested, or a
  // failure that is not a timeout, says so.
  const PathStatus congested_direct{"direct", false, false, true};
  const PathStatus congested_control{"control", true, true, true};
  const auto timing_out = [](Obs& obs, const std::string& path) -> Obs& {
    if (path == "direct") {
      return obs.system("A", {k_good}).direct_ep(k_good).tcp_ok().tls_fail("generic_timeout_error").retest(
          "tls", "generic_timeout_error");
    }
    return obs.control_query("A", {k_good}, path)
        .control_ep(k_good, path)
        .tcp_ok()
        .tls_fail("generic_timeout_error")
        .retest("tls", "generic_timeout_error");
  };
  {
    Obs obs = https_target();
    timing_out(obs, "direct");
    timing_out(obs, "control");
    obs.query_fail("control", k_control_dns, "AAAA", "dns_no_answer");
    add(Case("timeouts everywhere on congested paths are inconclusive with signature congested, not down", obs,
             {congested_direct, congested_control}, Status::inconclusive, std::nullopt,
             "only by timeouts on a congested path (direct, control)")
            .signature(Signature::congested)
            .evidence("control 10.77.12.3:443 tls generic_timeout_error (re-test: generic_timeout_error)"));
  }
  {
    Obs obs = https_target();
    timing_out(obs, "direct");
    timing_out(obs, "control");
    add(Case("a congested direct path with a control that is not congested: the target is down", obs,
             {congested_direct, PathStatus{"control", true, true}}, Status::down, std::nullopt,
             "fails over every healthy control path"));
  }
  {
    Obs obs = https_target();
    timing_out(obs, "direct");
    obs.control_query("A", {k_good}).control_ep(k_good).tcp_fail("connection_refused");
    add(Case("a refusal over a congested control is not the link's: down", obs, {congested_direct, congested_control},
             Status::down, std::nullopt, "fails over every healthy control path"));
  }
  {
    Obs obs = https_target();
    obs.query_fail("direct", k_system, "A", "generic_timeout_error");
    obs.query_fail("control", k_control_dns, "A", "dns_nxdomain_error");
    add(Case("NXDOMAIN over a congested control is an answer, not the link: down", obs,
             {congested_direct, congested_control}, Status::down, std::nullopt, "resolves over no path"));
  }
  {
    Obs obs = https_target();
    timing_out(obs, "direct");
    timing_out(obs, "control");
    timing_out(obs, "control-2");
    add(Case("of two controls, one not congested that times out too makes it down", obs,
             {congested_direct, congested_control, PathStatus{"control-2", true, true}}, Status::down, std::nullopt,
             "fails over every healthy control path"));
  }
  {
    Obs obs = https_target();
    timing_out(obs, "direct");
    obs.control_query("A", {k_good})
        .control_ep(k_good)
        .tcp_ok()
        .tls_fail("generic_timeout_error")
        .retest("tls");
    add(Case("a control re-test that gets through makes control work: direct's confirmed timeout is blocking",
             obs, {congested_direct, congested_control}, Status::blocked, "tls", "the handshake fails")
            .signature(Signature::tls_timeout));
  }
  return out;
}

// Rule 5: blocked, and the traps on the way to it.
std::vector<Case> blocked_cases() {
  std::vector<Case> out;
  const auto add = [&](const Case& c) { out.push_back(c); };
  {
    Obs obs = https_target();
    obs.system("A", {k_bogus})
        .direct_ep(k_bogus)
        .tcp_ok()
        .tls_fail("ssl_invalid_hostname")
        .retest("tls", "ssl_invalid_hostname");
    obs.direct_ep(k_good).works();
    control_works(obs);
    obs.control_ep(k_bogus).tcp_ok().tls_fail("ssl_invalid_hostname");
    add(Case("bogus DNS while control's addresses work from direct is blocked dns", obs, k_healthy, Status::blocked,
             "dns", "do not serve the target")
            .evidence("direct system:10.77.1.1:53 A -> 10.77.5.80 (no valid TLS there)")
            .methods(std::vector<std::string>{"dns"})
            .signature(Signature::answers_fail_tls));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_bogus})
        .direct_ep(k_bogus)
        .tcp_fail("generic_timeout_error")
        .retest("tcp", "generic_timeout_error");
    obs.direct_ep(k_good).works();
    control_works(obs);
    obs.control_ep(k_bogus).tcp_fail("generic_timeout_error");
    add(Case("addresses that lead nowhere (the Great Firewall's way) are blocked dns", obs, k_healthy, Status::blocked,
             "dns", "dns:")
            .evidence("control 10.77.12.3:443 https 200")
            .methods(std::vector<std::string>{"dns"})
            .signature(Signature::answers_fail_tls));
  }
  {
    Obs obs = https_target();
    obs.query_fail("direct", k_system, "A", "dns_nxdomain_error").direct_ep(k_good).works();
    control_works(obs);
    add(Case("NXDOMAIN on direct while control resolves is blocked dns", obs, k_healthy, Status::blocked, "dns",
             "dns_nxdomain_error")
            .evidence("direct system:10.77.1.1:53 A dns_nxdomain_error")
            .methods(std::vector<std::string>{"dns"})
            .signature(Signature::nxdomain));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_bogus})
        .direct_ep(k_bogus)
        .tcp_fail("generic_timeout_error")
        .retest("tcp", "generic_timeout_error");
    obs.query("direct", k_injection, "A", {k_bogus});
    obs.direct_ep(k_good).works();
    control_works(obs);
    obs.control_ep(k_bogus).tcp_fail("generic_timeout_error");
    add(Case("injected answers with a healthy control are blocked dns", obs, k_healthy, Status::blocked, "dns",
             "injected")
            .evidence("(injected)")
            .methods(std::vector<std::string>{"dns"})
            .signature(Signature::injected));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good})
        .direct_ep(k_good)
        .tcp_ok()
        .tls_fail("connection_reset")
        .decoy_ok()
        .retest("tls", "connection_reset");
    control_works(obs);
    add(Case("a TLS reset with the decoy passing is blocked tls (sni)", obs, k_healthy, Status::blocked, "tls", "sni")
            .evidence("direct 10.77.12.3:443 tls connection_reset (re-test: connection_reset); decoy SNI ok")
            .methods(std::vector<std::string>{"tls"})
            .signature(Signature::tls_reset)
            .signature(Signature::sni));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good})
        .direct_ep(k_good)
        .tcp_ok()
        .tls_fail("connection_reset")
        .decoy_fail("connection_reset")
        .retest("tls", "connection_reset");
    control_works(obs);
    add(Case("a TLS reset with the decoy failing too is blocked tls, not sni", obs, k_healthy, Status::blocked, "tls",
             "connection_reset")
            .evidence("decoy SNI connection_reset")
            .methods(std::vector<std::string>{"tls"})
            .detail_lacks("sni")
            .signature(Signature::tls_reset));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good})
        .direct_ep(k_good)
        .tcp_ok()
        .tls_fail("generic_timeout_error")
        .decoy_ok()
        .retest("tls", "generic_timeout_error");
    control_works(obs);
    add(Case("a dropped ClientHello is blocked tls", obs, k_healthy, Status::blocked, "tls", "generic_timeout_error")
            .methods(std::vector<std::string>{"tls"})
            .signature(Signature::tls_timeout)
            .signature(Signature::sni));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good})
        .direct_ep(k_good)
        .tcp_ok()
        .tls_fail("ssl_unknown_authority")
        .retest("tls", "ssl_unknown_authority");
    control_works(obs);
    add(Case("a certificate that fails only on direct is blocked tls", obs, k_healthy, Status::blocked, "tls",
             "certificate fails validation only on direct")
            .methods(std::vector<std::string>{"tls"})
            .detail_lacks("mitm")
            .signature(Signature::cert_invalid));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good}).direct_ep(k_good).works("Corporate Inspection CA");
    control_works(obs);
    add(Case("a chain under another root than control's is blocked tls (mitm)", obs, k_healthy, Status::blocked, "tls",
             "mitm")
            .evidence("direct 10.77.12.3:443 tls root Corporate Inspection CA")
            .methods(std::vector<std::string>{"tls"})
            .signature(Signature::mitm));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good})
        .direct_ep(k_good)
        .tcp_fail("generic_timeout_error")
        .retest("tcp", "generic_timeout_error");
    control_works(obs);
    add(Case("an IP blackhole is blocked tcp_ip", obs, k_healthy, Status::blocked, "tcp_ip", "generic_timeout_error")
            .evidence("direct 10.77.12.3:443 tcp generic_timeout_error (re-test: generic_timeout_error)")
            .methods(std::vector<std::string>{"tcp_ip"})
            .signature(Signature::timeout));
  }
  // Each way a connect or a handshake fails has its own signature, so analysts can select one.
  for (const auto& [failure, signature] : std::vector<std::pair<std::string, Signature>>{
           {"connection_reset", Signature::reset},
           {"host_unreachable", Signature::unreachable},
           {"network_unreachable", Signature::unreachable}}) {
    Obs obs = https_target();
    obs.system("A", {k_good}).direct_ep(k_good).tcp_fail(failure).retest("tcp", failure);
    control_works(obs);
    add(Case("a TCP " + failure + " is blocked tcp_ip, signature " + std::string(to_string(signature)), obs,
             k_healthy, Status::blocked, "tcp_ip", failure)
            .signature(signature));
  }
  for (const auto& [failure, signature] : std::vector<std::pair<std::string, Signature>>{
           {"eof_error", Signature::tls_eof}, {"ssl_failed_handshake", Signature::tls_failure}}) {
    Obs obs = https_target();
    obs.system("A", {k_good})
        .direct_ep(k_good)
        .tcp_ok()
        .tls_fail(failure)
        .decoy_fail(failure)
        .retest("tls", failure);
    control_works(obs);
    add(Case("a TLS " + failure + " is blocked tls, signature " + std::string(to_string(signature)), obs, k_healthy,
             Status::blocked, "tls", failure)
            .detail_lacks("sni")
            .signature(signature));
  }
  {
    Obs obs = https_target();
    obs.query_fail("direct", k_system, "A", "dns_no_answer").direct_ep(k_good).works();
    control_works(obs);
    add(Case("no address on direct while control resolves is blocked dns, signature no_answer", obs, k_healthy,
             Status::blocked, "dns", "dns_no_answer")
            .methods(std::vector<std::string>{"dns"})
            .signature(Signature::no_answer));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good}).direct_ep(k_good).tcp_ok().tls_fail("eof_error").decoy_fail("eof_error").retest("tls",
                                                                                                          "eof_error");
    add(Case("a TLS close with no healthy control is an anomaly, signature tls_eof", obs, k_direct_only,
             Status::anomaly, std::nullopt, "a TLS close after the ClientHello")
            .signature(Signature::tls_eof));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good})
        .direct_ep(k_good)
        .tcp_fail("generic_timeout_error")
        .retest("tcp", "generic_timeout_error")
        .residual();
    control_works(obs);
    add(Case("residual TCP failures alone are never blocked tcp_ip", obs, k_healthy, Status::inconclusive, std::nullopt,
             "residual blocking after an earlier trigger")
            .signature(Signature::residual));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good, k_other})
        .direct_ep(k_good)
        .tcp_fail("connection_reset")
        .retest("tcp", "connection_reset")
        .residual();
    obs.direct_ep(k_other).tcp_ok().tls_fail("connection_reset").decoy_ok().retest("tls", "connection_reset");
    control_works(obs);
    obs.control_ep(k_other).works();
    add(Case("a residual failure next to a TLS reset is blocked tls only", obs, k_healthy, Status::blocked, "tls",
             "sni")
            .evidence("residual")
            .methods(std::vector<std::string>{"tls"})
            .signature(Signature::tls_reset)
            .signature(Signature::sni)
            .signature(Signature::residual));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good}).direct_ep(k_good).tcp_ok().tls_fail("connection_reset").decoy_ok();
    control_works(obs);
    add(Case("a failing step without a re-test is not blocked", obs, k_healthy, Status::inconclusive, std::nullopt,
             "not re-tested")
            .evidence("tls connection_reset (not re-tested)"));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good}).direct_ep(k_good).tcp_fail("generic_timeout_error");
    control_works(obs);
    add(Case("a TCP timeout without a re-test is not blocked", obs, k_healthy, Status::inconclusive, std::nullopt,
             "not re-tested")
            .evidence("tcp generic_timeout_error (not re-tested)"));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good}).direct_ep(k_good).tcp_ok().tls_ok().http_fail("eof_error");
    control_works(obs);
    add(Case("a request failure without a re-test is not blocked", obs, k_healthy, Status::inconclusive,
             std::nullopt, "not re-tested")
            .evidence("http eof_error (not re-tested)"));
  }
  {
    // The re-test belongs to the step that failed: one of another step proves nothing either way.
    Obs obs = https_target();
    obs.system("A", {k_good}).direct_ep(k_good).tcp_fail("generic_timeout_error").retest("tls");
    control_works(obs);
    add(Case("a passing re-test of another step does not make a failed step flaky", obs, k_healthy,
             Status::inconclusive, std::nullopt, "not re-tested")
            .evidence("tcp generic_timeout_error (not re-tested)"));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good})
        .direct_ep(k_good)
        .tcp_ok()
        .tls_fail("connection_reset")
        .decoy_ok()
        .retest("tcp", "generic_timeout_error");
    control_works(obs);
    add(Case("a failing re-test of another step does not confirm a failed step", obs, k_healthy,
             Status::inconclusive, std::nullopt, "not re-tested")
            .evidence("tls connection_reset (not re-tested)"));
  }
  {
    // A re-test may fail differently (a reset, then a timeout): the step failed twice.
    Obs obs = https_target();
    obs.system("A", {k_good})
        .direct_ep(k_good)
        .tcp_ok()
        .tls_fail("connection_reset")
        .decoy_ok()
        .retest("tls", "generic_timeout_error");
    control_works(obs);
    add(Case("a re-test that fails another way confirms the failure", obs, k_healthy, Status::blocked, "tls", "sni")
            .evidence("tls connection_reset (re-test: generic_timeout_error)")
            .signature(Signature::tls_reset)
            .signature(Signature::sni));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good})
        .direct_ep(k_good)
        .tcp_ok()
        .tls_ok()
        .http_fail("connection_reset")
        .retest("http", "connection_reset");
    control_works(obs);
    add(Case("a request reset after TLS is blocked http", obs, k_healthy, Status::blocked, "http", "connection_reset")
            .evidence("http connection_reset")
            .methods(std::vector<std::string>{"http"})
            .signature(Signature::http_failure));
  }
  {
    Obs obs(Kind::http, "news.example.org");
    obs.system("A", {k_good}).direct_ep(k_good).tcp_ok().http(200, "Telekomünikasyon İletişim Başkanlığı", 900);
    obs.control_query("A", {k_good}).control_ep(k_good).tcp_ok().http(200, "Example News Today", 5000);
    add(Case("an HTTP blockpage with 200 OK is blocked http", obs, k_healthy, Status::blocked, "http",
             "blockpage ooni.tr_0")
            .evidence("control 10.77.12.3:80 http 200")
            .methods(std::vector<std::string>{"http"})
            .signature(Signature::blockpage));
  }
  {
    Obs obs(Kind::http, "news.example.org");
    obs.system("A", {k_good})
        .direct_ep(k_good)
        .tcp_ok()
        .http(302, "", 0)
        .header("Location", "http://internet-positif.org/?u=news");
    obs.control_query("A", {k_good}).control_ep(k_good).tcp_ok().http(200, "Example News Today", 5000);
    add(Case("a redirect to a known blockpage is blocked http", obs, k_healthy, Status::blocked, "http", "ooni.id_0")
            .methods(std::vector<std::string>{"http"})
            .signature(Signature::blockpage));
  }
  {
    Obs obs(Kind::http, "news.example.org");
    obs.system("A", {k_good}).direct_ep(k_good).tcp_ok().http(403, "Forbidden", 120);
    obs.control_query("A", {k_good}).control_ep(k_good).tcp_ok().http(200, "Example News Today", 5000);
    add(Case("a plain-HTTP response unlike control's is blocked http", obs, k_healthy, Status::blocked, "http",
             "differs from control")
            .methods(std::vector<std::string>{"http"})
            .signature(Signature::http_differs));
  }
  {
    Obs obs(Kind::http, "news.example.org");
    obs.system("A", {k_bogus}).direct_ep(k_bogus).tcp_ok().http(200, "Access Restricted", 800);
    obs.direct_ep(k_good).tcp_ok().http(200, "Example News Today", 5000);
    obs.control_query("A", {k_good}).control_ep(k_good).tcp_ok().http(200, "Example News Today", 5100);
    obs.control_ep(k_bogus).tcp_ok().http(200, "Access Restricted", 800);
    add(Case("DNS pointing at an unknown blockpage server is blocked dns, not accessible", obs, k_healthy,
             Status::blocked, "dns", "do not serve the target")
            .evidence("direct system:10.77.1.1:53 A -> 10.77.5.80 (fails over control too)")
            .methods({"dns"})
            .signature(Signature::answers_fail));
  }
  {
    Obs obs(Kind::http, "news.example.org");
    obs.system("A", {k_good}).direct_ep(k_good).tcp_ok().http(200, "Example News Today", 5000);
    obs.control_query("A", {k_good}).control_ep(k_good).tcp_ok().http(503, "Service Unavailable", 200);
    add(Case("a server error over control is no reference page", obs, k_healthy, Status::accessible, std::nullopt,
             "works over direct"));
  }
  {
    Obs obs(Kind::http, "api.example.org");
    obs.any_response().system("A", {k_good}).direct_ep(k_good).tcp_ok().http(404, "", 20);
    obs.control_query("A", {k_good}).control_ep(k_good).tcp_ok().http(200, "Example API", 5000);
    add(Case("an any_response target is not compared with control", obs, k_healthy, Status::accessible, std::nullopt,
             "works over direct"));
  }
  {
    Obs obs = https_target();
    obs.query_fail("direct", k_system, "A", "dns_nxdomain_error");
    obs.direct_ep(k_good).tcp_fail("generic_timeout_error").retest("tcp", "generic_timeout_error");
    control_works(obs);
    add(Case("DNS and IP blocking together name both layers", obs, k_healthy, Status::blocked, "dns", "tcp_ip")
            .methods(std::vector<std::string>{"dns", "tcp_ip"})
            .signature(Signature::nxdomain)
            .signature(Signature::timeout));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_bogus})
        .direct_ep(k_bogus)
        .tcp_fail("generic_timeout_error")
        .retest("tcp", "generic_timeout_error");
    obs.direct_ep(k_good).tcp_fail("generic_timeout_error").retest("tcp", "generic_timeout_error");
    control_works(obs);
    obs.control_ep(k_bogus).tcp_fail("generic_timeout_error");
    add(Case("bogus answers and control's addresses failing from direct are dns and tcp_ip", obs, k_healthy,
             Status::blocked, "dns", "dns:")
            .methods(std::vector<std::string>{"dns", "tcp_ip"})
            .signature(Signature::answers_fail_tls)
            .signature(Signature::timeout));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good})
        .direct_ep(k_good)
        .tcp_ok()
        .tls_fail("connection_reset")
        .decoy_ok()
        .retest("tls", "connection_reset");
    obs.control_query("A", {k_good}).control_ep(k_good).tcp_fail("generic_timeout_error");
    control_works(obs, "control-2");
    add(Case("one healthy control working is enough for blocked", obs,
             {k_direct, PathStatus{"control", true, true}, PathStatus{"control-2", true, true}}, Status::blocked, "tls",
             "sni")
            .evidence("control-2 10.77.12.3:443 https 200")
            .methods(std::vector<std::string>{"tls"})
            .signature(Signature::tls_reset)
            .signature(Signature::sni));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good})
        .direct_ep(k_good)
        .tcp_ok()
        .tls_fail("connection_reset")
        .decoy_ok()
        .retest("tls", "connection_reset");
    obs.query_fail("control", k_control_dns, "A", "proxy_error").control_ep(k_good).tcp_fail("proxy_error");
    control_works(obs, "control-2");
    add(Case("a proxy_error control next to a working one is ignored", obs,
             {k_direct, PathStatus{"control", true, true}, PathStatus{"control-2", true, true}}, Status::blocked, "tls",
             "sni")
            .evidence("control-2")
            .methods(std::vector<std::string>{"tls"})
            .signature(Signature::tls_reset)
            .signature(Signature::sni));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good}).system("AAAA", {k_v6});
    obs.direct_ep(k_good).tcp_fail("generic_timeout_error").retest("tcp", "generic_timeout_error");
    obs.direct_ep(k_v6).not_tested();
    control_works(obs);
    obs.control_query("AAAA", {k_v6}).control_ep(k_v6).works();
    add(Case("IPv6 not tested on direct is not compared", obs, k_healthy, Status::blocked, "tcp_ip", "tcp_ip")
            .methods(std::vector<std::string>{"tcp_ip"})
            .evidence_lacks("[2001:db8:77::3]")
            .signature(Signature::timeout));
  }
  {
    Obs obs = https_target();
    obs.system("AAAA", {k_v6}).direct_ep(k_v6).not_tested();
    obs.control_query("AAAA", {k_v6}).control_ep(k_v6).works();
    add(Case("an IPv6-only target direct cannot route is not blocked", obs, k_healthy, Status::inconclusive,
             std::nullopt, "no layer of blocking"));
  }
  {
    Obs obs(Kind::https, k_good);
    obs.direct_ep(k_good).tcp_fail("connection_refused").retest("tcp", "connection_refused");
    obs.control_ep(k_good).works();
    add(Case("an IP-literal host is judged on its one endpoint", obs, k_healthy, Status::blocked, "tcp_ip",
             "connection_refused")
            .methods(std::vector<std::string>{"tcp_ip"})
            .signature(Signature::refused));
  }
  {
    Obs obs(Kind::stun, "stun.example.org");
    obs.system("A", {k_good})
        .direct_ep(k_good)
        .stun_fail("generic_timeout_error")
        .retest("stun", "generic_timeout_error");
    obs.control_query("A", {k_good}).control_ep(k_good).stun_ok();
    add(Case("a STUN target blocked by address is tcp_ip", obs, k_healthy, Status::blocked, "tcp_ip",
             "generic_timeout_error")
            .methods(std::vector<std::string>{"tcp_ip"})
            .signature(Signature::timeout));
  }
  {
    Obs obs(Kind::dns, "chat.example.org");
    obs.system("A", {"10.99.1.1"});
    obs.query("direct", k_injection, "A", {"10.99.1.1"});
    obs.control_query("A", {k_good});
    add(Case("a dns target with an answered injection probe is not blocked: its addresses are not checked", obs,
             k_healthy, Status::inconclusive, std::nullopt, "the injection probe was answered too")
            .evidence("direct injection:10.77.250.1:53 A -> 10.99.1.1 (a query to an address that runs no DNS server)"));
  }
  {
    Obs obs(Kind::dns, "chat.example.org");
    obs.system("A", {"10.99.1.1"});
    obs.control_query("A", {k_good});
    add(Case("a dns target whose answers merely differ is not blocked", obs, k_healthy, Status::inconclusive,
             std::nullopt, "no layer of blocking"));
  }
  {
    Obs obs(Kind::dns, "chat.example.org");
    obs.query_fail("direct", k_system, "A", "dns_nxdomain_error");
    obs.control_query("A", {k_good});
    add(Case("a dns target with NXDOMAIN on direct only is blocked dns", obs, k_healthy, Status::blocked, "dns",
             "dns_nxdomain_error")
            .methods(std::vector<std::string>{"dns"})
            .signature(Signature::nxdomain));
  }
  {
    Obs obs(Kind::dns, "chat.example.org");
    obs.system("A", {"10.10.34.34"}).bogon();
    obs.control_query("A", {k_good});
    add(Case("a dns target with a bogon on direct only is blocked dns", obs, k_healthy, Status::blocked, "dns",
             "special-purpose")
            .evidence("(bogon)")
            .methods(std::vector<std::string>{"dns"})
            .signature(Signature::bogon));
  }
  {
    Obs obs = https_target();
    obs.query_fail("direct", k_system, "A", "generic_timeout_error")
        .query_fail("direct", k_system, "AAAA", "dns_no_answer");
    obs.direct_ep(k_good).works();
    control_works(obs);
    obs.query_fail("control", k_control_dns, "AAAA", "dns_no_answer");
    add(Case("no AAAA answer on direct is no DNS blocking when control has none either", obs, k_healthy,
             Status::inconclusive, std::nullopt, "the direct resolver fails"));
  }
  {
    Obs obs = https_target();
    obs.system("A", {"10.77.12.9"})
        .direct_ep("10.77.12.9")
        .tcp_fail("generic_timeout_error")
        .retest("tcp", "generic_timeout_error");
    obs.direct_ep(k_good).works();
    control_works(obs);
    obs.control_ep("10.77.12.9").tcp_fail("generic_timeout_error");
    add(Case("a dead edge next to control's addresses is not blocked dns", obs, k_healthy, Status::inconclusive,
             std::nullopt, "no layer of blocking"));
  }
  {
    Obs obs = https_target();
    obs.query_fail("direct", k_system, "A", "dns_servfail_error").direct_ep(k_good).works();
    control_works(obs);
    add(Case("a failing direct resolver alone is not blocked dns", obs, k_healthy, Status::inconclusive, std::nullopt,
             "no layer of blocking"));
  }
  {
    Obs obs = https_target();
    obs.query_fail("direct", k_system, "A", "generic_timeout_error");
    obs.direct_ep(k_good).tcp_fail("network_unreachable").retest("tcp", "network_unreachable");
    control_works(obs);
    add(Case("an offline direct path with a working control is not blocked", obs, k_healthy, Status::inconclusive,
             std::nullopt, "the vantage point seems offline"));
  }
  // Stalls: a connection that went silent for half its step or more before the timeout.
  {
    Obs obs = https_target();
    obs.system("A", {k_good}).direct_ep(k_good).tcp_ok().tls_ok().http(200).body_stop("stalled", 6000, 5900);
    control_works(obs).body_stop("window");
    add(Case("the head on direct, then a body that freezes while control's comes: restricted, stalled", obs, k_healthy,
             Status::restricted, std::nullopt, "stalled: the response head comes on direct, then the body freezes "
                                               "after 16384 bytes")
            .signature(Signature::stalled)
            .evidence("body stalled after 16384 bytes"));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good}).direct_ep(k_good).tcp_ok().tls_ok().http(200).body_stop("stalled", 6000, 5900);
    control_works(obs).body_stop("stalled", 6000, 5900);
    add(Case("a body that stalls over control too is the site's: accessible", obs, k_healthy, Status::accessible,
             std::nullopt, "no control read it to compare"));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good}).direct_ep(k_good).tcp_ok().tls_ok().http(200).body_stop("timeout", 6000, 50);
    control_works(obs).body_stop("window");
    add(Case("a body still trickling at the timeout is slow, not stalled: accessible", obs, k_healthy,
             Status::accessible, std::nullopt, "works over direct"));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good}).direct_ep(k_good).tcp_ok().tls_ok().http_fail("generic_timeout_error");
    obs.body_stop("", 6000, 5800).retest("http", "generic_timeout_error");
    control_works(obs);
    add(Case("no head on direct, the connection silent, while control gets a response: blocked http, stalled", obs,
             k_healthy, Status::blocked, "http", "stalled: the response head never comes after 16384 bytes")
            .signature(Signature::stalled));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good}).direct_ep(k_good).tcp_ok().tls_ok().http_fail("generic_timeout_error");
    obs.body_stop("", 6000, 100).retest("http", "generic_timeout_error");
    control_works(obs);
    add(Case("no head on direct while bytes still trickled: blocked http, not stalled", obs, k_healthy,
             Status::blocked, "http", "the request fails after the connection was made")
            .signature(Signature::http_failure));
  }
  // Throttles: the throughput phase's body samples, direct's against control's.
  {
    Obs obs = https_target();
    obs.system("A", {k_good}).direct_ep(k_good).works().sample(30000).handshakes(240, 3);
    control_works(obs).sample(3000000);
    add(Case("a body sample on direct under a quarter of control's, the decoy name's handshake fast: restricted "
             "tls, throttled",
             obs, k_healthy, Status::restricted, "tls", "throttled: direct reads the body at 29.3 KiB/s, control at "
                                                        "2929.7 KiB/s; the throttle keys on the name (tls)")
            .signature(Signature::throttled)
            .evidence("handshake 240 ms, decoy name's 3 ms"));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good}).direct_ep(k_good).works().sample(30000).handshakes(2000, 3, "generic_timeout_error");
    control_works(obs).sample(3000000);
    add(Case("a real handshake that times out in the phase while the decoy's is fast: the name (tls)", obs, k_healthy,
             Status::restricted, "tls", "keys on the name")
            .signature(Signature::throttled));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good}).direct_ep(k_good).works().sample(30000).handshakes(60, 45);
    control_works(obs).sample(3000000);
    add(Case("a slow body whose real and decoy handshakes take alike: the address (tcp_ip)", obs, k_healthy,
             Status::restricted, "tcp_ip", "keys on the address")
            .signature(Signature::throttled));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good}).direct_ep(k_good).works().sample(30000).handshakes(12, 3);
    control_works(obs).sample(3000000);
    add(Case("a real handshake 4x the decoy's but only 9 ms longer is jitter: the address (tcp_ip)", obs, k_healthy,
             Status::restricted, "tcp_ip", "keys on the address")
            .signature(Signature::throttled));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good}).direct_ep(k_good).works().sample(800000).handshakes(240, 3);
    control_works(obs).sample(3000000);
    add(Case("a body sample on direct above a quarter of control's is not a throttle: accessible", obs, k_healthy,
             Status::accessible, std::nullopt, "works over direct"));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good}).direct_ep(k_good).works().sample(30000).handshakes(240, 3);
    control_works(obs).sample(std::nullopt, 900, "complete");
    add(Case("control's sample too small to time: no throttle is named, accessible", obs, k_healthy,
             Status::accessible, std::nullopt, "works over direct"));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good}).direct_ep(k_good).works().sample(30000).handshakes(240, 3);
    control_works(obs).sample(3000000);
    add(Case("a throttle measured against an unhealthy control is not named: accessible", obs, k_unhealthy,
             Status::accessible, std::nullopt, "works over direct"));
  }
  {
    Obs obs = https_target();
    obs.system("A", {k_good, k_other}).direct_ep(k_good).works().sample(30000).handshakes(240, 3);
    obs.direct_ep(k_other).works();
    control_works(obs).sample(3000000);
    add(Case("a throttled address next to one that works at full speed: accessible", obs, k_healthy,
             Status::accessible, std::nullopt, "works over direct"));
  }
  {
    Obs obs(Kind::http);
    obs.system("A", {k_good}).direct_ep(k_good).works().sample(30000).decoy_sample(2000000, 65536, "cap");
    control_works(obs).sample(3000000);
    add(Case("plain HTTP whose body under the decoy name comes fast: the name (http)", obs, k_healthy,
             Status::restricted, "http", "keys on the name (http)")
            .signature(Signature::throttled)
            .evidence("decoy name's body 65536 bytes"));
  }
  {
    Obs obs(Kind::http);
    obs.system("A", {k_good}).direct_ep(k_good).works().sample(30000).decoy_sample(31000, 65536, "cap");
    control_works(obs).sample(3000000);
    add(Case("plain HTTP whose body under the decoy name is as slow: the address (tcp_ip)", obs, k_healthy,
             Status::restricted, "tcp_ip", "keys on the address")
            .signature(Signature::throttled));
  }
  {
    Obs obs(Kind::http);
    obs.system("A", {k_good}).direct_ep(k_good).tcp_ok().http(200).body_stop("stalled", 6000, 5900);
    obs.sample(20000, 65536, "cap").decoy_sample(20000, 65536, "cap");
    control_works(obs).body_stop("complete");
    add(Case("a stall whose body reads through when the throughput phase samples it again: accessible", obs,
             k_healthy, Status::accessible, std::nullopt, "its body stalled once and read through")
            .evidence("body stalled, then sample 65536 bytes"));
  }
  {
    Obs obs(Kind::http);
    obs.system("A", {k_good}).direct_ep(k_good).tcp_ok().http(200).body_stop("stalled", 6000, 5900);
    obs.decoy_sample(3000, 16000, "stalled");
    control_works(obs).body_stop("complete");
    add(Case("a stall whose body under the decoy name stalls too keys on the address: restricted tcp_ip", obs,
             k_healthy, Status::restricted, "tcp_ip", "the decoy name's body stalls too")
            .signature(Signature::stalled));
  }
  {
    Obs obs(Kind::http);
    obs.system("A", {k_good}).direct_ep(k_good).tcp_ok().http(200).body_stop("stalled", 6000, 5900);
    obs.decoy_sample(2000000, 65536, "cap");
    control_works(obs).body_stop("complete");
    add(Case("a stall whose body under the decoy name reads past it keys on the name: restricted http", obs,
             k_healthy, Status::restricted, "http", "the decoy name's body does not stall")
            .signature(Signature::stalled));
  }
  {
    Obs obs(Kind::http);
    obs.system("A", {k_good}).direct_ep(k_good).tcp_ok().http(200).body_stop("stalled", 6000, 5900);
    obs.decoy_sample(std::nullopt, 300, "complete");
    control_works(obs).body_stop("complete");
    add(Case("a stall whose decoy body ends before the stall point says nothing of the key: restricted, no method",
             obs, k_healthy, Status::restricted, std::nullopt, "stalled: the response head comes")
            .signature(Signature::stalled));
  }
  return out;
}

std::vector<Case> cases() {
  std::vector<Case> out;
  for (auto* part : {interrupted_cases, accessible_cases, no_control_cases, down_cases, blocked_cases}) {
    std::vector<Case> more = part();
    out.insert(out.end(), more.begin(), more.end());
  }
  return out;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

bool any_contains(const std::vector<std::string>& lines, const std::string& part) {
  return std::any_of(lines.begin(), lines.end(), [&](const std::string& line) { return contains(line, part); });
}

}  // namespace

TEST_CASE("verdicts follow the rules in order and avoid their traps", "[verdict]") {
  for (const Case& c : cases()) {
    DYNAMIC_SECTION(c.name) {
      const Verdict verdict = judge(c.result, c.paths, c.run_interrupted);
      INFO("detail: " << verdict.detail);
      for (const std::string& line : verdict.evidence) {
        INFO("evidence: " << line);
      }
      CAPTURE(verdict.evidence);
      CHECK(to_string(verdict.status) == to_string(c.status));
      CHECK(verdict.method == c.method);
      CHECK(contains(verdict.detail, c.detail_has));
      if (!c.evidence_has.empty()) {
        CHECK(any_contains(verdict.evidence, c.evidence_has));
      }
      if (!c.exact_methods.empty()) {
        CHECK(verdict.methods == c.exact_methods);
      }
      if (!c.detail_without.empty()) {
        CHECK_FALSE(contains(verdict.detail, c.detail_without));
      }
      if (!c.evidence_without.empty()) {
        CHECK_FALSE(any_contains(verdict.evidence, c.evidence_without));
      }
      CHECK(names(verdict.signatures) == names(c.signatures));
      CHECK(verdict.evidence.size() <= 8);
      if (verdict.status == Status::blocked) {
        // Checked before they are read: a wrong verdict fails its own row, never the whole table.
        CHECK(verdict.method.has_value());
        CHECK_FALSE(verdict.methods.empty());
        if (verdict.method && !verdict.methods.empty()) {
          CHECK(verdict.methods.front() == *verdict.method);
        }
      } else if (verdict.status == Status::restricted && verdict.method) {
        // What a throttle or a stall keys on, when the throughput phase told it: one layer.
        CHECK(verdict.methods == std::vector<std::string>{*verdict.method});
      } else {
        CHECK_FALSE(verdict.method);
        CHECK(verdict.methods.empty());
      }
    }
  }
}

TEST_CASE("plain-HTTP responses are compared with control's as OONI does", "[verdict]") {
  struct Row {
    int status;
    std::string title;
    std::uint64_t length;
    bool truncated;
    Status expected;
  };
  // Control: 200, "Example News Today", 5000 bytes.
  const std::vector<Row> rows{
      {200, "Example News Today", 5000, false, Status::accessible},    // the same page
      {200, "Other words entirely", 4000, false, Status::accessible},  // lengths within 70%
      {200, "Example News", 900, false, Status::accessible},           // a shared title word of 5+ characters
      {200, "News Today", 900, false, Status::accessible},             // "today" is shared
      {200, "Blocked page", 900, false, Status::blocked},              // neither length nor title
      {200, "", 900, false, Status::blocked},                          // a title on one side only
      {200, "Other page", 5000, true, Status::blocked},                // a cut body's length says nothing
      {302, "Example News Today", 5000, false, Status::blocked},       // status codes differ
      {200, "the news", 900, false, Status::blocked},                  // words under 5 characters do not count
  };
  for (const Row& row : rows) {
    Obs obs(Kind::http, "news.example.org");
    obs.system("A", {k_good}).direct_ep(k_good).tcp_ok().http(row.status, row.title, row.length);
    obs.control_query("A", {k_good}).control_ep(k_good).tcp_ok().http(200, "Example News Today", 5000);
    TargetResult result = obs.result();
    result.paths["direct"].endpoints.front().http->body_truncated = row.truncated;
    const Verdict verdict = judge(result, k_healthy);
    INFO(row.status << " '" << row.title << "' " << row.length << (row.truncated ? " truncated" : "") << ": "
                    << verdict.detail);
    CHECK(to_string(verdict.status) == to_string(row.expected));
    if (row.expected == Status::blocked) {
      CHECK(verdict.method == "http");
    }
  }
  // Both without a title, lengths far apart: the titles agree (there are none).
  Obs obs(Kind::http, "news.example.org");
  obs.system("A", {k_good}).direct_ep(k_good).tcp_ok().http(301, "", 0);
  obs.control_query("A", {k_good}).control_ep(k_good).tcp_ok().http(301, "", 180);
  CHECK(judge(obs.result(), k_healthy).status == Status::accessible);
}

TEST_CASE("evidence stays short", "[verdict]") {
  Obs obs = https_target();
  std::vector<std::string> addresses;
  for (int i = 1; i <= 20; ++i) {
    addresses.push_back("10.77.30." + std::to_string(i));
  }
  obs.system("A", addresses);
  for (const std::string& address : addresses) {
    obs.direct_ep(address).tcp_fail("generic_timeout_error").retest("tcp", "generic_timeout_error");
    obs.control_ep(address).works();
  }
  obs.control_query("A", addresses);
  const Verdict verdict = judge(obs.result(), k_healthy);
  CHECK(verdict.status == Status::blocked);
  CHECK(verdict.evidence.size() == 8);
  CHECK(any_contains(verdict.evidence, "control "));  // what control saw is never crowded out
}

TEST_CASE("blockpage fingerprints match titles and header values", "[verdict]") {
  HttpObservation http;
  http.title = "  Güvenli İnternet Uyarı ";
  REQUIRE(find_blockpage(http));
  CHECK(find_blockpage(http)->name == "ooni.tr_5");

  HttpObservation server;
  server.headers = {{"server", "Protected by WireFilter 8.1"}};
  REQUIRE(find_blockpage(server));
  CHECK(find_blockpage(server)->country == "AE");

  HttpObservation redirect;
  redirect.location = "http://www.warning.or.kr";
  REQUIRE(find_blockpage(redirect));
  CHECK(find_blockpage(redirect)->name == "ooni.kr_2");
  redirect.location = "http://www.warning.or.kr/extra";  // a full match, not a prefix
  CHECK_FALSE(find_blockpage(redirect));

  HttpObservation site;
  site.title = "Notification: Policy: URL Filtering for admins";  // a full match only
  site.headers = {{"Server", "nginx"}, {"Location", "https://chat.example.org/"}};
  CHECK_FALSE(find_blockpage(site));

  // Body fingerprints need the body, which the report does not keep.
  HttpObservation iran;
  iran.title = "M1-6";
  CHECK_FALSE(find_blockpage(iran));
  const std::string body = "<html><body><iframe src=\"http://10.10.34.34?type=Invalid Site\"></iframe></body></html>";
  REQUIRE(find_blockpage(iran, body));
  CHECK(find_blockpage(iran, body)->name == "ooni.ir_0");

  for (const BlockpageFingerprint& fingerprint : blockpage_fingerprints()) {
    CHECK_FALSE(fingerprint.name.empty());
    CHECK(fingerprint.country.size() == 2);
    CHECK_FALSE(fingerprint.pattern.empty());
    CHECK(fingerprint.source.find("ooni/blocking-fingerprints") != std::string_view::npos);
    CHECK((fingerprint.field == BlockpageField::header) == !fingerprint.header.empty());
  }
  CHECK(blockpage_fingerprints().size() >= 12);
}

namespace {

// Random observation sets: random kinds, paths, health, answers, step failures and re-tests.
struct Generated {
  TargetResult result;
  std::vector<PathStatus> paths;
  bool interrupted = false;
  bool any_interrupted_failure = false;
  bool any_success = false;  // a step succeeded or an address was answered somewhere
};

Generated generate(std::mt19937& random) {
  const auto chance = [&](double p) { return std::bernoulli_distribution(p)(random); };
  const auto pick = [&](const auto& items) {
    return items[std::uniform_int_distribution<std::size_t>(0, items.size() - 1)(random)];
  };
  const std::vector<Kind> kinds{Kind::dns, Kind::tcp, Kind::tls, Kind::http, Kind::https, Kind::stun};
  const std::vector<std::string> addresses{"10.77.12.3", "10.77.12.4", "10.77.5.80", "10.10.34.34", "2001:db8:77::3"};
  const std::vector<std::string> step_failures{
      "generic_timeout_error", "connection_refused", "connection_reset",     "host_unreachable",
      "network_unreachable",   "eof_error",          "ssl_invalid_hostname", "ssl_unknown_authority",
      "ssl_failed_handshake",  "proxy_error",        "interrupted"};
  const std::vector<std::string> dns_failures{
      "dns_nxdomain_error", "dns_no_answer", "dns_servfail_error", "generic_timeout_error",
      "dns_bogon_error",    "proxy_error",   "interrupted"};
  const std::vector<std::string> steps{"tcp", "tls", "http", "stun"};
  const std::vector<std::string> roots{"DigiCert Global Root G2", "ISRG Root X1", "Corporate Inspection CA"};

  Generated out;
  const bool fail_everywhere = chance(0.25);  // the shape the "never blocked" property needs often
  Obs obs(pick(kinds), chance(0.1) ? "10.77.12.3" : "chat.example.org");
  if (chance(0.1)) {
    obs.bogon_expected();
  }
  if (chance(0.1)) {
    obs.any_response();
  }
  const Kind kind = obs.result().target.kind;
  out.paths.push_back(PathStatus{"direct", false, false});
  const int controls = std::uniform_int_distribution<int>(0, 2)(random);
  for (int i = 0; i < controls; ++i) {
    out.paths.push_back(PathStatus{i == 0 ? "control" : "control-2", true, chance(0.7)});
  }
  out.interrupted = chance(0.05);

  const auto random_failure = [&](const std::vector<std::string>& from) {
    std::string text = pick(from);
    if (fail_everywhere && text == "interrupted") {
      text = "generic_timeout_error";
    }
    out.any_interrupted_failure = out.any_interrupted_failure || text == "interrupted";
    return text;
  };

  for (const PathStatus& path : out.paths) {
    const bool direct = !path.control;
    const std::vector<std::string> resolvers =
        direct ? std::vector<std::string>{k_system, "10.77.8.8:53", k_injection}
               : std::vector<std::string>{k_control_dns, "doh:https://dns.example/dns-query"};
    const int queries = std::uniform_int_distribution<int>(0, 3)(random);
    for (int q = 0; q < queries; ++q) {
      const std::string resolver = pick(resolvers);
      const std::string type = chance(0.7) ? "A" : "AAAA";
      if (fail_everywhere || chance(0.4)) {
        obs.query_fail(path.name, resolver, type, random_failure(dns_failures));
      } else {
        std::vector<std::string> answers;
        for (const std::string& address : addresses) {
          if (chance(0.3)) {
            answers.push_back(address);
          }
        }
        if (answers.empty()) {
          answers.push_back(pick(addresses));
        }
        out.any_success = true;
        obs.query(path.name, resolver, type, answers);
        if (chance(0.15)) {
          obs.bogon();
        }
      }
    }
    if (kind == Kind::dns) {
      continue;
    }
    for (const std::string& address : addresses) {
      if (chance(0.3)) {
        continue;
      }
      obs.ep(path.name, address);
      if (chance(0.1)) {
        obs.not_tested();
        continue;
      }
      const auto step = [&](auto ok, auto fail) {
        if (fail_everywhere || chance(0.35)) {
          (obs.*fail)(random_failure(step_failures));
          return false;
        }
        out.any_success = true;
        ok();
        return true;
      };
      bool going = true;
      if (kind == Kind::stun) {
        going = step([&] { obs.stun_ok(); }, &Obs::stun_fail);
      } else {
        going = step([&] { obs.tcp_ok(); }, &Obs::tcp_fail);
        if (going && (kind == Kind::tls || kind == Kind::https)) {
          going = step([&] { obs.tls_ok(pick(roots)); }, &Obs::tls_fail);
        }
        if (going && (kind == Kind::http || kind == Kind::https) && chance(0.9)) {
          const std::vector<int> statuses{200, 301, 403, 451, 503};
          step([&] { obs.http(pick(statuses), chance(0.3) ? "Güvenli İnternet Uyarı" : "Example Chat", 1000); },
               &Obs::http_fail);
        }
      }
      if (direct) {
        if (chance(0.3)) {
          if (fail_everywhere || chance(0.5)) {
            obs.decoy_fail(random_failure(step_failures));
          } else {
            out.any_success = true;
            obs.decoy_ok();
          }
        }
        if (chance(0.6)) {
          if (fail_everywhere || chance(0.5)) {
            obs.retest(pick(steps), random_failure(step_failures));
          } else {
            out.any_success = true;
            obs.retest(pick(steps));
          }
        }
        if (chance(0.1)) {
          obs.residual();
        }
      }
    }
  }
  out.result = obs.result();
  return out;
}

std::uint32_t base_seed() {
  if (const char* text = std::getenv("PROBE_TEST_SEED")) {
    return static_cast<std::uint32_t>(std::strtoul(text, nullptr, 10));
  }
  return 20261128u;
}

}  // namespace

TEST_CASE("verdict properties over random observation sets", "[verdict]") {
  const std::uint32_t base = base_seed();
  int blocked = 0;
  int down = 0;
  for (std::uint32_t i = 0; i < 4000; ++i) {
    const std::uint32_t seed = base + i;
    INFO("seed " << seed << " (rerun with PROBE_TEST_SEED=" << seed << ")");
    std::mt19937 random(seed);
    const Generated generated = generate(random);
    Verdict verdict;
    REQUIRE_NOTHROW(verdict = judge(generated.result, generated.paths, generated.interrupted));
    INFO("status " << to_string(verdict.status) << ": " << verdict.detail);

    const bool healthy_control = std::any_of(generated.paths.begin(), generated.paths.end(),
                                             [](const PathStatus& path) { return path.control && path.healthy; });
    if (!healthy_control) {
      REQUIRE(verdict.status != Status::blocked);
      REQUIRE(verdict.status != Status::down);
    }
    if (!generated.any_success) {
      REQUIRE(verdict.status != Status::blocked);
    }
    if (generated.interrupted || generated.any_interrupted_failure) {
      REQUIRE(verdict.status == Status::inconclusive);
      REQUIRE(verdict.detail == "interrupted");
    }
    REQUIRE(verdict.evidence.size() <= 8);
    REQUIRE(verdict.method.has_value() == (verdict.status == Status::blocked));
    if (verdict.status == Status::blocked) {
      REQUIRE_FALSE(verdict.methods.empty());
      REQUIRE(verdict.methods.front() == *verdict.method);
    }
    blocked += verdict.status == Status::blocked ? 1 : 0;
    down += verdict.status == Status::down ? 1 : 0;
  }
  // The generator reaches the interesting verdicts, so the properties above are not vacuous.
  CHECK(blocked > 0);
  CHECK(down > 0);
}
