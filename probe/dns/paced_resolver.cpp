#include "dns/paced_resolver.hpp"

#include <algorithm>
#include <deque>
#include <optional>

#include "dns/dns_message.hpp"

namespace probe {

struct PacedResolver::State {
  struct Waiting {
    std::string name;
    std::uint16_t type = 0;
    bool bogon_expected = false;
    Callback callback;
    int attempt = 0;                   // tries sent before this one
    std::optional<double> first_t0;    // the first try's start, when this is a later try
  };

  EventLoop* loop = nullptr;
  Resolver* inner = nullptr;
  Millis silence{0};   // see the class comment
  Millis recovery{0};  // the window grows by one at most this often (the timeout of a try)
  MonoTime last_change{};
  std::optional<EventLoop::TimerId> silence_timer;
  bool answered_ever = false;
  bool open = false;  // the server has answered nothing: no window (see the class comment)
  std::size_t max_window = k_default_resolver_inflight;
  int tries = 1;
  std::size_t window = 0;
  std::size_t in_flight = 0;
  std::deque<Waiting> waiting;
  std::uint64_t next_sequence = 0;
  std::uint64_t round_start = 0;  // queries sent from here on are in the latest round of loss
  bool answered_since_loss = false;
  bool pumping = false;
  bool closing = false;

  // The back-off's floor: k_min_resolver_inflight, or the maximum when that is lower.
  std::size_t floor() const { return std::min(k_min_resolver_inflight, max_window); }
  std::size_t room() const {
    return open ? waiting.size() + in_flight : std::max(window, floor());
  }

  void stop_silence_timer() {
    if (silence_timer) {
      loop->cancel_timer(*silence_timer);
      silence_timer.reset();
    }
  }

  // `at_send`: the queries in flight, this one included, when it was sent.
  void on_result(std::uint64_t sequence, std::size_t at_send, const DnsQuery& query) {
    --in_flight;
    const bool lost = query.failure && query.failure->code == Failure::generic_timeout_error;
    if (query.rcode) {
      answered_ever = true;
      open = false;
      stop_silence_timer();
    } else if (lost && !answered_ever) {
      open = true;
    }
    const MonoTime now = EventLoop::now();
    if (!lost) {
      answered_since_loss = true;
      // One more at a time, at most once per timeout: a loss is seen only a timeout after it
      // happened, and a window that grew meanwhile would overrun the server many times over.
      if (window < max_window && now - last_change >= recovery) {
        ++window;
        last_change = now;
      }
    } else if (answered_since_loss || sequence < round_start) {
      // Loss while the server answers others. The first loss of a round halves the window; every
      // loss also caps it below the number in flight when the lost query was sent (a forwarder
      // that holds 16 loses the 17th of a burst: the window becomes 16, not half of 64).
      std::size_t next = window;
      if (sequence >= round_start) {
        next = window / 2;
        round_start = next_sequence;
      }
      next = std::min(next, at_send > 1 ? at_send - 1 : std::size_t{1});
      window = std::max(next, floor());
      last_change = now;
      answered_since_loss = false;
    }
  }

  void pump(const std::shared_ptr<State>& self) {
    if (pumping || closing) {
      return;  // an answer came inside inner->query(): the loop below goes on with the queue
    }
    pumping = true;
    if (!answered_ever && !open && !silence_timer && !waiting.empty()) {
      std::weak_ptr<State> weak = self;
      silence_timer = loop->add_timer(silence, [weak]() {
        if (const std::shared_ptr<State> state = weak.lock()) {
          state->silence_timer.reset();
          if (!state->answered_ever) {
            state->open = true;
            state->pump(state);
          }
        }
      });
    }
    while (!waiting.empty() && in_flight < room() && !closing) {
      Waiting next = std::move(waiting.front());
      waiting.pop_front();
      ++in_flight;
      const std::uint64_t sequence = next_sequence++;
      const std::size_t at_send = in_flight;
      std::weak_ptr<State> weak = self;
      const std::string name = next.name;
      const std::uint16_t type = next.type;
      const bool bogon_expected = next.bogon_expected;
      inner->query(name, type, bogon_expected, [weak, sequence, at_send, next = std::move(next)](DnsQuery query) mutable {
        const std::shared_ptr<State> state = weak.lock();
        const bool lost = query.failure && query.failure->code == Failure::generic_timeout_error;
        if (state && !state->closing) {
          state->on_result(sequence, at_send, query);
          if (lost && next.attempt + 1 < state->tries) {
            // Lost: it goes again first, under the window the loss just narrowed.
            if (!next.first_t0) {
              next.first_t0 = query.t0_ms;
            }
            ++next.attempt;
            state->waiting.push_front(std::move(next));
            state->pump(state);
            return;
          }
        }
        if (next.first_t0) {
          // One observation for all its tries, as a resolver that retries itself gives.
          query.duration_ms = query.t0_ms + query.duration_ms - *next.first_t0;
          query.t0_ms = *next.first_t0;
        }
        next.callback(std::move(query));
        if (state) {
          state->pump(state);
        }
      });
    }
    if (waiting.empty() && in_flight == 0) {
      stop_silence_timer();  // nothing left to wait for: the timer must not keep the loop running
    }
    pumping = false;
  }
};

PacedResolver::PacedResolver(EventLoop& loop, std::unique_ptr<Resolver> inner, std::size_t max_in_flight,
                             Millis timeout, MonoTime run_start, int tries)
    : m_state(std::make_shared<State>()), m_inner(std::move(inner)), m_run_start(run_start) {
  m_state->loop = &loop;
  m_state->tries = std::max(tries, 1);
  m_state->silence = std::max(timeout / 8, Millis(1));
  m_state->recovery = timeout;
  m_state->last_change = EventLoop::now();
  m_state->inner = m_inner.get();
  m_state->max_window = std::max<std::size_t>(max_in_flight, 1);
  m_state->window = m_state->max_window;
}

PacedResolver::~PacedResolver() {
  m_state->closing = true;
  m_state->stop_silence_timer();
  // Never sent: they complete here, as the inner resolver's own pending queries do when it goes.
  std::deque<State::Waiting> waiting = std::move(m_state->waiting);
  const double now_ms = ms_between(m_run_start, EventLoop::now());
  for (State::Waiting& query : waiting) {
    DnsQuery out;
    out.resolver = m_inner->label();
    out.type = type_name(query.type);
    out.t0_ms = query.first_t0.value_or(now_ms);
    out.duration_ms = now_ms - out.t0_ms;
    out.failure = FailureInfo{Failure::interrupted, ""};
    query.callback(std::move(out));
  }
  m_inner.reset();  // its in-flight queries complete now, as "interrupted"
}

void PacedResolver::query(const std::string& name, std::uint16_t type, bool bogon_expected, Callback callback) {
  m_state->waiting.push_back({name, type, bogon_expected, std::move(callback), 0, std::nullopt});
  m_state->pump(m_state);
}

std::size_t PacedResolver::window() const { return m_state->room(); }
std::size_t PacedResolver::in_flight() const { return m_state->in_flight; }
std::size_t PacedResolver::queued() const { return m_state->waiting.size(); }

}  // namespace probe
