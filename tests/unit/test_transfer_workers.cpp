#include <catch2/catch.hpp>

#include <sched.h>

#include <memory>
#include <thread>
#include <vector>

#include "net/curl_multi.hpp"
#include "net/event_loop.hpp"
#include "steps/transfer_workers.hpp"
#include "support/net_fixture.hpp"
#include "support/temp_dir.hpp"

using namespace probe;
using probe::test::count_entries;
using probe::test::NetFixture;

namespace {

TransferRequest request_for(const NetFixture& fixture, const std::string& behaviour, Millis timeout = Millis(2000)) {
  TransferRequest request;
  request.kind = Kind::https;
  request.host = "good.test";
  request.address = "127.0.0.1";
  request.port = fixture.port(behaviour);
  request.connect_timeout = timeout;
  request.total_timeout = timeout;
  request.ca_bundle = fixture.ca_file();
  request.user_agent = "test";
  return request;
}

std::string tls_failure(const TransferResult& result) {
  return result.tls && result.tls->failure ? result.tls->failure->str() : "none";
}

struct Delivered {
  std::vector<std::optional<TransferResult>> results;
  std::vector<std::thread::id> threads;
};

}  // namespace

TEST_CASE("TLS on worker threads: the same results as on the loop, each handed back on the loop's thread",
          "[steps][concurrency]") {
  NetFixture fixture;
  const std::vector<std::string> behaviours{"https", "untrusted", "wrong_name", "reset_after_hello", "expired"};
  const std::vector<std::string> expected{"none", "ssl_unknown_authority", "ssl_invalid_hostname",
                                          "connection_reset", "ssl_invalid_certificate"};
  for (const std::size_t threads : {std::size_t{0}, std::size_t{2}}) {
    INFO("threads " << threads);
    EventLoop loop;
    CurlMulti multi(loop);
    TransferWorkers workers(loop, multi, threads);
    CHECK(workers.threads() == threads);
    Delivered delivered;
    const std::size_t count = 4 * behaviours.size();
    delivered.results.resize(count);
    delivered.threads.resize(count);
    for (std::size_t i = 0; i < count; ++i) {
      workers.start(request_for(fixture, behaviours[i % behaviours.size()]), EventLoop::now(),
                    [&delivered, i](TransferResult result) {
                      REQUIRE_FALSE(delivered.results[i]);  // exactly once
                      delivered.results[i] = std::move(result);
                      delivered.threads[i] = std::this_thread::get_id();
                    });
    }
    loop.run();  // returns only once every result is in
    for (std::size_t i = 0; i < count; ++i) {
      INFO("transfer " << i << " (" << behaviours[i % behaviours.size()] << ")");
      REQUIRE(delivered.results[i]);
      CHECK(delivered.threads[i] == std::this_thread::get_id());
      CHECK(tls_failure(*delivered.results[i]) == expected[i % expected.size()]);
      if (i % behaviours.size() == 0) {
        CHECK(delivered.results[i]->tls->verified);
        REQUIRE(delivered.results[i]->http);
        CHECK(delivered.results[i]->http->status == 200);
      }
    }
  }
}

TEST_CASE("TLS on worker threads: a result may start the next transfer, an idle pool keeps nothing running",
          "[steps][concurrency]") {
  NetFixture fixture;
  EventLoop loop;
  CurlMulti multi(loop);
  TransferWorkers workers(loop, multi, 2);
  const MonoTime before = EventLoop::now();
  loop.run();  // nothing asked: returns at once
  CHECK(ms_between(before, EventLoop::now()) < 100);

  int done = 0;
  std::function<void(TransferResult)> next = [&](TransferResult result) {
    CHECK(tls_failure(result) == "none");
    if (++done < 5) {
      workers.start(request_for(fixture, "https"), EventLoop::now(), next);
    }
  };
  workers.start(request_for(fixture, "https"), EventLoop::now(), next);
  loop.run();
  CHECK(done == 5);
}

TEST_CASE("TLS on worker threads: stopping with transfers out drops them at once and closes everything",
          "[steps][concurrency]") {
  NetFixture fixture;
  const std::size_t fds_before = count_entries("/proc/self/fd");
  int delivered = 0;
  const MonoTime started = EventLoop::now();
  {
    EventLoop loop;
    CurlMulti multi(loop);
    auto workers = std::make_unique<TransferWorkers>(loop, multi, 2);
    for (int i = 0; i < 10; ++i) {
      // A server that accepts and never answers: each transfer would wait 5 s.
      workers->start(request_for(fixture, "silent", Millis(5000)), EventLoop::now(),
                     [&delivered](TransferResult) { ++delivered; });
    }
    loop.add_timer(Millis(300), [&workers]() { workers.reset(); });
    loop.run();
  }
  CHECK(delivered == 0);
  CHECK(ms_between(started, EventLoop::now()) < 2000);
  CHECK(count_entries("/proc/self/fd") == fds_before);
}

TEST_CASE("TLS threads by default: one per core, at most 4, none on one core", "[steps][concurrency]") {
  cpu_set_t set;
  CPU_ZERO(&set);
  REQUIRE(::sched_getaffinity(0, sizeof set, &set) == 0);
  const auto cores = static_cast<std::size_t>(CPU_COUNT(&set));
  const std::size_t expected = cores <= 1 ? 0 : std::min<std::size_t>(cores, 4);
  CHECK(TransferWorkers::default_threads() == expected);
}
