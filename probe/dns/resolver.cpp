#include "dns/resolver.hpp"

#include <ares.h>
#include <arpa/inet.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>

#include "core/digest.hpp"
#include "core/error.hpp"
#include "core/exit_codes.hpp"
#include "dns/dns_message.hpp"
#include "net/classify.hpp"
#include "net/stream_connect.hpp"
#include "targets/host.hpp"

namespace probe {

std::string ResolverSpec::label() const {
  const std::string host = address.find(':') != std::string::npos ? "[" + address + "]" : address;
  return std::string(system ? "system:" : injection ? "injection:" : "") + host + ":" + std::to_string(port);
}

std::optional<ResolverSpec> parse_resolver(std::string_view text, std::string* problem) {
  ResolverSpec spec;
  std::string_view host = text;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || (close + 1 < text.size() && text[close + 1] != ':')) {
      *problem = "expected [IPV6]:PORT";
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      port_text = text.substr(close + 2);
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    const auto colon = text.find(':');
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  if (!is_ip_literal(host)) {
    *problem = "'" + std::string(host) + "' is not an IP address (resolvers are given by address)";
    return std::nullopt;
  }
  spec.address = std::string(host);
  if (!port_text.empty() || (text.size() > host.size() && text.back() == ':')) {
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() || port < 1 ||
        port > 65535) {
      *problem = "port '" + std::string(port_text) + "' is not a number from 1 to 65535";
      return std::nullopt;
    }
    spec.port = static_cast<std::uint16_t>(port);
  }
  return spec;
}

std::vector<ResolverSpec> system_resolvers(const std::string& resolv_conf) {
  // c-ares quietly falls back to 127.0.0.1 when the file is missing: a file the user named must exist.
  if (!resolv_conf.empty() && ::access(resolv_conf.c_str(), R_OK) != 0) {
    throw UserError(exit_code::k_no_input, resolv_conf + ": cannot read: " + std::strerror(errno));
  }
  std::vector<ResolverSpec> out;
  ares_channel channel = nullptr;
  ares_options options{};
  options.resolvconf_path = const_cast<char*>(resolv_conf.c_str());
  const int mask = resolv_conf.empty() ? 0 : ARES_OPT_RESOLVCONF;
  if (ares_init_options(&channel, &options, mask) != ARES_SUCCESS) {
    if (!resolv_conf.empty()) {
      throw UserError(exit_code::k_no_input, resolv_conf + ": cannot read resolver configuration");
    }
    return out;
  }
  ares_addr_port_node* servers = nullptr;
  if (ares_get_servers_ports(channel, &servers) == ARES_SUCCESS) {
    for (ares_addr_port_node* node = servers; node != nullptr; node = node->next) {
      char text[INET6_ADDRSTRLEN] = {};
      ares_inet_ntop(node->family, &node->addr, text, sizeof text);
      ResolverSpec spec;
      spec.address = text;
      spec.port = static_cast<std::uint16_t>(node->udp_port == 0 ? 53 : node->udp_port);
      spec.system = true;
      out.push_back(spec);
    }
    ares_free_data(servers);
  }
  ares_destroy(channel);
  return out;
}

namespace {

bool answers_type(const DnsRecord& record, std::uint16_t type) { return record.type == type; }

}  // namespace

