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
  };

  EventLoop* loop = nullptr;
  Resolver* inner = nullptr;
  Millis silence{0};
  std::optional<EventLoop::TimerId> silence_timer;
  bool answered_ever = false;
  bool open = false;  // the server has answered nothing: no window (see the class comment)
  std::size_t max_window = k_default_resolver_inflight;
  double window = 0;
  std::size_t in_flight = 0;
  std::deque<Waiting> waiting;
  std::uint64_t next_sequence = 0;
  std::uint64_t halved_before = 0;  // timeouts of queries sent before this one do not halve again
  bool answered_since_halving = false;
  bool pumping = false;
  bool closing = false;

  // The back-off's floor: k_min_resolver_inflight, or the maximum when that is lower.
  std::size_t floor() const { return std::min(k_min_resolver_inflight, max_window); }
  std::size_t room() const {
    return open ? waiting.size() + in_flight : std::max(static_cast<std::size_t>(window), floor());
  }

  void stop_silence_timer() {
    if (silence_timer) {
      loop->cancel_timer(*silence_timer);
      silence_timer.reset();
    }
  }

  void on_result(std::uint64_t sequence, const DnsQuery& query) {
    --in_flight;
    const bool lost = query.failure && query.failure->code == Failure::generic_timeout_error;
    if (query.rcode) {
      answered_ever = true;
      open = false;
      stop_silence_timer();
    } else if (lost && !answered_ever) {
      open = true;
    }
    if (!lost) {
      answered_since_halving = true;
      window = std::min(static_cast<double>(max_window), window + 1.0 / std::max(window, 1.0));
    } else if (sequence >= halved_before && answered_since_halving) {
      window = std::max(static_cast<double>(floor()), window / 2.0);
      halved_before = next_sequence;
      answered_since_halving = false;
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
      std::weak_ptr<State> weak = self;
      inner->query(next.name, next.type, next.bogon_expected,
                   [weak, sequence, callback = std::move(next.callback)](DnsQuery query) {
                     const std::shared_ptr<State> state = weak.lock();
                     if (state && !state->closing) {
                       state->on_result(sequence, query);
                     }
                     callback(std::move(query));
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
                             Millis silence, MonoTime run_start)
    : m_state(std::make_shared<State>()), m_inner(std::move(inner)), m_run_start(run_start) {
  m_state->loop = &loop;
  m_state->silence = silence;
  m_state->inner = m_inner.get();
  m_state->max_window = std::max<std::size_t>(max_in_flight, 1);
  m_state->window = static_cast<double>(m_state->max_window);
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
    out.t0_ms = now_ms;
    out.failure = FailureInfo{Failure::interrupted, ""};
    query.callback(std::move(out));
  }
  m_inner.reset();  // its in-flight queries complete now, as "interrupted"
}

void PacedResolver::query(const std::string& name, std::uint16_t type, bool bogon_expected, Callback callback) {
  m_state->waiting.push_back({name, type, bogon_expected, std::move(callback)});
  m_state->pump(m_state);
}

std::size_t PacedResolver::window() const { return m_state->room(); }
std::size_t PacedResolver::in_flight() const { return m_state->in_flight; }
std::size_t PacedResolver::queued() const { return m_state->waiting.size(); }

}  // namespace probe
