// The DNS pacer (dns/paced_resolver.hpp) over a scripted resolver: the test decides when each
// query is answered or times out, so the window's every move can be checked.

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "dns/dns_message.hpp"
#include "dns/paced_resolver.hpp"

using namespace probe;

namespace {

// Holds every query until the test answers it (NOERROR), times it out, or goes away (interrupted).
class ScriptedResolver : public Resolver {
public:
  struct Held {
    std::string name;
    Callback callback;
  };

  ~ScriptedResolver() override {
    for (Held& held : m_held) {
      finish(held, "interrupted");
    }
  }

  void query(const std::string& name, std::uint16_t, bool, Callback callback) override {
    m_held.push_back({name, std::move(callback)});
    sent.push_back(name);
    most_in_flight = std::max(most_in_flight, m_held.size());
  }
  std::string label() const override { return "scripted:53"; }

  std::size_t in_flight() const { return m_held.size(); }
  // Completes the oldest query held: answered, or with `failure`.
  void complete_oldest(const std::string& failure = "") {
    REQUIRE(!m_held.empty());
    Held held = std::move(m_held.front());
    m_held.erase(m_held.begin());
    finish(held, failure);
  }

  std::vector<std::string> sent;
  std::size_t most_in_flight = 0;

private:
  static void finish(Held& held, const std::string& failure) {
    DnsQuery query;
    query.resolver = "scripted:53";
    query.type = "A";
    if (failure.empty()) {
      query.rcode = "NOERROR";
    } else {
      query.failure = FailureInfo{*failure_from_string(failure), ""};
    }
    held.callback(std::move(query));
  }

  std::vector<Held> m_held;
};

struct Paced {
  EventLoop loop;
  ScriptedResolver* inner = nullptr;
  std::unique_ptr<PacedResolver> paced;
  std::vector<std::string> results;  // "name failure-or-ok", in the order the callbacks ran

  explicit Paced(std::size_t max_in_flight, Millis silence = Millis(60000)) {
    auto scripted = std::make_unique<ScriptedResolver>();
    inner = scripted.get();
    paced = std::make_unique<PacedResolver>(loop, std::move(scripted), max_in_flight, silence, EventLoop::now());
  }
  void ask(const std::string& name) {
    paced->query(name, k_type_a, false, [this, name](DnsQuery query) {
      results.push_back(name + " " + (query.failure ? query.failure->str() : "ok"));
    });
  }
};

}  // namespace

TEST_CASE("DNS pacing: at most the window in flight to one server, the rest sent in order as answers come",
          "[dns][pacing]") {
  Paced run(4);
  for (int i = 0; i < 20; ++i) {
    run.ask("n" + std::to_string(i) + ".test");
  }
  CHECK(run.inner->in_flight() == 4);
  CHECK(run.paced->queued() == 16);
  CHECK(run.results.empty());  // never answered from inside query()
  while (run.inner->in_flight() > 0) {
    run.inner->complete_oldest();
  }
  CHECK(run.inner->most_in_flight == 4);
  REQUIRE(run.results.size() == 20);
  for (int i = 0; i < 20; ++i) {
    CHECK(run.inner->sent[static_cast<std::size_t>(i)] == "n" + std::to_string(i) + ".test");
    CHECK(run.results[static_cast<std::size_t>(i)] == "n" + std::to_string(i) + ".test ok");
  }
  CHECK(run.paced->queued() == 0);
}