void fill_from_reply(DnsQuery& query, std::string_view packet, std::uint16_t type, const BogonTable& bogons,
                     std::size_t raw_cap, bool bogon_expected) {
  query.raw_truncated = packet.size() > raw_cap;
  query.raw_base64 = base64_encode(packet.substr(0, raw_cap));
  std::string problem;
  const auto reply = parse_dns_reply(packet, &problem);
  if (!reply) {
    query.failure = FailureInfo{Failure::unknown_failure, "malformed DNS reply: " + problem};
    return;
  }
  query.rcode = rcode_name(reply->rcode);
  bool any_bogon = false;
  std::size_t addresses = 0;
  std::size_t cnames = 0;
  for (const DnsRecord& record : reply->answers) {
    const bool cname = record.type == k_type_cname;
    if (!cname && !answers_type(record, type)) {
      continue;  // an A record in an AAAA reply is noise, not an answer
    }
    const bool bogon = !cname && bogons.is_bogon(record.value);
    any_bogon = any_bogon || bogon;  // judged on the whole reply, kept or not
    const std::size_t seen = cname ? ++cnames : ++addresses;
    if (seen > (cname ? k_max_dns_cnames : k_max_dns_addresses)) {
      query.answers_truncated = true;
      continue;
    }
    if (cname) {
      query.cname_chain.push_back(record.value);
    }
    DnsAnswer answer;
    answer.type = type_name(record.type);
    answer.value = record.value;
    answer.ttl = record.ttl;
    answer.bogon = bogon;
    query.answers.push_back(std::move(answer));
  }
  switch (reply->rcode) {
  case 0: break;
  case 2: query.failure = FailureInfo{Failure::dns_servfail_error, ""}; return;
  case 3: query.failure = FailureInfo{Failure::dns_nxdomain_error, ""}; return;
  case 5: query.failure = FailureInfo{Failure::dns_refused_error, ""}; return;
  default: query.failure = FailureInfo{Failure::unknown_failure, "DNS rcode " + rcode_name(reply->rcode)}; return;
  }
  if (any_bogon && !bogon_expected) {
    query.failure = FailureInfo{Failure::dns_bogon_error, ""};
  } else if (addresses == 0) {
    query.failure = FailureInfo{Failure::dns_no_answer, ""};
  }
}

struct DnsResolver::Impl {
  EventLoop& loop;
  ResolverSpec spec;
  DnsSettings settings;
  const BogonTable& bogons;
  MonoTime run_start;
  ares_channel channel = nullptr;
  std::optional<EventLoop::TimerId> timer;
  int last_errno = 0;  // the most recent socket error, to classify a reply that never came
  ares_socket_functions socket_functions{};

  struct Pending {
    Impl* impl;
    DnsQuery query;
    std::uint16_t type;
    bool bogon_expected;
    MonoTime started;
    Callback callback;
  };
  // Queries that failed before they could be sent (a name no query can carry): completed from
  // the loop, never from inside query(), as every resolver's are (dns/resolver.hpp).
  std::map<Pending*, std::pair<EventLoop::TimerId, std::unique_ptr<Pending>>> deferred;

  void complete_later(std::unique_ptr<Pending> pending) {
    Pending* key = pending.get();
    const EventLoop::TimerId id = loop.add_timer(Millis(0), [this, key]() {
      const auto found = deferred.find(key);
      std::unique_ptr<Pending> done = std::move(found->second.second);
      deferred.erase(found);
      done->callback(std::move(done->query));
    });
    deferred.emplace(key, std::make_pair(id, std::move(pending)));
  }

  Impl(EventLoop& event_loop, ResolverSpec resolver, const DnsSettings& dns_settings, const BogonTable& table,
       MonoTime start)
      : loop(event_loop), spec(std::move(resolver)), settings(dns_settings), bogons(table), run_start(start) {}

