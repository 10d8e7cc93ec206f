#include "dns/stream_resolver.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <map>
#include <vector>

#include "dns/dns_message.hpp"
#include "dns/lifecycle.hpp"
#include "net/classify.hpp"

namespace probe {

namespace {

// How long past its own timeout a connector gets to report: a tunnel connector knows whether the
// proxy or the destination failed, and its verdict is worth more than our bare timeout.
constexpr Millis k_connector_grace{1000};
constexpr std::size_t k_read_chunk = 16 * 1024;
// Shared connections to the server at most, and queries waiting for a reply on each. A new
// connection opens once every open one has k_spread_at queries out (a server such as dnsmasq answers
// one connection's queries one after another: 2000 queries took 1.2 s on 4 connections); 8 x 8 is
// the default control concurrency. Few enough connections that a proxy or a server with a
// per-client limit (dnsmasq serves 20 TCP clients at once) is not crowded out; past 8 x 8 queries
// pile up on the connections, up to 32 on each.
constexpr std::size_t k_max_shared_connections = 8;
constexpr std::size_t k_spread_at = 8;
constexpr std::size_t k_pipeline_depth = 32;

std::uint16_t id_of(const std::string& wire) {
  return static_cast<std::uint16_t>((static_cast<unsigned char>(wire[0]) << 8) | static_cast<unsigned char>(wire[1]));
}

void set_id(std::string& wire, std::uint16_t id) {
  wire[0] = static_cast<char>((id >> 8) & 0xFF);
  wire[1] = static_cast<char>(id & 0xFF);
}

std::string length_prefix(std::size_t length) {
  return {static_cast<char>((length >> 8) & 0xFF), static_cast<char>(length & 0xFF)};
}

bool is_retryable(const FailureInfo& failure) {
  return failure.code == Failure::generic_timeout_error || failure.code == Failure::eof_error;
}

// Carries tries over TCP (see the header for how connections are shared).
class StreamTransport : public DnsTransport {
public:
  struct Connection;
  using ConnectionPtr = std::shared_ptr<Connection>;
  using WeakConnection = std::weak_ptr<Connection>;

  // One query. It waits in `waiting` until a connection has room, then is in that connection's
  // `in_flight` until it is answered or its try ends.
  struct Exchange {
    std::uint64_t key = 0;
    std::string wire;   // the query message (its ID may be changed to be unique on a connection)
    bool alone = false;  // the next try is on a connection of its own
    bool requeued = false;  // it was sent again after a server closed its shared connection
    bool done = false;
    std::uint64_t connection = 0;  // 0: on none
    MonoTime deadline;             // of the current try
    std::optional<EventLoop::TimerId> timer;  // the start, then the current try's deadline
  };
  using ExchangePtr = std::shared_ptr<Exchange>;
  using WeakExchange = std::weak_ptr<Exchange>;

  struct Connection {
    std::uint64_t id = 0;
    int fd = -1;
    bool connected = false;
    bool dedicated = false;  // carries one query only
    bool retired = false;    // takes no new query (a query on it went unanswered)
    std::size_t carried = 0;  // queries ever sent on it
    std::vector<ExchangePtr> in_flight;
    std::string outgoing;  // length-prefixed queries not yet written
    std::string incoming;
    std::optional<std::string> mismatched;  // the last reply to no query in flight
    std::optional<EventLoop::TimerId> connect_timer;
  };

  EventLoop& loop;
  StreamConnector connector;
  ResolverSpec server;
  int timeout_ms;
  TryDone done;
  std::uint64_t next_connection = 1;
  std::map<std::uint64_t, ExchangePtr> active;
  std::map<std::uint64_t, ConnectionPtr> connections;
  std::deque<ExchangePtr> waiting;

  StreamTransport(EventLoop& event_loop, StreamConnector stream_connector, ResolverSpec spec, int try_ms)
      : loop(event_loop), connector(std::move(stream_connector)), server(std::move(spec)), timeout_ms(try_ms) {}

  ~StreamTransport() override {
    for (const auto& [key, exchange] : active) {
      cancel_timer(exchange);
      exchange->done = true;
    }
    while (!connections.empty()) {
      close_connection(ConnectionPtr(connections.begin()->second));
    }
  }

  void on_done(TryDone callback) override { done = std::move(callback); }

  void send(std::uint64_t key, const std::string& wire, int attempt) override {
    auto exchange = std::make_shared<Exchange>();
    exchange->key = key;
    exchange->wire = wire;
    exchange->alone = attempt > 1;  // a try after one that failed goes on a fresh connection
    active.emplace(key, exchange);
    start(exchange);
  }

