#include <catch2/catch.hpp>

#include <openssl/x509.h>

#include <memory>
#include <optional>

#include "net/curl_multi.hpp"
#include "net/event_loop.hpp"
#include "core/digest.hpp"
#include "report/report.hpp"
#include "steps/stun.hpp"
#include "steps/tcp_connect.hpp"
#include "steps/tls_http.hpp"
#include "support/net_fixture.hpp"
#include "support/ports.hpp"

using namespace probe;
using probe::test::closed_udp_port;
using probe::test::NetFixture;

namespace {

std::string failure_of(const StepTiming& step) { return step.failure ? step.failure->str() : "none"; }

TcpObservation connect_to(std::uint16_t port, Millis timeout = Millis(1000), const std::string& address = "127.0.0.1") {
  EventLoop loop;
  TcpObservation out;
  start_tcp_connect(plain_connector(loop), address, port, timeout, EventLoop::now(), [&](TcpObservation tcp) { out = tcp; });
  loop.run();
  return out;
}

TransferRequest request_for(const NetFixture& fixture, const std::string& behaviour, Kind kind,
                            const std::string& path = "/") {
  TransferRequest request;
  request.kind = kind;
  request.host = "good.test";
  request.address = "127.0.0.1";
  request.port = fixture.port(behaviour);
  request.path = path;
  request.connect_timeout = Millis(1000);
  request.total_timeout = Millis(3000);
  request.ca_bundle = fixture.ca_file();
  request.user_agent = "test";
  return request;
}

TransferResult transfer(const TransferRequest& request) {
  EventLoop loop;
  CurlMulti multi(loop);
  TransferResult out;
  bool called = false;
  start_transfer(multi, request, EventLoop::now(), [&](TransferResult result) {
    out = std::move(result);
    called = true;
  });
  loop.run();
  REQUIRE(called);
  return out;
}

StepTiming stun_to(std::uint16_t port, Millis timeout = Millis(1200)) {
  EventLoop loop;
  StepTiming out;
  start_stun(loop, "127.0.0.1", port, timeout, EventLoop::now(), [&](StepTiming stun) { out = stun; });
  loop.run();
  return out;
}

std::string header(const HttpObservation& http, const std::string& name) {
  for (const auto& [key, value] : http.headers) {
    if (key == name) {
      return value;
    }
  }
  return "";
}

}  // namespace

TEST_CASE("TCP connect: success, refused, and a timeout with its exact timing", "[steps]") {
  NetFixture fixture;
  const TcpObservation ok = connect_to(fixture.port("silent"));
  CHECK(failure_of(ok) == "none");
  CHECK(ok.duration_ms < 100);
  CHECK(failure_of(connect_to(fixture.port("closed"))) == "connection_refused");
  CHECK(failure_of(connect_to(1, Millis(1000), "not-an-address")) == "unknown_failure: not an IP address: not-an-address");
}

TEST_CASE("TLS failures after a working TCP connect", "[steps]") {
  NetFixture fixture;
  const auto tls_failure = [&](const std::string& behaviour) {
    const TransferResult result = transfer(request_for(fixture, behaviour, Kind::https));
    REQUIRE(result.tls);
    CHECK_FALSE(result.http);  // the sequence stops at its first failure
    CHECK_FALSE(result.tls->verified);
    return failure_of(*result.tls);
  };
  CHECK(tls_failure("reset_after_hello") == "connection_reset");
  CHECK(tls_failure("close_after_hello") == "eof_error");
  CHECK(tls_failure("silent") == "generic_timeout_error");
  {
    const TransferResult wrong = transfer(request_for(fixture, "wrong_name", Kind::https));
    INFO(wrong.tls->verify_error.value_or("-"));
    CHECK(failure_of(*wrong.tls) == "ssl_invalid_hostname");
  }
  CHECK(tls_failure("expired") == "ssl_invalid_certificate");
  CHECK(tls_failure("untrusted") == "ssl_unknown_authority");
  const std::string on_accept = tls_failure("reset_on_accept");
  CHECK((on_accept == "connection_reset" || on_accept == "eof_error"));
}