  // Keeps the loop's interest in c-ares's sockets in step with what c-ares wants.
  static void on_sock_state(void* data, ares_socket_t fd, int readable, int writable) {
    auto* self = static_cast<Impl*>(data);
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
    auto* self = static_cast<Impl*>(data);
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
      static_cast<Impl*>(data)->last_errno = errno;
    }
    return rc;
  }
  static ares_ssize_t sock_recvfrom(ares_socket_t fd, void* buffer, size_t length, int flags, sockaddr* from,
                                    ares_socklen_t* from_length, void* data) {
    const ssize_t rc = ::recvfrom(fd, buffer, length, flags, from, from_length);
    if (rc < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      static_cast<Impl*>(data)->last_errno = errno;
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
      static_cast<Impl*>(data)->last_errno = errno;
      rc = ::writev(fd, vector, count);
    }
    if (rc < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      static_cast<Impl*>(data)->last_errno = errno;
    }
    return rc;
  }

  void init() {
    ares_options options{};
    // Keep SERVFAIL/REFUSED replies (they are observations) and never search domains.
    options.flags = ARES_FLAG_NOCHECKRESP | ARES_FLAG_NOSEARCH;
    options.timeout = settings.timeout_ms;
    options.tries = settings.tries;
    options.sock_state_cb = &Impl::on_sock_state;
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
    socket_functions = {&Impl::sock_open, &Impl::sock_close, &Impl::sock_connect, &Impl::sock_recvfrom,
                        &Impl::sock_sendv};
    ares_set_socket_functions(channel, &socket_functions, this);
  }

  static void on_reply(void* arg, int status, int, unsigned char* answer, int length) {
    std::unique_ptr<Pending> pending(static_cast<Pending*>(arg));
    Impl* self = pending->impl;
    DnsQuery& query = pending->query;
    query.duration_ms = ms_between(pending->started, EventLoop::now());
    if (status == ARES_SUCCESS && answer != nullptr && length > 0) {
      fill_from_reply(query,
                      std::string_view(reinterpret_cast<const char*>(answer), static_cast<std::size_t>(length)),
                      pending->type, self->bogons, self->settings.raw_cap, pending->bogon_expected);
    } else {
      // A status without a reply (ARES_SUCCESS without an answer too): the classifier says what
      // it means, the last socket error included.
      query.failure = failure_from_ares(status, self->last_errno);
    }
    pending->callback(std::move(query));
  }
};

DnsResolver::DnsResolver(EventLoop& loop, ResolverSpec spec, const DnsSettings& settings, const BogonTable& bogons,
                         MonoTime run_start)
    : m_impl(std::make_unique<Impl>(loop, spec, settings, bogons, run_start)), m_spec(std::move(spec)) {
  m_impl->init();
}

DnsResolver::~DnsResolver() {
  if (m_impl->timer) {
    m_impl->loop.cancel_timer(*m_impl->timer);
  }
  // A query that failed before it was sent, not yet delivered: interrupted, as the others.
  auto deferred = std::move(m_impl->deferred);
  for (auto& item : deferred) {
    auto& [timer, pending] = item.second;
    m_impl->loop.cancel_timer(timer);
    pending->query.failure = failure_from_ares(ARES_EDESTRUCTION);
    pending->callback(std::move(pending->query));
  }
  // Destroying the channel completes every pending query with ARES_EDESTRUCTION ("interrupted").
  ares_channel channel = m_impl->channel;
  m_impl->channel = nullptr;
  ares_destroy(channel);
}

void DnsResolver::query(const std::string& name, std::uint16_t type, bool bogon_expected, Callback callback) {
  auto pending = std::make_unique<Impl::Pending>();
  pending->impl = m_impl.get();
  pending->type = type;
  pending->bogon_expected = bogon_expected;
  pending->started = EventLoop::now();
  pending->callback = std::move(callback);
  pending->query.resolver = m_spec.label();
  pending->query.type = type_name(type);
  pending->query.t0_ms = ms_between(m_impl->run_start, pending->started);

  unsigned char* packet = nullptr;
  int length = 0;
  // A random ID per query: c-ares 1.18 sends the one given here, and with a fixed one a server
  // takes two identical questions from one socket for a retransmission and answers only once
  // (and an off-path attacker need not guess it).
  unsigned short id = 0;
  if (::getrandom(&id, sizeof id, 0) != sizeof id) {
    id = static_cast<unsigned short>(std::hash<std::string>{}(name) ^ type);
  }
  const int rc = ares_create_query(name.c_str(), 1 /* IN */, type, id, 1, &packet, &length, 0);
  if (rc != ARES_SUCCESS) {
    pending->query.failure = failure_from_ares(rc);
    m_impl->complete_later(std::move(pending));
    return;
  }
  ares_send(m_impl->channel, packet, length, &Impl::on_reply, pending.release());
  ares_free_string(packet);
  m_impl->rearm_timer();
}

}  // namespace probe