  void cancel(std::uint64_t key) override {
    const auto found = active.find(key);
    if (found == active.end()) {
      return;
    }
    const ExchangePtr exchange = found->second;
    active.erase(found);
    leave_connection(exchange);
    exchange->done = true;
    std::erase(waiting, exchange);
  }

  std::uint16_t query_id() override { return random_query_id(); }

  Millis try_timeout() const { return Millis(std::max(timeout_ms, 1)); }

  // Every callback the loop or the connector holds goes through these: they run only while the
  // exchange (or connection) still exists, which also means the resolver (`this`) still exists,
  // because the destructor completes every exchange and drops every connection before it returns.
  static ExchangePtr live(const WeakExchange& weak) {
    ExchangePtr exchange = weak.lock();
    return exchange && !exchange->done ? exchange : nullptr;
  }

  ConnectionPtr find_connection(std::uint64_t id) const {
    const auto it = connections.find(id);
    return it == connections.end() ? nullptr : it->second;
  }

  // --- exchanges ---

  void cancel_timer(const ExchangePtr& exchange) {
    if (exchange->timer) {
      loop.cancel_timer(*exchange->timer);
      exchange->timer.reset();
    }
  }

  void set_timer(const ExchangePtr& exchange, MonoTime when, void (StreamTransport::*action)(const ExchangePtr&)) {
    cancel_timer(exchange);
    exchange->timer = loop.add_timer(when, [this, weak = WeakExchange(exchange), action]() {
      if (ExchangePtr current = live(weak)) {
        current->timer.reset();
        (this->*action)(current);
      }
    });
  }

  void start(const ExchangePtr& exchange) {
    waiting.push_back(exchange);
    dispatch();
  }

  // Gives waiting queries a place: a shared connection with room, a new shared connection while
  // there may be more, or a connection of their own for those that need one.
  void dispatch() {
    while (!waiting.empty()) {
      const ExchangePtr exchange = waiting.front();
      ConnectionPtr connection;
      if (exchange->alone) {
        connection = open_connection(true);
      } else {
        connection = least_loaded();
        std::size_t shared = 0;
        for (const auto& [id, each] : connections) {
          shared += each->dedicated ? 0 : 1;
        }
        if ((!connection || connection->in_flight.size() >= k_spread_at) && shared < k_max_shared_connections) {
          connection = open_connection(false);
        }
        if (!connection) {
          return;  // the next answer or failure makes room
        }
      }
      waiting.pop_front();
      assign(exchange, connection);
    }
  }

  // The shared connection with the fewest queries out, if one has room.
  ConnectionPtr least_loaded() const {
    ConnectionPtr best;
    for (const auto& [id, connection] : connections) {
      if (!connection->dedicated && !connection->retired && connection->in_flight.size() < k_pipeline_depth &&
          (!best || connection->in_flight.size() < best->in_flight.size())) {
        best = connection;
      }
    }
    return best;
  }

  void assign(const ExchangePtr& exchange, const ConnectionPtr& connection) {
    // Two queries on one connection never share an ID, so a reply is never taken for the wrong one.
    const auto taken = [&](std::uint16_t id) {
      return std::any_of(connection->in_flight.begin(), connection->in_flight.end(),
                         [&](const ExchangePtr& other) { return id_of(other->wire) == id; });
    };
    while (taken(id_of(exchange->wire))) {
      set_id(exchange->wire, random_query_id());
    }
    exchange->connection = connection->id;
    exchange->deadline = EventLoop::now() + try_timeout();
    connection->in_flight.push_back(exchange);
    ++connection->carried;
    connection->outgoing += length_prefix(exchange->wire.size()) + exchange->wire;
    if (connection->connected) {
      set_timer(exchange, exchange->deadline, &StreamTransport::on_timeout);
      watch(connection);
    } else {
      // The connector reports its own timeout first; the connection's safety net covers the rest.
      cancel_timer(exchange);
    }
  }

  void on_timeout(const ExchangePtr& exchange) {
    const ConnectionPtr connection = find_connection(exchange->connection);
    if (connection) {
      connection->retired = true;  // it left a query unanswered: it takes nothing more
    }
    if (connection && connection->carried > 1) {
      // Unanswered on a connection that carried other queries: the silence may be theirs (a
      // censor that blackholes a flow once it sees one name).
      try_alone(exchange);
      return;
    }
    fail_try(exchange, FailureInfo{Failure::generic_timeout_error, ""}, true,
             connection ? connection->mismatched : std::nullopt);
  }

