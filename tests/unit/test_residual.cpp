#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "model/steps.hpp"

// mark_residual (model/steps.hpp): a TCP failure where a real-name TLS handshake failed earlier in
// the run, at the same address and port, is the censor's after-effect, not IP blocking.
using namespace probe;

namespace {

EndpointObservation tls_failed_at(const std::string& address, std::uint16_t port, double t0_ms, Failure code) {
  EndpointObservation endpoint;
  endpoint.address = address;
  endpoint.port = port;
  endpoint.tcp = TcpObservation{};
  endpoint.tls = TlsObservation{};
  endpoint.tls->t0_ms = t0_ms;
  endpoint.tls->failure = FailureInfo{code, ""};
  return endpoint;
}

EndpointObservation tcp_failed_at(const std::string& address, std::uint16_t port, double t0_ms) {
  EndpointObservation endpoint;
  endpoint.address = address;
  endpoint.port = port;
  endpoint.tcp = TcpObservation{};
  endpoint.tcp->t0_ms = t0_ms;
  endpoint.tcp->failure = FailureInfo{Failure::generic_timeout_error, ""};
  return endpoint;
}

TargetResult result_with(std::vector<EndpointObservation> direct, std::vector<EndpointObservation> control = {}) {
  TargetResult result;
  result.paths["direct"].endpoints = std::move(direct);
  result.paths["control"].endpoints = std::move(control);
  return result;
}

}  // namespace

TEST_CASE("residual: a TCP failure after a TLS failure at the same address:port, on direct only", "[verdict][residual]") {
  std::vector<TargetResult> results;
  // One target's handshake is reset at 100 ms; another target on the same address:port then
  // times out at TCP (at 300 ms), and a third before the reset (at 50 ms).
  results.push_back(result_with({tls_failed_at("192.0.2.1", 443, 100, Failure::connection_reset)}));
  results.push_back(result_with({tcp_failed_at("192.0.2.1", 443, 300)}, {tcp_failed_at("192.0.2.1", 443, 300)}));
  results.push_back(result_with({tcp_failed_at("192.0.2.1", 443, 50)}));
  // The same address on another port, and another address, are not tainted.
  results.push_back(result_with({tcp_failed_at("192.0.2.1", 80, 300), tcp_failed_at("192.0.2.2", 443, 300)}));
  // A re-test after the reset makes a TCP failure that first came before it residual.
  EndpointObservation retested = tcp_failed_at("192.0.2.1", 443, 50);
  retested.retest = RetestObservation{};
  retested.retest->step = "tcp";
  retested.retest->t0_ms = 400;
  retested.retest->failure = FailureInfo{Failure::generic_timeout_error, ""};
  results.push_back(result_with({retested}));
  // A handshake cut by the end of the run is no trigger.
  results.push_back(result_with({tls_failed_at("192.0.2.3", 443, 10, Failure::interrupted)}));
  results.push_back(result_with({tcp_failed_at("192.0.2.3", 443, 300)}));

  mark_residual(results, "direct");
  CHECK_FALSE(results[0].paths["direct"].endpoints[0].residual);
  CHECK(results[1].paths["direct"].endpoints[0].residual);
  CHECK_FALSE(results[1].paths["control"].endpoints[0].residual);
  CHECK_FALSE(results[2].paths["direct"].endpoints[0].residual);
  CHECK_FALSE(results[3].paths["direct"].endpoints[0].residual);
  CHECK_FALSE(results[3].paths["direct"].endpoints[1].residual);
  CHECK(results[4].paths["direct"].endpoints[0].residual);
  CHECK_FALSE(results[6].paths["direct"].endpoints[0].residual);

  // Marked afresh each time: a result whose trigger is gone loses the mark.
  results.erase(results.begin());
  mark_residual(results, "direct");
  CHECK_FALSE(results[0].paths["direct"].endpoints[0].residual);
}
