#include "dns/stream_resolver.hpp"

#include <ares.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <random>

#include "core/digest.hpp"
#include "dns/dns_message.hpp"

namespace probe {

namespace {

// How long past its own timeout a connector gets to report: a tunnel connector knows whether the
// proxy or the destination failed, and its verdict is worth more than our bare timeout.
constexpr Millis k_connector_grace{1000};
constexpr std::size_t k_read_chunk = 16 * 1024;

std::uint16_t random_id() {
  std::uint16_t id = 0;
  if (::getrandom(&id, sizeof id, GRND_NONBLOCK) == static_cast<ssize_t>(sizeof id)) {
    return id;
  }
  std::random_device device;
  return static_cast<std::uint16_t>(device());
}

std::string length_prefix(std::size_t length) {
  return {static_cast<char>((length >> 8) & 0xFF), static_cast<char>(length & 0xFF)};
}

bool is_retryable(const FailureInfo& failure) {
  return failure.code == Failure::generic_timeout_error || failure.code == Failure::eof_error;
}

}  // namespace

struct StreamResolver::Impl {
  // One query: one connection per try, at most two tries.
  struct Exchange {
    std::uint64_t key = 0;
    DnsQuery query;
    std::uint16_t type = 0;
    bool bogon_expected = false;
    Callback callback;
    MonoTime started;
    std::string wire;      // the query message
    std::string outgoing;  // its length prefix and the message
    std::size_t sent = 0;
    std::string incoming;
    int attempt = 0;
    int fd = -1;
    bool done = false;
    std::optional<EventLoop::TimerId> timer;  // the start, then the current try's deadline
    std::optional<std::string> mismatched;    // the last reply to some other question
  };
  using ExchangePtr = std::shared_ptr<Exchange>;
  using WeakExchange = std::weak_ptr<Exchange>;

  EventLoop& loop;
  StreamConnector connector;
  ResolverSpec server;
  DnsSettings settings;
  const BogonTable& bogons;
  MonoTime run_start;
  std::string label;
  std::uint64_t next_key = 1;
  std::map<std::uint64_t, ExchangePtr> active;

  Impl(EventLoop& event_loop, StreamConnector stream_connector, ResolverSpec spec, const DnsSettings& dns_settings,
       const BogonTable& table, MonoTime start, std::string prefix)
      : loop(event_loop),
        connector(std::move(stream_connector)),
        server(std::move(spec)),
        settings(dns_settings),
        bogons(table),
        run_start(start),
        label(std::move(prefix) + server.label()) {}

  Millis try_timeout() const { return Millis(std::max(settings.timeout_ms, 1)); }
  int max_attempts() const { return settings.tries > 1 ? 2 : 1; }

  // Every callback the loop or the connector holds goes through here: it runs only while the
  // exchange is still in flight, which also means the resolver (`this`) still exists, because
  // the destructor completes every exchange before it returns.
  static ExchangePtr live(const WeakExchange& weak) {
    ExchangePtr exchange = weak.lock();
    return exchange && !exchange->done ? exchange : nullptr;
  }

  void set_timer(const ExchangePtr& exchange, MonoTime when, void (Impl::*action)(const ExchangePtr&)) {
    cancel_timer(exchange);
    exchange->timer = loop.add_timer(when, [this, weak = WeakExchange(exchange), action]() {
      if (ExchangePtr current = live(weak)) {
        current->timer.reset();
        (this->*action)(current);
      }
    });
  }

  void cancel_timer(const ExchangePtr& exchange) {
    if (exchange->timer) {
      loop.cancel_timer(*exchange->timer);
      exchange->timer.reset();
    }
  }

  void close_connection(const ExchangePtr& exchange) {
    cancel_timer(exchange);
    if (exchange->fd >= 0) {
      loop.unwatch(exchange->fd);
      ::close(exchange->fd);
      exchange->fd = -1;
    }
  }