TEST_CASE("a certificate that fails validation still shows its chain", "[steps]") {
  NetFixture fixture;
  const TransferResult result = transfer(request_for(fixture, "untrusted", Kind::tls));
  REQUIRE(result.tls);
  REQUIRE_FALSE(result.tls->chain.empty());
  CHECK(result.tls->chain[0].sha256.size() == 64);
  CHECK(result.tls->verify_error.has_value());
  CHECK_FALSE(result.tls->root);
}

TEST_CASE("a real handshake keeps each certificate's DER, whose SHA-256 is its chain entry's", "[steps][certificates]") {
  NetFixture fixture;
  const TransferResult result = transfer(request_for(fixture, "https", Kind::https));
  REQUIRE(result.tls);
  REQUIRE_FALSE(result.tls->chain.empty());
  for (const CertificateInfo& cert : result.tls->chain) {
    const std::optional<std::string> der = base64_decode(cert.der_base64);
    REQUIRE(der);
    const auto* bytes = reinterpret_cast<const unsigned char*>(der->data());
    std::unique_ptr<X509, decltype(&X509_free)> parsed(d2i_X509(nullptr, &bytes, static_cast<long>(der->size())),
                                                       &X509_free);
    REQUIRE(parsed);
    CHECK(bytes == reinterpret_cast<const unsigned char*>(der->data()) + der->size());  // nothing after it
    CHECK(sha256_hex(*der) == cert.sha256);
  }
}

TEST_CASE("a good HTTPS endpoint: TLS details, root, status, title, digest", "[steps]") {
  NetFixture fixture;
  const TransferResult result = transfer(request_for(fixture, "https", Kind::https));
  REQUIRE(result.tls);
  CHECK(failure_of(*result.tls) == "none");
  CHECK(result.tls->verified);
  CHECK(result.tls->version == "TLSv1.3");
  CHECK(result.tls->cipher.has_value());
  CHECK(result.tls->alpn == "http/1.1");
  CHECK(result.tls->sni == "good.test");
  REQUIRE_FALSE(result.tls->chain.empty());
  CHECK(result.tls->root == "CN=Probe Test CA");
  REQUIRE(result.http);
  CHECK(failure_of(*result.http) == "none");
  CHECK(result.http->status == 200);
  CHECK(result.http->title == "Probe fixture");
  const std::string page = "<html><head><title>Probe fixture</title></head><body>ok</body></html>";
  CHECK(result.http->body_length == page.size());
  CHECK(result.http->body_sha256 == sha256_hex(page));
  CHECK_FALSE(result.http->body_truncated);
  CHECK(result.http->body_stop == "complete");  // its title is in it, but so is its end
  CHECK(result.http->bytes > result.http->body_length);
  // On the wire: the head and body in TLS records, the certificates; the request out.
  REQUIRE(result.http->bytes_received);
  CHECK(*result.http->bytes_received > result.http->bytes + 500);
  REQUIRE(result.http->bytes_sent);
  CHECK(*result.http->bytes_sent > 100);
  CHECK_FALSE(result.tls->bytes_received);  // the connection's counts are on the step that ended it
  CHECK(result.http->t0_ms >= result.tls->t0_ms + result.tls->duration_ms - 0.001);
}

TEST_CASE("a tls target stops after the handshake", "[steps]") {
  NetFixture fixture;
  const TransferResult result = transfer(request_for(fixture, "https", Kind::tls));
  REQUIRE(result.tls);
  CHECK(failure_of(*result.tls) == "none");
  CHECK(result.tls->verified);
  CHECK_FALSE(result.http);
  REQUIRE(result.tls->bytes_received);  // the handshake's own bytes
  CHECK(*result.tls->bytes_received > 500);
  CHECK(result.tls->bytes_sent.value_or(0) > 100);
}

