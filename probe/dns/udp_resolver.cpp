#include "dns/udp_resolver.hpp"

#include <ares.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>

#include "net/classify.hpp"
#include "net/stream_connect.hpp"
#include "targets/host.hpp"

namespace probe {

namespace {

// UDP through one c-ares channel, which keeps its own timers and retries (the same ID, on the same
// socket, as resolvers retransmit): the lifecycle gives it one try per query.
class UdpTransport : public DnsTransport {
public:
  UdpTransport(EventLoop& event_loop, ResolverSpec resolver, const DnsSettings& settings)
      : loop(event_loop), spec(std::move(resolver)) {
    init(settings);
  }

  ~UdpTransport() override {
    if (timer) {
      loop.cancel_timer(*timer);
    }
    // Every query still with c-ares ends with ARES_EDESTRUCTION, reported to no one.
    done = nullptr;
    ares_channel old = channel;
    channel = nullptr;
    ares_destroy(old);
  }

  void on_done(TryDone callback) override { done = std::move(callback); }

  void send(std::uint64_t key, const std::string& wire, int) override {
    ares_send(channel, reinterpret_cast<const unsigned char*>(wire.data()), static_cast<int>(wire.size()),
              &UdpTransport::on_reply, new Ticket{this, key});
    rearm_timer();
  }

  // c-ares 1.18 cannot cancel one query: its reply, when it comes, is reported and ignored.
  void cancel(std::uint64_t) override {}

  // Random: with a fixed one a server takes two identical questions from one socket for a
  // retransmission and answers only once (and an off-path attacker need not guess it).
  std::uint16_t query_id() override { return random_query_id(); }

private:
  struct Ticket {
    UdpTransport* transport;
    std::uint64_t key;
  };

  EventLoop& loop;
  ResolverSpec spec;
  TryDone done;
  ares_channel channel = nullptr;
  std::optional<EventLoop::TimerId> timer;
  int last_errno = 0;  // the most recent socket error, to classify a reply that never came
  ares_socket_functions socket_functions{};

  // Keeps the loop's interest in c-ares's sockets in step with what c-ares wants.
  static void on_sock_state(void* data, ares_socket_t fd, int readable, int writable) {
    auto* self = static_cast<UdpTransport*>(data);
    if (!readable && !writable) {
      self->loop.unwatch(fd);
      return;
    }
    std::uint32_t interest = (readable ? EventLoop::k_readable : 0u) | (writable ? EventLoop::k_writable : 0u);
    self->loop.watch(fd, interest, [self](int ready_fd, std::uint32_t events) {
      // An error event is delivered as readable: c-ares's recvfrom then picks up the errno.
      const bool read = (events & (EventLoop::k_readable | EventLoop::k_error)) != 0;
      const bool write = (events & EventLoop::k_writable) != 0;
      ares_process_fd(self->channel, read ? ready_fd : ARES_SOCKET_BAD, write ? ready_fd : ARES_SOCKET_BAD);
      self->rearm_timer();
    });
  }

  // One loop timer per channel, at c-ares's next deadline; firing it lets c-ares time queries out.
  void rearm_timer() {
    if (timer) {
      loop.cancel_timer(*timer);
      timer.reset();
    }
    if (channel == nullptr) {
      return;
    }
    timeval tv{};
    if (ares_timeout(channel, nullptr, &tv) == nullptr) {
      return;  // nothing pending
    }
    const auto delay = std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec);
    timer = loop.add_timer(EventLoop::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(delay),
                           [this]() {
                             timer.reset();
                             ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
                             rearm_timer();
                           });
  }

