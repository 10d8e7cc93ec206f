#include "dns/lifecycle.hpp"

#include <ares.h>
#include <sys/random.h>

#include <map>
#include <optional>
#include <random>

#include "core/digest.hpp"
#include "dns/dns_message.hpp"
#include "net/classify.hpp"

namespace probe {

TryOutcome TryOutcome::replied(std::string message) {
  TryOutcome outcome;
  outcome.kind = Kind::reply;
  outcome.message = std::move(message);
  return outcome;
}

TryOutcome TryOutcome::other_question(std::string message) {
  TryOutcome outcome;
  outcome.kind = Kind::mismatched;
  outcome.message = std::move(message);
  return outcome;
}

TryOutcome TryOutcome::failed(FailureInfo failure, bool retryable) {
  TryOutcome outcome;
  outcome.failure = std::move(failure);
  outcome.retryable = retryable;
  return outcome;
}

std::uint16_t random_query_id() {
  std::uint16_t id = 0;
  if (::getrandom(&id, sizeof id, GRND_NONBLOCK) == static_cast<ssize_t>(sizeof id)) {
    return id;
  }
  std::random_device device;
  return static_cast<std::uint16_t>(device());
}

struct TransportResolver::Impl {
  struct Pending {
    DnsQuery query;
    std::uint16_t type = 0;
    bool bogon_expected = false;
    MonoTime started;
    std::string wire;  // empty: the name could not be encoded, and query.failure says why
    int attempt = 0;   // tries sent
    bool sent = false;  // a try is with the transport
    Callback callback;
    std::optional<EventLoop::TimerId> timer;  // the next thing to do, from the loop
  };

  EventLoop& loop;
  std::unique_ptr<DnsTransport> transport;
  std::string label;
  DnsSettings settings;
  const BogonTable& bogons;
  MonoTime run_start;
  int tries;
  std::uint64_t next_key = 1;
  std::map<std::uint64_t, Pending> active;

  Impl(EventLoop& event_loop, std::unique_ptr<DnsTransport> carrier, std::string name, const DnsSettings& dns_settings,
       const BogonTable& table, MonoTime start, int max_tries)
      : loop(event_loop),
        transport(std::move(carrier)),
        label(std::move(name)),
        settings(dns_settings),
        bogons(table),
        run_start(start),
        tries(std::max(max_tries, 1)) {
    transport->on_done([this](std::uint64_t key, TryOutcome outcome) { on_try_done(key, std::move(outcome)); });
  }

  // Runs `action` on query `key` from the loop, if it is still in flight then.
  void later(std::uint64_t key, void (Impl::*action)(std::uint64_t)) {
    Pending& pending = active.at(key);
    if (pending.timer) {
      loop.cancel_timer(*pending.timer);
    }
    pending.timer = loop.add_timer(Millis(0), [this, key, action]() {
      const auto found = active.find(key);
      if (found != active.end()) {
        found->second.timer.reset();
        (this->*action)(key);
      }
    });
  }

  void send(std::uint64_t key) {
    Pending& pending = active.at(key);
    if (pending.wire.empty()) {
      deliver(key);  // failed before it could be sent
      return;
    }
    ++pending.attempt;
    pending.sent = true;
    transport->send(key, pending.wire, pending.attempt);
  }

  void on_try_done(std::uint64_t key, TryOutcome outcome) {
    const auto found = active.find(key);
    if (found == active.end() || !found->second.sent) {
      return;  // interrupted, or a transport's late word
    }
    Pending& pending = found->second;
    pending.sent = false;
    switch (outcome.kind) {
    case TryOutcome::Kind::reply:
      fill_from_reply(pending.query, outcome.message, pending.type, bogons, settings.raw_cap, pending.bogon_expected);
      break;
    case TryOutcome::Kind::mismatched:
      pending.query.raw_truncated = outcome.message.size() > settings.raw_cap;
      pending.query.raw_base64 = base64_encode(std::string_view(outcome.message).substr(0, settings.raw_cap));
      pending.query.failure = FailureInfo{Failure::unknown_failure, "mismatched DNS reply"};
      break;
    case TryOutcome::Kind::failure:
      if (outcome.retryable && pending.attempt < tries) {
        later(key, &Impl::send);  // a fresh try, from the loop
        return;
      }
      pending.query.failure = std::move(outcome.failure);
      break;
    }
    later(key, &Impl::deliver);
  }

  // Hands the observation over. The callback may destroy the resolver, so nothing here touches
  // `this` after it.
  void deliver(std::uint64_t key) {
    const auto found = active.find(key);
    Pending pending = std::move(found->second);
    active.erase(found);
    if (pending.timer) {
      loop.cancel_timer(*pending.timer);
    }
    if (pending.sent) {
      transport->cancel(key);
    }
    pending.query.duration_ms = ms_between(pending.started, EventLoop::now());  // every try's
    Callback callback = std::move(pending.callback);
    callback(std::move(pending.query));
  }
};

TransportResolver::TransportResolver(EventLoop& loop, std::unique_ptr<DnsTransport> transport, std::string label,
                                     const DnsSettings& settings, const BogonTable& bogons, MonoTime run_start,
                                     int tries)
    : m_impl(std::make_unique<Impl>(loop, std::move(transport), std::move(label), settings, bogons, run_start, tries)) {}

TransportResolver::~TransportResolver() {
  // A callback could ask again while we finish; those are interrupted too.
  while (!m_impl->active.empty()) {
    const std::uint64_t key = m_impl->active.begin()->first;
    Impl::Pending& pending = m_impl->active.begin()->second;
    pending.query.failure = FailureInfo{Failure::interrupted, ""};
    m_impl->deliver(key);
  }
  m_impl->transport.reset();
}

std::string TransportResolver::label() const { return m_impl->label; }

void TransportResolver::query(const std::string& name, std::uint16_t type, bool bogon_expected, Callback callback) {
  const std::uint64_t key = m_impl->next_key++;
  Impl::Pending& pending = m_impl->active[key];
  pending.type = type;
  pending.bogon_expected = bogon_expected;
  pending.callback = std::move(callback);
  pending.started = EventLoop::now();
  pending.query.resolver = m_impl->label;
  pending.query.type = type_name(type);
  pending.query.t0_ms = ms_between(m_impl->run_start, pending.started);

  unsigned char* packet = nullptr;
  int length = 0;
  const int rc = ares_create_query(name.c_str(), 1 /* IN */, type, m_impl->transport->query_id(), 1, &packet, &length, 0);
  if (rc == ARES_SUCCESS) {
    pending.wire.assign(reinterpret_cast<const char*>(packet), static_cast<std::size_t>(length));
    ares_free_string(packet);
  } else {
    pending.query.failure = failure_from_ares(rc);
  }
  // Every try starts from the loop, whatever the transport does with it: never a callback from
  // inside query().
  m_impl->later(key, &Impl::send);
}

}  // namespace probe