TEST_CASE("plain HTTP, redirects recorded and not followed, any status is a response", "[steps]") {
  NetFixture fixture;
  TransferResult result = transfer(request_for(fixture, "http", Kind::http, "/redirect"));
  CHECK_FALSE(result.tls);
  REQUIRE(result.http);
  CHECK(result.http->status == 301);
  CHECK(result.http->location == "https://elsewhere.test/landing");
  CHECK(failure_of(*result.http) == "none");
  result = transfer(request_for(fixture, "https", Kind::https, "/status/451"));
  REQUIRE(result.http);
  CHECK(result.http->status == 451);
  CHECK(failure_of(*result.http) == "none");
}

TEST_CASE("hostile bodies and headers: capped, truncated, never a crash", "[steps]") {
  NetFixture fixture;
  TransferRequest endless = request_for(fixture, "https", Kind::https, "/endless");
  endless.body_cap = 65536;
  endless.https_body_window = 0;  // read as plain HTTP is, up to the cap
  TransferResult result = transfer(endless);
  REQUIRE(result.http);
  CHECK(failure_of(*result.http) == "none");
  CHECK(result.http->body_truncated);
  CHECK(result.http->body_length == 65536);
  CHECK(result.http->body_stop == "cap");

  // An HTTPS page is read as far as its title, or the window: not to the cap.
  result = transfer(request_for(fixture, "https", Kind::https, "/endless"));
  REQUIRE(result.http);
  CHECK(failure_of(*result.http) == "none");
  CHECK(result.http->body_truncated);
  CHECK(result.http->body_stop == "window");
  CHECK(result.http->body_length == k_https_body_window);
  REQUIRE(result.http->bytes_received);
  // What arrived before the read stopped: the window, and what the small receive buffer let the
  // server push past it (with a default buffer, 128 KiB arrived on loopback).
  CHECK(*result.http->bytes_received < 64 * 1024);

  TransferRequest drip = request_for(fixture, "http", Kind::http, "/drip");
  drip.total_timeout = Millis(1000);
  result = transfer(drip);
  REQUIRE(result.http);
  CHECK(failure_of(*result.http) == "none");  // the head arrived: slow is not blocked
  CHECK(result.http->status == 200);
  CHECK(result.http->body_truncated);
  CHECK(result.http->body_length < 50);
  CHECK(result.http->body_stop == "timeout");

  // 100,000 headers: this curl refuses a response head over 300 KiB. The server answered, so it is
  // not an eof or a reset; the failure says what curl said, and nothing is kept beyond the caps.
  result = transfer(request_for(fixture, "https", Kind::https, "/many-headers"));
  REQUIRE(result.http);
  CHECK(failure_of(*result.http).rfind("unknown_failure: curl: Failure when receiving data from the peer", 0) == 0);
  CHECK(failure_of(*result.http).find("Too large response headers") != std::string::npos);
  CHECK(result.http->headers.size() <= 100);

  result = transfer(request_for(fixture, "https", Kind::https, "/bad-utf8"));
  REQUIRE(result.http);
  CHECK(failure_of(*result.http) == "none");
  CHECK(header(*result.http, "X-Bad") == "\xff\xfe\xc3\x28");
  // The report writer replaces the bytes; the document stays valid JSON.
  Report report;
  report.run_id = "0123456789abcdef0123456789abcdef";
  TargetResult target;
  target.target.app = "t";
  target.target.host = "good.test";
  EndpointObservation endpoint;
  endpoint.address = "127.0.0.1";
  endpoint.port = 443;
  endpoint.http = result.http;
  target.paths["direct"].endpoints.push_back(endpoint);
  report.results.push_back(target);
  const auto parsed = nlohmann::json::parse(serialize(report));
  CHECK(parsed["results"][0]["paths"]["direct"]["endpoints"][0]["http"]["status"] == 200);
}