  // Socket functions that remember errno, so "no reply" can say why (refused, unreachable).
  // With its own socket functions set, c-ares 1.18 skips its socket set-up (non-blocking mode,
  // close-on-exec, ares_set_local_dev): whatever a socket needs is done here.
  static ares_socket_t sock_open(int domain, int type, int protocol, void* data) {
    auto* self = static_cast<UdpTransport*>(data);
    const int fd = ::socket(domain, type | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol);
    if (fd < 0) {
      self->last_errno = errno;
      return ARES_SOCKET_BAD;
    }
    if (!self->spec.bind_device.empty()) {
      if (const int error = bind_to_device(fd, self->spec.bind_device); error != 0) {
        self->last_errno = error;
        ::close(fd);
        return ARES_SOCKET_BAD;
      }
    }
    return fd;
  }
  static int sock_close(ares_socket_t fd, void*) { return ::close(fd); }
  static bool is_datagram(int fd) {
    int type = 0;
    socklen_t length = sizeof type;
    return ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) == 0 && type == SOCK_DGRAM;
  }
  static int sock_connect(ares_socket_t fd, const sockaddr* address, ares_socklen_t length, void* data) {
    const int rc = ::connect(fd, address, length);
    if (rc != 0 && errno != EINPROGRESS) {
      static_cast<UdpTransport*>(data)->last_errno = errno;
    }
    return rc;
  }
  static ares_ssize_t sock_recvfrom(ares_socket_t fd, void* buffer, size_t length, int flags, sockaddr* from,
                                    ares_socklen_t* from_length, void* data) {
    const ssize_t rc = ::recvfrom(fd, buffer, length, flags, from, from_length);
    if (rc < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      static_cast<UdpTransport*>(data)->last_errno = errno;
    }
    return rc;
  }
  static ares_ssize_t sock_sendv(ares_socket_t fd, const iovec* vector, int count, void* data) {
    ssize_t rc = ::writev(fd, vector, count);
    if (rc < 0 && errno == ECONNREFUSED && is_datagram(fd)) {
      // On a connected UDP socket this is the ICMP error of an earlier datagram, reported (and
      // cleared) by this call. Handing it to c-ares would fail this query at once and leave the
      // earlier one to time out; sending again lets the error surface on the read side, where
      // c-ares fails every query to the server alike.
      static_cast<UdpTransport*>(data)->last_errno = errno;
      rc = ::writev(fd, vector, count);
    }
    if (rc < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      static_cast<UdpTransport*>(data)->last_errno = errno;
    }
    return rc;
  }

  void init(const DnsSettings& settings) {
    ares_options options{};
    // Keep SERVFAIL/REFUSED replies (they are observations) and never search domains.
    options.flags = ARES_FLAG_NOCHECKRESP | ARES_FLAG_NOSEARCH;
    options.timeout = settings.timeout_ms;
    options.tries = settings.tries;
    options.sock_state_cb = &UdpTransport::on_sock_state;
    options.sock_state_cb_data = this;
    const int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB;
    int rc = ares_init_options(&channel, &options, mask);
    if (rc != ARES_SUCCESS) {
      throw std::runtime_error(std::string("c-ares init: ") + ares_strerror(rc));
    }
    ares_addr_port_node server{};
    const auto bytes = parse_address(spec.address);
    const bool v4 = spec.address.find(':') == std::string::npos;
    server.family = v4 ? AF_INET : AF_INET6;
    if (v4) {
      std::memcpy(&server.addr.addr4, bytes->data() + 12, 4);
    } else {
      std::memcpy(&server.addr.addr6, bytes->data(), 16);
    }
    server.udp_port = spec.port;
    server.tcp_port = spec.port;
    rc = ares_set_servers_ports(channel, &server);
    if (rc != ARES_SUCCESS) {
      throw std::runtime_error(std::string("c-ares servers: ") + ares_strerror(rc));
    }
    socket_functions = {&UdpTransport::sock_open, &UdpTransport::sock_close, &UdpTransport::sock_connect, &UdpTransport::sock_recvfrom,
                        &UdpTransport::sock_sendv};
    ares_set_socket_functions(channel, &socket_functions, this);
  }

  static void on_reply(void* arg, int status, int, unsigned char* answer, int length) {
    const std::unique_ptr<Ticket> ticket(static_cast<Ticket*>(arg));
    UdpTransport* self = ticket->transport;
    if (!self->done) {
      return;  // the transport is going away
    }
    if (status == ARES_SUCCESS && answer != nullptr && length > 0) {
      self->done(ticket->key,
                 TryOutcome::replied(std::string(reinterpret_cast<const char*>(answer), static_cast<std::size_t>(length))));
    } else {
      // A status without a reply (ARES_SUCCESS without an answer too): the classifier says what
      // it means, the last socket error included. c-ares has made its tries.
      self->done(ticket->key, TryOutcome::failed(failure_from_ares(status, self->last_errno), false));
    }
  }
};

}  // namespace

DnsResolver::DnsResolver(EventLoop& loop, ResolverSpec spec, const DnsSettings& settings, const BogonTable& bogons,
                         MonoTime run_start)
    : TransportResolver(loop, std::make_unique<UdpTransport>(loop, spec, settings), spec.label(), settings, bogons,
                        run_start, 1),
      m_spec(std::move(spec)) {}

}  // namespace probe