  void leave_connection(const ExchangePtr& exchange) {
    cancel_timer(exchange);
    const ConnectionPtr connection = find_connection(exchange->connection);
    exchange->connection = 0;
    if (!connection) {
      return;
    }
    std::erase(connection->in_flight, exchange);
    if (connection->in_flight.empty()) {
      if (connection->dedicated || connection->retired) {
        close_connection(connection);
      } else {
        watch(connection);
      }
    }
  }

  // Again, on a connection of its own, and the try that ended does not count.
  void try_alone(const ExchangePtr& exchange) {
    leave_connection(exchange);
    exchange->alone = true;
    start(exchange);
  }

  // The try failed, and the failure is this query's own: the lifecycle decides whether to try
  // again (on a fresh connection: see send()).
  void fail_try(const ExchangePtr& exchange, const FailureInfo& failure, bool retryable,
                const std::optional<std::string>& mismatched = std::nullopt) {
    if (mismatched) {
      // A reply came, but to another question: that says more than what happened next.
      report(exchange, TryOutcome::other_question(*mismatched));
      return;
    }
    report(exchange, TryOutcome::failed(failure, retryable));
  }

  // Hands the try's outcome to the lifecycle, which delivers from the loop: this goes on safely.
  void report(const ExchangePtr& exchange, TryOutcome outcome) {
    const ExchangePtr keep = exchange;
    leave_connection(keep);
    keep->done = true;
    active.erase(keep->key);
    std::erase(waiting, keep);
    dispatch();
    done(keep->key, std::move(outcome));
  }

  // --- connections ---

  ConnectionPtr open_connection(bool dedicated) {
    auto connection = std::make_shared<Connection>();
    connection->id = next_connection++;
    connection->dedicated = dedicated;
    connections.emplace(connection->id, connection);
    const MonoTime deadline = EventLoop::now() + try_timeout();
    // A safety net only: the connector reports its own timeout first.
    connection->connect_timer = loop.add_timer(deadline + k_connector_grace, [this, weak = WeakConnection(connection)]() {
      if (const ConnectionPtr current = weak.lock()) {
        current->connect_timer.reset();
        connect_failed(current, FailureInfo{Failure::generic_timeout_error, ""}, false);
      }
    });
    connector(server.address, server.port, try_timeout(),
              [this, weak = WeakConnection(connection)](StreamConnection stream) {
                const ConnectionPtr current = weak.lock();
                if (!current || current->connected) {
                  // Too late: the connection gave up waiting, or the resolver is gone.
                  if (stream.fd >= 0) {
                    ::close(stream.fd);
                  }
                  return;
                }
                on_connected(current, std::move(stream));
              });
    return connection;
  }

  void on_connected(const ConnectionPtr& connection, StreamConnection stream) {
    if (connection->connect_timer) {
      loop.cancel_timer(*connection->connect_timer);
      connection->connect_timer.reset();
    }
    if (stream.failure || stream.fd < 0) {
      const FailureInfo failure =
          stream.failure.value_or(FailureInfo{Failure::unknown_failure, "connector gave no connection"});
      connect_failed(connection, failure, stream.proxy_failure);
      return;
    }
    connection->fd = stream.fd;
    connection->connected = true;
    for (const ExchangePtr& exchange : connection->in_flight) {
      set_timer(exchange, exchange->deadline, &StreamTransport::on_timeout);
    }
    watch(connection);
  }

  // No query reached the server, so the failure is every waiting query's own.
  void connect_failed(const ConnectionPtr& connection, const FailureInfo& failure, bool proxy_failure) {
    const std::vector<ExchangePtr> affected = connection->in_flight;
    close_connection(connection);
    for (const ExchangePtr& exchange : affected) {
      if (!exchange->done) {
        fail_try(exchange, failure, !proxy_failure && is_retryable(failure));
      }
    }
  }

  // The connection broke after queries were sent: each query in flight fails if it was the only
  // one the connection ever carried, and is asked again otherwise. After a close (FIN), which is
  // how servers end connections they have served enough (dnsmasq after 100 queries), a query goes
  // back to the shared connections once; after a reset or an error, or a second close, it is
  // asked alone.
  void connection_failed(const ConnectionPtr& connection, const FailureInfo& failure, bool retryable) {
    const std::vector<ExchangePtr> affected = connection->in_flight;
    const bool shared = connection->carried > 1;
    const std::optional<std::string> mismatched = connection->mismatched;
    close_connection(connection);
    for (const ExchangePtr& exchange : affected) {
      if (exchange->done) {
        continue;
      }
      if (shared && failure.code == Failure::eof_error && !exchange->requeued) {
        exchange->requeued = true;
        leave_connection(exchange);
        start(exchange);
      } else if (shared) {
        try_alone(exchange);
      } else {
        fail_try(exchange, failure, retryable, mismatched);
      }
    }
  }

