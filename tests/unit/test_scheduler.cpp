#include <catch2/catch.hpp>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engine/scheduler.hpp"

using probe::Scheduler;

namespace {

// Operations that finish only when the test says so, recording what ran.
struct Harness {
  Scheduler scheduler;
  std::vector<std::string> started;
  std::vector<std::function<void()>> pending;
  std::map<std::string, int> in_flight;
  int peak_total = 0;
  std::map<std::string, int> peak_per_key;

  Harness(std::size_t limit, std::size_t per_key) : scheduler(limit, per_key) {}

  void add(const std::string& key, const std::string& name) {
    scheduler.add(key, [this, key, name](std::function<void()> done) {
      started.push_back(name);
      ++in_flight[key];
      peak_per_key[key] = std::max(peak_per_key[key], in_flight[key]);
      int total = 0;
      for (const auto& [k, n] : in_flight) {
        total += n;
      }
      peak_total = std::max(peak_total, total);
      pending.push_back([this, key, done]() {
        --in_flight[key];
        done();
      });
    });
  }

  // Finishes the oldest operation still running.
  void finish_one() {
    REQUIRE_FALSE(pending.empty());
    auto next = std::move(pending.front());
    pending.erase(pending.begin());
    next();
  }
};

}  // namespace

TEST_CASE("the scheduler caps operations in flight, overall and per destination", "[scheduler]") {
  Harness h(3, 2);
  for (int n = 0; n < 4; ++n) {
    h.add("10.0.0.1", "a" + std::to_string(n));
  }
  h.add("10.0.0.2", "b0");
  h.add("", "dns0");
  h.scheduler.pump();
  // Two to the first address (its cap), then the next ready ones, three in all.
  CHECK(h.started == std::vector<std::string>{"a0", "a1", "b0"});
  while (!h.pending.empty()) {
    h.finish_one();
  }
  CHECK(h.started.size() == 6);
  CHECK(h.peak_total == 3);
  CHECK(h.peak_per_key["10.0.0.1"] == 2);
  // Operations of one address keep their order.
  std::vector<std::string> order_a;
  for (const auto& name : h.started) {
    if (name[0] == 'a') {
      order_a.push_back(name);
    }
  }
  CHECK(order_a == std::vector<std::string>{"a0", "a1", "a2", "a3"});
}

TEST_CASE("operations without a key are capped only by the overall limit", "[scheduler]") {
  Harness h(5, 1);
  for (int n = 0; n < 8; ++n) {
    h.add("", "q" + std::to_string(n));
  }
  h.scheduler.pump();
  CHECK(h.started.size() == 5);
  while (!h.pending.empty()) {
    h.finish_one();
  }
  CHECK(h.started.size() == 8);
  CHECK(h.peak_total == 5);
}

TEST_CASE("an operation that finishes at once lets the queue drain without recursion trouble", "[scheduler]") {
  Scheduler scheduler(1, 1);
  int ran = 0;
  for (int n = 0; n < 10000; ++n) {
    scheduler.add(n % 2 == 0 ? "x" : "", [&ran](std::function<void()> done) {
      ++ran;
      done();
    });
  }
  scheduler.pump();
  CHECK(ran == 10000);
}
