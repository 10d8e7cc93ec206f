// The DNS pacer (dns/paced_resolver.hpp) over a scripted resolver: the test decides when each
// query is answered or times out, so the window's every move can be checked.

#include <catch2/catch.hpp>

#include <algorithm>
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
    double t0_ms = 0;
  };

  ~ScriptedResolver() override {
    for (Held& held : m_held) {
      finish(held, "interrupted");
    }
  }

  void query(const std::string& name, std::uint16_t, bool, Callback callback) override {
    // Each try starts 10 ms after the one before and takes 5 ms, on the report's clock.
    m_held.push_back({name, std::move(callback), 10.0 * static_cast<double>(sent.size())});
    sent.push_back(name);
    most_in_flight = std::max(most_in_flight, m_held.size());
  }
  std::string label() const override { return "scripted:53"; }

  std::size_t in_flight() const { return m_held.size(); }
  // Completes the query held for `name`: answered, or with `failure`.
  void complete(const std::string& name, const std::string& failure = "") {
    const auto it = std::find_if(m_held.begin(), m_held.end(), [&name](const Held& held) { return held.name == name; });
    REQUIRE(it != m_held.end());
    Held held = std::move(*it);
    m_held.erase(it);
    finish(held, failure);
  }
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
    query.t0_ms = held.t0_ms;
    query.duration_ms = 5;
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
  std::vector<DnsQuery> queries;     // the observations, in the same order

  // `timeout`: of one try (the window grows by one per timeout at most; a server silent for an
  // eighth of it is not held to the window).
  explicit Paced(std::size_t max_in_flight, Millis timeout = Millis(60000), int tries = 1) {
    auto scripted = std::make_unique<ScriptedResolver>();
    inner = scripted.get();
    paced =
        std::make_unique<PacedResolver>(loop, std::move(scripted), max_in_flight, timeout, EventLoop::now(), tries);
  }
  // The resolver goes first: the queries it still holds complete into `results`.
  ~Paced() { paced.reset(); }
  Paced(const Paced&) = delete;
  Paced& operator=(const Paced&) = delete;
  void ask(const std::string& name) {
    paced->query(name, k_type_a, false, [this, name](DnsQuery query) {
      results.push_back(name + " " + (query.failure ? query.failure->str() : "ok"));
      queries.push_back(std::move(query));
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

TEST_CASE("DNS pacing: loss from a server that answers others halves the window once per round and caps it "
          "below what was in flight when the lost query went out",
          "[dns][pacing]") {
  Paced run(64);
  for (int i = 0; i < 1000; ++i) {
    run.ask("n" + std::to_string(i) + ".test");
  }
  CHECK(run.paced->window() == 64);
  run.inner->complete("n0.test");  // answered: the server is alive; n64 goes out
  CHECK(run.paced->window() == 64);
  // n50 went out with 51 in flight: halved (64 to 32), under 50 already.
  run.inner->complete("n50.test", "generic_timeout_error");
  CHECK(run.paced->window() == 32);
  // The same round: no second halving, and n40 went out with 41 in flight.
  run.inner->complete("n40.test", "generic_timeout_error");
  CHECK(run.paced->window() == 32);
  // n20 went out with 21 in flight: the server holds fewer than that.
  run.inner->complete("n20.test", "generic_timeout_error");
  CHECK(run.paced->window() == 20);
  // Nothing new goes out while the window is full, and answers within a timeout do not widen it.
  const std::size_t sent = run.inner->sent.size();
  CHECK(run.inner->in_flight() == 61);
  for (int i = 0; i < 41; ++i) {
    run.inner->complete_oldest();
  }
  CHECK(run.paced->window() == 20);
  CHECK(run.inner->sent.size() == sent);
  CHECK(run.inner->in_flight() == 20);
  run.inner->complete_oldest();
  CHECK(run.inner->sent.size() == sent + 1);
  CHECK(run.inner->in_flight() == 20);
  CHECK(run.inner->most_in_flight == 64);
}

TEST_CASE("DNS pacing: after a loss the window grows back by one per timeout at most, with answers between",
          "[dns][pacing]") {
  Paced run(8, Millis(100));
  for (int i = 0; i < 100; ++i) {
    run.ask("n" + std::to_string(i) + ".test");
  }
  run.inner->complete("n0.test");
  run.inner->complete("n5.test", "generic_timeout_error");  // out with 6 in flight: halved to 4
  CHECK(run.paced->window() == 4);
  for (int i = 0; i < 10; ++i) {
    run.inner->complete_oldest();  // within the timeout: no growth
  }
  CHECK(run.paced->window() == 4);
  CHECK(run.inner->in_flight() == 4);
  std::vector<std::size_t> windows;
  for (const int at : {150, 200, 300}) {
    run.loop.add_timer(Millis(at), [&run, &windows]() {
      run.inner->complete_oldest();
      run.inner->complete_oldest();
      windows.push_back(run.paced->window());
    });
  }
  run.loop.run();
  // 150 ms after the loss: one more; 50 ms later not yet; 150 ms after that, one more.
  CHECK(windows == std::vector<std::size_t>{5, 5, 6});
  CHECK(run.inner->in_flight() == 6);
}

TEST_CASE("DNS pacing: the window never backs off below its floor", "[dns][pacing]") {
  Paced run(64);
  for (int i = 0; i < 1000; ++i) {
    run.ask("n" + std::to_string(i) + ".test");
  }
  run.inner->complete_oldest();
  for (int i = 0; i < 20; ++i) {
    run.inner->complete_oldest("generic_timeout_error");
  }
  CHECK(run.paced->window() == k_min_resolver_inflight);
  run.inner->complete_oldest();
  for (int i = 0; i < 20; ++i) {
    run.inner->complete_oldest("generic_timeout_error");
  }
  CHECK(run.paced->window() == k_min_resolver_inflight);
  CHECK(run.inner->sent.size() == 65);  // 23 still in flight: nothing more sent
}

TEST_CASE("DNS pacing: with tries, a lost query goes again first under the narrowed window, one "
          "observation spanning its tries",
          "[dns][pacing]") {
  Paced run(8, Millis(60000), 2);
  for (int i = 0; i < 20; ++i) {
    run.ask("n" + std::to_string(i) + ".test");
  }
  run.inner->complete_oldest();                         // n0 answered, n8 sent
  run.inner->complete_oldest("generic_timeout_error");  // n1 lost: window 4, n1 queued first
  CHECK(run.results.size() == 1);
  CHECK(run.paced->window() == 4);
  // n2..n8 are still in flight: n1 waits for the window.
  CHECK(std::count(run.inner->sent.begin(), run.inner->sent.end(), "n1.test") == 1);
  for (int i = 0; i < 3; ++i) {
    run.inner->complete_oldest();  // n2, n3, n4
  }
  CHECK(std::count(run.inner->sent.begin(), run.inner->sent.end(), "n1.test") == 1);
  run.inner->complete_oldest();  // n5: three in flight, room for one
  CHECK(std::count(run.inner->sent.begin(), run.inner->sent.end(), "n1.test") == 2);
  CHECK(run.inner->sent.back() == "n1.test");  // before n8 and later names
  // Its second try is answered: one result for n1, spanning both tries.
  while (run.inner->in_flight() > 0) {
    run.inner->complete_oldest();
  }
  REQUIRE(run.results.size() == 20);
  std::size_t n1 = 0;
  for (std::size_t i = 0; i < run.results.size(); ++i) {
    if (run.results[i].starts_with("n1.test ")) {
      ++n1;
      CHECK(run.results[i] == "n1.test ok");
      // t0 of its first try (the second query sent, at 10 ms), to the end of its second.
      CHECK(run.queries[i].t0_ms == 10.0);
      CHECK(run.queries[i].duration_ms > 5.0);
    }
  }
  CHECK(n1 == 1);
}

TEST_CASE("DNS pacing: a query lost on its last try is reported lost", "[dns][pacing]") {
  Paced run(8, Millis(60000), 2);
  run.ask("a.test");
  run.ask("b.test");
  run.inner->complete_oldest();                         // a answered: the server is alive
  run.inner->complete_oldest("generic_timeout_error");  // b's first try
  REQUIRE(run.inner->in_flight() == 1);
  run.inner->complete_oldest("generic_timeout_error");  // b's second
  REQUIRE(run.results.size() == 2);
  CHECK(run.results[1] == "b.test generic_timeout_error");
  CHECK(run.queries[1].t0_ms == 10.0);
  CHECK(run.queries[1].duration_ms == 15.0);  // from 10 ms to the second try's end (20 + 5)
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
    Paced run(16, Millis(400));  // silent for 50 ms: not held
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
    Paced run(16, Millis(400));
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