  void close_connection(const ConnectionPtr& connection) {
    if (connection->connect_timer) {
      loop.cancel_timer(*connection->connect_timer);
      connection->connect_timer.reset();
    }
    if (connection->fd >= 0) {
      loop.unwatch(connection->fd);
      ::close(connection->fd);
      connection->fd = -1;
    }
    connection->connected = true;  // a connection handed over from now on is closed at once
    for (const ExchangePtr& exchange : connection->in_flight) {
      exchange->connection = 0;
    }
    connection->in_flight.clear();
    connections.erase(connection->id);
  }

  // A connection with queries in flight keeps the loop running; an idle one is only watched for
  // the server closing it, and waits for the next query.
  void watch(const ConnectionPtr& connection) {
    if (connection->fd < 0) {
      return;
    }
    auto callback = [this, weak = WeakConnection(connection)](int, std::uint32_t events) {
      if (const ConnectionPtr current = weak.lock()) {
        on_ready(current, events);
      }
    };
    if (connection->in_flight.empty()) {
      loop.watch_passive(connection->fd, EventLoop::k_readable, std::move(callback));
      return;
    }
    loop.watch(connection->fd, EventLoop::k_readable | (connection->outgoing.empty() ? 0 : EventLoop::k_writable),
               std::move(callback));
  }

  void on_ready(const ConnectionPtr& connection, std::uint32_t events) {
    if ((events & EventLoop::k_writable) != 0 && !connection->outgoing.empty()) {
      const ssize_t sent =
          ::send(connection->fd, connection->outgoing.data(), connection->outgoing.size(), MSG_NOSIGNAL);
      if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        connection_failed(connection, failure_from_errno(errno), false);
        return;
      }
      if (sent > 0) {
        connection->outgoing.erase(0, static_cast<std::size_t>(sent));
      }
      if (connection->outgoing.empty()) {
        watch(connection);
      }
    }
    if ((events & (EventLoop::k_readable | EventLoop::k_error)) != 0) {
      read_some(connection);
    }
  }

  // One read per wakeup: the loop is level-triggered, and a server that floods us with replies to
  // other questions must not keep everything else (and our deadlines) waiting.
  void read_some(const ConnectionPtr& connection) {
    char buffer[k_read_chunk];
    const ssize_t size = ::recv(connection->fd, buffer, sizeof buffer, 0);
    if (size < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        connection_failed(connection, failure_from_errno(errno), false);
      }
      return;
    }
    if (size == 0) {
      // Closed before a whole reply (or before any): OONI's eof_error. An idle connection the
      // server closed is simply gone.
      connection_failed(connection, FailureInfo{Failure::eof_error, ""}, true);
      return;
    }
    connection->incoming.append(buffer, static_cast<std::size_t>(size));
    while (connection->incoming.size() >= 2) {
      if (connections.count(connection->id) == 0) {
        return;
      }
      const std::size_t length =
          (static_cast<std::size_t>(static_cast<unsigned char>(connection->incoming[0])) << 8) |
          static_cast<unsigned char>(connection->incoming[1]);
      if (connection->incoming.size() < 2 + length) {
        return;
      }
      std::string message = connection->incoming.substr(2, length);
      connection->incoming.erase(0, 2 + length);
      on_message(connection, std::move(message));
    }
  }

  void on_message(const ConnectionPtr& connection, std::string message) {
    bool malformed = false;
    for (const ExchangePtr& exchange : connection->in_flight) {
      const ReplyMatch match = match_reply(message, exchange->wire);
      if (match == ReplyMatch::matches) {
        report(exchange, TryOutcome::replied(std::move(message)));
        return;
      }
      malformed = malformed || match == ReplyMatch::malformed;
    }
    if (malformed) {
      // Too short to say which query it answers: it is the reply only where there was one query.
      if (connection->carried == 1 && connection->in_flight.size() == 1) {
        report(connection->in_flight.front(), TryOutcome::replied(std::move(message)));
      } else {
        connection_failed(connection, FailureInfo{Failure::unknown_failure, "malformed DNS reply"}, false);
      }
      return;
    }
    connection->mismatched = std::move(message);
  }
};

}  // namespace

StreamResolver::StreamResolver(EventLoop& loop, StreamConnector connector, ResolverSpec server,
                               const DnsSettings& settings, const BogonTable& bogons, MonoTime run_start,
                               std::string label_prefix)
    : TransportResolver(loop, std::make_unique<StreamTransport>(loop, std::move(connector), server, settings.timeout_ms),
                        label_prefix + server.label(), settings, bogons, run_start, settings.tries > 1 ? 2 : 1) {}

}  // namespace probe