TEST_CASE("DNS pacing: timeouts from a server that answers others halve the window once per round, "
          "answers widen it back",
          "[dns][pacing]") {
  Paced run(64);
  for (int i = 0; i < 300; ++i) {
    run.ask("n" + std::to_string(i) + ".test");
  }
  CHECK(run.paced->window() == 64);
  run.inner->complete_oldest();  // answered: the server is alive
  run.inner->complete_oldest("generic_timeout_error");
  CHECK(run.paced->window() == 32);
  // Sent before the halving: the same round of loss, no second halving.
  run.inner->complete_oldest("generic_timeout_error");
  CHECK(run.paced->window() == 32);
  // Nothing new goes out while more than the window is still in flight.
  const std::size_t sent = run.inner->sent.size();
  for (int i = 0; i < 20; ++i) {
    run.inner->complete_oldest();
  }
  CHECK(run.inner->sent.size() == sent);
  // Drain what was sent before the halving; then a loss in the new round halves again.
  while (run.inner->sent.size() < 130) {
    run.inner->complete_oldest();
  }
  const std::size_t before = run.paced->window();
  CHECK(before >= 32);
  for (std::size_t i = 0; run.inner->in_flight() > 0 && i < 64; ++i) {
    run.inner->complete_oldest();
  }
  run.inner->complete_oldest("generic_timeout_error");
  CHECK(run.paced->window() <= before / 2 + 1);
  // Answers widen it by 1/window each, never past the maximum.
  for (int i = 0; i < 2000 && run.inner->in_flight() > 0; ++i) {
    run.inner->complete_oldest();
  }
  CHECK(run.paced->window() > before / 2 + 1);
  CHECK(run.paced->window() <= 64);
  CHECK(run.inner->most_in_flight <= 64);
  CHECK(run.results.size() == 300);
}

TEST_CASE("DNS pacing: the window never backs off below its floor", "[dns][pacing]") {
  Paced run(64);
  for (int i = 0; i < 1000; ++i) {
    run.ask("n" + std::to_string(i) + ".test");
  }
  run.inner->complete_oldest();
  // A loss in every round: 64, 32, 16, 8, 4, then 4 again. A round ends when every query sent
  // before its halving is answered.
  for (int round = 0; round < 8; ++round) {
    run.inner->complete_oldest("generic_timeout_error");
    const std::size_t mark = run.inner->sent.size();
    while (run.results.size() < mark) {
      run.inner->complete_oldest();
    }
  }
  CHECK(run.paced->window() == k_min_resolver_inflight);
  CHECK(run.inner->in_flight() <= k_min_resolver_inflight);
}

TEST_CASE("DNS pacing: a server that answers nothing is not held to the window", "[dns][pacing]") {
  SECTION("its first queries time out") {
    Paced run(16);
    for (int i = 0; i < 100; ++i) {
      run.ask("n" + std::to_string(i) + ".test");
    }
    CHECK(run.inner->in_flight() == 16);
    run.inner->complete_oldest("generic_timeout_error");
    CHECK(run.inner->in_flight() == 99);  // the rest go at once: nothing comes back to overflow
    // Its first answer puts it back under the window.
    run.inner->complete_oldest();
    CHECK(run.paced->window() <= 16);
  }
  SECTION("it stays silent a while after the first query") {
    Paced run(16, Millis(50));
    for (int i = 0; i < 100; ++i) {
      run.ask("n" + std::to_string(i) + ".test");
    }
    CHECK(run.inner->in_flight() == 16);
    run.loop.add_timer(Millis(200), [&run]() {
      CHECK(run.inner->in_flight() == 100);
      while (run.inner->in_flight() > 0) {
        run.inner->complete_oldest("generic_timeout_error");
      }
    });
    run.loop.run();
    CHECK(run.results.size() == 100);
  }
  SECTION("an answer before the silence ends keeps the window, and the timer does not hold the loop") {
    Paced run(16, Millis(50));
    for (int i = 0; i < 40; ++i) {
      run.ask("n" + std::to_string(i) + ".test");
    }
    run.inner->complete_oldest();
    const MonoTime before = EventLoop::now();
    run.loop.add_timer(Millis(100), [&run]() {
      CHECK(run.inner->in_flight() == 16);
      while (run.inner->in_flight() > 0) {
        run.inner->complete_oldest();
      }
    });
    run.loop.run();
    CHECK(run.results.size() == 40);
    CHECK(ms_between(before, EventLoop::now()) < 1000);
  }
}

TEST_CASE("DNS pacing: when it goes away, queued queries end interrupted, and so do those in flight",
          "[dns][pacing]") {
  Paced run(2);
  for (int i = 0; i < 5; ++i) {
    run.ask("n" + std::to_string(i) + ".test");
  }
  run.inner->complete_oldest();
  run.paced.reset();
  REQUIRE(run.results.size() == 5);
  CHECK(run.results[0] == "n0.test ok");
  std::size_t interrupted = 0;
  for (const std::string& line : run.results) {
    interrupted += line.ends_with(" interrupted") ? 1 : 0;
  }
  CHECK(interrupted == 4);
}