  void start_try(const ExchangePtr& exchange) {
    ++exchange->attempt;
    exchange->sent = 0;
    exchange->incoming.clear();
    const MonoTime deadline = EventLoop::now() + try_timeout();
    // A safety net only: the connector reports its own timeout first.
    set_timer(exchange, deadline + k_connector_grace, &Impl::on_timeout);
    connector(server.address, server.port, try_timeout(),
              [this, weak = WeakExchange(exchange), attempt = exchange->attempt, deadline](StreamConnection stream) {
                const ExchangePtr current = live(weak);
                if (!current || current->attempt != attempt) {
                  // Too late: the try timed out, or the resolver is gone.
                  if (stream.fd >= 0) {
                    ::close(stream.fd);
                  }
                  return;
                }
                on_connected(current, deadline, std::move(stream));
              });
  }

  void on_connected(const ExchangePtr& exchange, MonoTime deadline, StreamConnection stream) {
    if (stream.failure || stream.fd < 0) {
      const FailureInfo failure =
          stream.failure.value_or(FailureInfo{Failure::unknown_failure, "connector gave no connection"});
      fail_try(exchange, failure, !stream.proxy_failure && is_retryable(failure));
      return;
    }
    exchange->fd = stream.fd;
    set_timer(exchange, deadline, &Impl::on_timeout);
    watch(exchange, EventLoop::k_readable | EventLoop::k_writable);
  }

  void watch(const ExchangePtr& exchange, std::uint32_t interest) {
    loop.watch(exchange->fd, interest, [this, weak = WeakExchange(exchange)](int, std::uint32_t events) {
      if (ExchangePtr current = live(weak)) {
        on_ready(current, events);
      }
    });
  }

  void on_timeout(const ExchangePtr& exchange) {
    fail_try(exchange, FailureInfo{Failure::generic_timeout_error, ""}, true);
  }

  void on_ready(const ExchangePtr& exchange, std::uint32_t events) {
    if ((events & EventLoop::k_writable) != 0 && exchange->sent < exchange->outgoing.size()) {
      const ssize_t sent = ::send(exchange->fd, exchange->outgoing.data() + exchange->sent,
                                  exchange->outgoing.size() - exchange->sent, MSG_NOSIGNAL);
      if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        fail_try(exchange, failure_from_errno(errno), false);
        return;
      }
      if (sent > 0) {
        exchange->sent += static_cast<std::size_t>(sent);
      }
      if (exchange->sent == exchange->outgoing.size()) {
        watch(exchange, EventLoop::k_readable);
      }
    }
    if ((events & (EventLoop::k_readable | EventLoop::k_error)) != 0) {
      read_some(exchange);
    }
  }