TEST_CASE("a timeout tells a frozen connection from a trickle: stalled with idle_ms, before or after the head",
          "[steps]") {
  NetFixture fixture;
  // 20 KiB of body, then silence: the head came, the body stalled.
  for (const char* behaviour : {"http", "https"}) {
    INFO(behaviour);
    TransferRequest frozen =
        request_for(fixture, behaviour, std::string(behaviour) == "http" ? Kind::http : Kind::https, "/freeze");
    frozen.https_body_window = 1u << 20;  // read past the title (there is none here anyway)
    frozen.total_timeout = Millis(1000);
    TransferResult result = transfer(frozen);
    REQUIRE(result.http);
    CHECK(failure_of(*result.http) == "none");
    CHECK(result.http->status == 200);
    CHECK(result.http->body_length == 20 * 1024);
    CHECK(result.http->body_stop == "stalled");
    REQUIRE(result.http->idle_ms);
    CHECK(*result.http->idle_ms * 2 >= result.http->duration_ms);
    REQUIRE(result.http->bytes_received);
    CHECK(*result.http->bytes_received >= 20 * 1024);
  }

  // One body byte every 100 ms: never silent for long, so a timeout, not a stall.
  TransferRequest trickle = request_for(fixture, "http", Kind::http, "/trickle");
  trickle.total_timeout = Millis(1000);
  TransferResult result = transfer(trickle);
  REQUIRE(result.http);
  CHECK(result.http->body_stop == "timeout");
  REQUIRE(result.http->idle_ms);
  CHECK(*result.http->idle_ms < 500);
  CHECK_FALSE(stalled(*result.http, result.http->idle_ms));

  // The head's first lines, then silence: the step fails, and its idle_ms says the connection froze.
  TransferRequest head = request_for(fixture, "http", Kind::http, "/freeze-head");
  head.total_timeout = Millis(1000);
  result = transfer(head);
  REQUIRE(result.http);
  CHECK(failure_of(*result.http) == "generic_timeout_error");
  CHECK_FALSE(result.http->status);
  CHECK_FALSE(result.http->body_stop);
  REQUIRE(result.http->idle_ms);
  CHECK(stalled(*result.http, result.http->idle_ms));
}

TEST_CASE("decoy SNI: the handshake a filter resets for the real name completes for another", "[steps]") {
  NetFixture fixture;
  TransferRequest real = request_for(fixture, "sni_reset", Kind::tls);
  real.host = "blocked.test";
  TransferResult result = transfer(real);
  REQUIRE(result.tls);
  CHECK(failure_of(*result.tls) == "connection_reset");
  TransferRequest decoy = real;
  decoy.host = "decoy.test";
  decoy.decoy = true;
  result = transfer(decoy);
  REQUIRE(result.tls);
  CHECK(failure_of(*result.tls) == "none");
  CHECK(result.tls->decoy_sni);
  CHECK(result.tls->sni == "decoy.test");
  CHECK_FALSE(result.tls->verified);  // never verified: it only asks whether TLS completes
  CHECK_FALSE(result.http);
}

TEST_CASE("STUN: a binding response, a wrong transaction id, silence, a closed port", "[steps]") {
  NetFixture fixture;
  const StepTiming ok = stun_to(fixture.port("stun"));
  CHECK(failure_of(ok) == "none");
  CHECK(ok.duration_ms < 500);
  CHECK(failure_of(stun_to(fixture.port("stun_wrong_id"))) == "generic_timeout_error");  // not our answer
  const StepTiming silent = stun_to(fixture.port("stun_silent"));
  CHECK(failure_of(silent) == "generic_timeout_error");
  CHECK(silent.duration_ms >= 1100);
  CHECK(failure_of(stun_to(closed_udp_port())) == "connection_refused");
}