  // One read per wakeup: the loop is level-triggered, and a server that floods us with replies to
  // other questions must not keep everything else (and our deadline) waiting.
  void read_some(const ExchangePtr& exchange) {
    char buffer[k_read_chunk];
    const ssize_t size = ::recv(exchange->fd, buffer, sizeof buffer, 0);
    if (size < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        fail_try(exchange, failure_from_errno(errno), false);
      }
      return;
    }
    if (size == 0) {
      // Closed before a whole reply (or before any): OONI's eof_error.
      fail_try(exchange, FailureInfo{Failure::eof_error, ""}, true);
      return;
    }
    exchange->incoming.append(buffer, static_cast<std::size_t>(size));
    while (exchange->incoming.size() >= 2) {
      const std::size_t length = (static_cast<std::size_t>(static_cast<unsigned char>(exchange->incoming[0])) << 8) |
                                 static_cast<unsigned char>(exchange->incoming[1]);
      if (exchange->incoming.size() < 2 + length) {
        return;
      }
      std::string message = exchange->incoming.substr(2, length);
      exchange->incoming.erase(0, 2 + length);
      if (match_reply(message, exchange->wire) == ReplyMatch::mismatched) {
        exchange->mismatched = std::move(message);
        continue;
      }
      close_connection(exchange);
      fill_from_reply(exchange->query, message, exchange->type, bogons, settings.raw_cap, exchange->bogon_expected);
      deliver(exchange);
      return;
    }
  }

  void fail_try(const ExchangePtr& exchange, const FailureInfo& failure, bool retryable) {
    close_connection(exchange);
    if (exchange->mismatched) {
      // A reply came, but to another question: that says more than what happened next.
      const std::string& raw = *exchange->mismatched;
      exchange->query.raw_truncated = raw.size() > settings.raw_cap;
      exchange->query.raw_base64 = base64_encode(std::string_view(raw).substr(0, settings.raw_cap));
      exchange->query.failure = FailureInfo{Failure::unknown_failure, "mismatched DNS reply"};
      deliver(exchange);
      return;
    }
    if (retryable && exchange->attempt < max_attempts()) {
      start_try(exchange);
      return;
    }
    exchange->query.failure = failure;
    deliver(exchange);
  }

  void fail_at_start(const ExchangePtr& exchange) { deliver(exchange); }

  // Hands the observation over. The callback may destroy the resolver, so nothing here touches
  // `this` after it.
  void deliver(const ExchangePtr& exchange) {
    const ExchangePtr keep = exchange;
    close_connection(keep);
    keep->done = true;
    keep->query.duration_ms = ms_between(keep->started, EventLoop::now());
    active.erase(keep->key);
    Callback callback = std::move(keep->callback);
    callback(std::move(keep->query));
  }
};

StreamResolver::StreamResolver(EventLoop& loop, StreamConnector connector, ResolverSpec server,
                               const DnsSettings& settings, const BogonTable& bogons, MonoTime run_start,
                               std::string label_prefix)
    : m_impl(std::make_unique<Impl>(loop, std::move(connector), std::move(server), settings, bogons, run_start,
                                    std::move(label_prefix))) {}

StreamResolver::~StreamResolver() {
  // A callback could ask again while we finish; those are interrupted too.
  while (!m_impl->active.empty()) {
    const Impl::ExchangePtr exchange = m_impl->active.begin()->second;
    exchange->query.failure = FailureInfo{Failure::interrupted, ""};
    m_impl->deliver(exchange);
  }
}

std::string StreamResolver::label() const { return m_impl->label; }

void StreamResolver::query(const std::string& name, std::uint16_t type, bool bogon_expected, Callback callback) {
  auto exchange = std::make_shared<Impl::Exchange>();
  exchange->key = m_impl->next_key++;
  exchange->type = type;
  exchange->bogon_expected = bogon_expected;
  exchange->callback = std::move(callback);
  exchange->started = EventLoop::now();
  exchange->query.resolver = m_impl->label;
  exchange->query.type = type_name(type);
  exchange->query.t0_ms = ms_between(m_impl->run_start, exchange->started);
  m_impl->active.emplace(exchange->key, exchange);

  unsigned char* packet = nullptr;
  int length = 0;
  const int rc = ares_create_query(name.c_str(), 1 /* IN */, type, random_id(), 1, &packet, &length, 0);
  if (rc != ARES_SUCCESS) {
    exchange->query.failure = FailureInfo{Failure::unknown_failure, std::string("c-ares: ") + ares_strerror(rc)};
    // Never from inside query(): the caller may not be ready for its callback yet.
    m_impl->set_timer(exchange, EventLoop::now(), &Impl::fail_at_start);
    return;
  }
  exchange->wire.assign(reinterpret_cast<const char*>(packet), static_cast<std::size_t>(length));
  ares_free_string(packet);
  exchange->outgoing = length_prefix(exchange->wire.size()) + exchange->wire;
  // Started from the loop too, whatever the connector does with its callback.
  m_impl->set_timer(exchange, EventLoop::now(), &Impl::start_try);
}

}  // namespace probe
