#include "net/proxy_tunnel.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <memory>
#include <utility>

#include "core/digest.hpp"
#include "core/text.hpp"
#include "net/classify.hpp"

namespace probe {

namespace {

// A CONNECT reply head is a status line and a few headers; anything longer is not a proxy
// answering us.
constexpr std::size_t k_max_connect_head = 16 * 1024;
// How much of an error body is read to learn how the destination failed. Squid puts the errno text
// after a style sheet of a few KiB.
constexpr std::size_t k_max_error_body = 16 * 1024;
constexpr std::size_t k_read_chunk = 4096;

// RFC 1928 and RFC 1929.
constexpr std::uint8_t k_socks_version = 0x05;
constexpr std::uint8_t k_password_auth_version = 0x01;
constexpr std::uint8_t k_method_none = 0x00;
constexpr std::uint8_t k_method_password = 0x02;
constexpr std::uint8_t k_method_unacceptable = 0xFF;
constexpr std::uint8_t k_command_connect = 0x01;
constexpr std::uint8_t k_address_ipv4 = 0x01;
constexpr std::uint8_t k_address_domain = 0x03;
constexpr std::uint8_t k_address_ipv6 = 0x04;
constexpr std::size_t k_max_socks_field = 255;
// VER REP RSV ATYP and the first byte of BND.ADDR, which for a domain is its length: enough to
// know how long the whole reply is.
constexpr std::size_t k_socks_reply_prefix = 5;
constexpr std::size_t k_socks_reply_fixed = 4 + 2;  // VER REP RSV ATYP, then BND.PORT

bool is_ipv4(const std::string& host) {
  in_addr address{};
  return inet_pton(AF_INET, host.c_str(), &address) == 1;
}

bool is_ipv6(const std::string& host) {
  in6_addr address{};
  return inet_pton(AF_INET6, host.c_str(), &address) == 1;
}

// A name goes into a request line and a header as it is: no control character or space may
// smuggle in another header, and no separator may change where the host ends.
bool is_plain_host_name(std::string_view host) {
  return !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte > 0x20 && byte < 0x7F && c != '/' && c != ':' && c != '[' && c != ']' && c != '@';
  });
}

void put_u8(std::string& out, std::uint8_t value) { out.push_back(static_cast<char>(value)); }

void put_u16(std::string& out, std::uint16_t value) {
  put_u8(out, static_cast<std::uint8_t>(value >> 8));
  put_u8(out, static_cast<std::uint8_t>(value & 0xFF));
}

std::uint8_t byte_at(const std::string& bytes, std::size_t at) { return static_cast<std::uint8_t>(bytes[at]); }

// RFC 1928 section 4: CONNECT with the destination as an address or a name for the proxy to
// resolve. nullopt when the name cannot be sent.
std::optional<std::string> socks_request(const std::string& host, std::uint16_t port) {
  std::string request;
  put_u8(request, k_socks_version);
  put_u8(request, k_command_connect);
  put_u8(request, 0);  // RSV
  if (in_addr v4{}; inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    put_u8(request, k_address_ipv4);
    request.append(reinterpret_cast<const char*>(&v4), sizeof v4);
  } else if (in6_addr v6{}; inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    put_u8(request, k_address_ipv6);
    request.append(reinterpret_cast<const char*>(&v6), sizeof v6);
  } else if (is_plain_host_name(host) && host.size() <= k_max_socks_field) {
    put_u8(request, k_address_domain);
    put_u8(request, static_cast<std::uint8_t>(host.size()));
    request += host;
  } else {
    return std::nullopt;
  }
  put_u16(request, port);
  return request;
}

std::optional<std::string> connect_request(const std::string& host, std::uint16_t port, const ProxyEndpoint& proxy) {
  std::string authority;
  if (is_ipv6(host)) {
    authority = "[" + host + "]";
  } else if (is_ipv4(host) || is_plain_host_name(host)) {
    authority = host;
  } else {
    return std::nullopt;
  }
  authority += ":" + std::to_string(port);
  std::string request = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n";
  if (!proxy.username.empty()) {
    request += "Proxy-Authorization: Basic " + base64_encode(proxy.username + ":" + proxy.password) + "\r\n";
  }
  return request + "\r\n";
}

// Where the head ends (just after its blank line), searching from `from`; bare LF line ends are
// taken too, as most HTTP clients do.
std::optional<std::size_t> head_end(std::string_view text, std::size_t from) {
  const auto crlf = text.find("\r\n\r\n", from);
  const auto lf = text.find("\n\n", from);
  if (crlf == std::string_view::npos && lf == std::string_view::npos) {
    return std::nullopt;
  }
  return crlf < lf ? crlf + 4 : lf + 2;
}

struct ReplyHead {
  int status = 0;
  std::string reason;
  std::optional<std::size_t> content_length;
};

std::string_view next_line(std::string_view& text) {
  const auto newline = text.find('\n');
  std::string_view line = text.substr(0, newline);
  text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
  if (line.ends_with('\r')) {
    line.remove_suffix(1);
  }
  return line;
}

std::optional<std::size_t> parse_size(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  std::size_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) {
    return std::nullopt;
  }
  return value;
}

// "HTTP/1.1 200 Connection established" and the headers; nullopt when it is not an HTTP reply.
std::optional<ReplyHead> parse_reply_head(std::string_view text) {
  const auto status_line = parse_status_line(next_line(text));
  if (!status_line) {
    return std::nullopt;
  }
  ReplyHead head;
  head.status = status_line->status;
  head.reason = status_line->reason;
  while (!text.empty()) {
    const std::string_view line = next_line(text);
    const auto colon = line.find(':');
    if (colon != std::string_view::npos && lowercase(line.substr(0, colon)) == "content-length") {
      head.content_length = parse_size(line.substr(colon + 1));
    }
  }
  return head;
}

enum class Goal { tunnel, check };

enum class Stage {
  connecting,      // TCP to the proxy
  greeting,        // SOCKS method selection
  authenticating,  // SOCKS username/password
  requesting,      // the request for the destination, and the proxy's reply to it
  reading_body,    // the start of a CONNECT error body, for how the destination failed
  finished,
};

// One tunnel (or health check) in flight. Held in a shared_ptr by the callbacks that drive it (the
// connect, the socket's readiness, the deadline); the first to end it releases the others.
struct Tunnel {
  EventLoop& loop;
  ProxyEndpoint proxy;
  Goal goal;
  StreamCallback done;
  Stage stage = Stage::connecting;
  int fd = -1;
  std::optional<EventLoop::TimerId> deadline;
  std::string request;   // the SOCKS CONNECT or the HTTP CONNECT, sent once the proxy is ready
  std::string out;       // bytes still to write
  std::string in;        // bytes of the current reply read so far
  std::size_t want = 0;  // SOCKS: how many bytes the current reply has
  ReplyHead head;        // HTTP, once the head is complete

  Tunnel(EventLoop& event_loop, ProxyEndpoint endpoint, Goal what, StreamCallback callback)
      : loop(event_loop), proxy(std::move(endpoint)), goal(what), done(std::move(callback)) {}
  Tunnel(const Tunnel&) = delete;
  Tunnel& operator=(const Tunnel&) = delete;
  ~Tunnel() {
    if (fd >= 0) {
      ::close(fd);  // only when the loop went away with the tunnel unfinished
    }
  }

  bool socks() const { return proxy.kind == ProxyKind::socks5; }
  bool has_credentials() const { return !proxy.username.empty(); }

  void finish(std::optional<FailureInfo> failure) {
    if (stage == Stage::finished) {
      return;
    }
    stage = Stage::finished;
    if (deadline) {
      loop.cancel_timer(*deadline);
      deadline.reset();
    }
    StreamConnection connection;
    if (fd >= 0) {
      loop.unwatch(fd);
      if (failure || goal == Goal::check) {
        ::close(fd);
      } else {
        connection.fd = fd;
      }
      fd = -1;
    }
    if (failure) {
      // The detail never holds the credentials: it is built from codes and the proxy's words only.
      spdlog::debug("proxy {}:{}: {} ({})", proxy.address, proxy.port, failure->str(),
                    failure->detail.empty() ? "-" : failure->detail);
      connection.proxy_failure = is_proxy_failure(*failure);
    }
    connection.failure = std::move(failure);
    auto callback = std::move(done);
    done = nullptr;
    if (callback) {
      callback(std::move(connection));
    }
  }

  static void finish_soon(const std::shared_ptr<Tunnel>& self, FailureInfo failure) {
    self->loop.add_timer(Millis(0), [self, failure]() { self->finish(failure); });
  }

  static void start(const std::shared_ptr<Tunnel>& self, Millis timeout) {
    self->deadline = self->loop.add_timer(timeout, [self]() {
      self->deadline.reset();
      self->on_deadline();
    });
    connect_stream(self->loop, self->proxy.address, self->proxy.port, timeout, self->proxy.bind_device,
                   [self](StreamConnection connection) { on_connected(self, std::move(connection)); });
  }

  static void on_connected(const std::shared_ptr<Tunnel>& self, StreamConnection connection) {
    if (self->stage != Stage::connecting) {
      // The deadline ended the tunnel first.
      if (connection.fd >= 0) {
        ::close(connection.fd);
      }
      return;
    }
    if (connection.failure) {
      self->finish(proxy_error("cannot connect to proxy: " + connection.failure->str()));
      return;
    }
    self->fd = connection.fd;
    if (self->socks()) {
      self->stage = Stage::greeting;
      put_u8(self->out, k_socks_version);
      if (self->has_credentials()) {
        // Offering "none" too lets a proxy that wants no credentials go on without them.
        put_u8(self->out, 2);
        put_u8(self->out, k_method_none);
        put_u8(self->out, k_method_password);
      } else {
        put_u8(self->out, 1);
        put_u8(self->out, k_method_none);
      }
      self->expect(2);
    } else if (self->goal == Goal::check) {
      self->finish(std::nullopt);
      return;
    } else {
      self->send_request();
    }
    self->flush();
    rearm(self);
  }

  // Watches the socket for what the tunnel waits for: the proxy's bytes always (an early close or
  // error shows there), and room to write while a message is still queued.
  static void rearm(const std::shared_ptr<Tunnel>& self) {
    if (self->stage == Stage::finished) {
      return;
    }
    const std::uint32_t interest = EventLoop::k_readable | (self->out.empty() ? 0 : EventLoop::k_writable);
    self->loop.watch(self->fd, interest, [self](int, std::uint32_t events) {
      if ((events & EventLoop::k_writable) != 0) {
        self->flush();
      }
      if (self->stage != Stage::finished && (events & (EventLoop::k_readable | EventLoop::k_error)) != 0) {
        self->receive();
      }
      rearm(self);
    });
  }

  void expect(std::size_t size) {
    in.clear();
    want = size;
  }

  void send_request() {
    stage = Stage::requesting;
    out += request;
    expect(k_socks_reply_prefix);  // SOCKS only: an HTTP head is read to its blank line instead
  }

  void flush() {
    while (stage != Stage::finished && !out.empty()) {
      const auto sent = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
      if (sent < 0) {
        if (errno == EINTR) {
          continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          finish(proxy_error("cannot write to proxy: " + failure_from_errno(errno).str()));
        }
        return;
      }
      out.erase(0, static_cast<std::size_t>(sent));
    }
  }

  // The proxy closed or broke the connection before the tunnel was open.
  void lost(ssize_t result, int error) {
    if (stage == Stage::reading_body) {
      conclude_http();  // the body ends with the connection: what came is what there is
      return;
    }
    const std::string during = stage == Stage::requesting ? "before answering the request" : "during the handshake";
    finish(proxy_error(result == 0 ? "proxy closed the connection " + during
                                   : "connection to proxy failed " + during + ": " + failure_from_errno(error).str()));
  }

  void receive() {
    if (!socks() && stage == Stage::requesting) {
      receive_head();
    } else if (stage == Stage::reading_body) {
      receive_body();
    } else {
      receive_exact();
    }
  }

  // SOCKS replies are read to the byte: after the last one, the stream belongs to the receiver.
  void receive_exact() {
    std::array<char, k_read_chunk> buffer;
    while (stage != Stage::finished && in.size() < want) {
      const auto size = ::recv(fd, buffer.data(), std::min(buffer.size(), want - in.size()), 0);
      if (size <= 0) {
        if (size < 0 && (errno == EINTR)) {
          continue;
        }
        if (size < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          return;
        }
        lost(size, errno);
        return;
      }
      in.append(buffer.data(), static_cast<std::size_t>(size));
      if (in.size() == want) {
        on_socks_message();
      }
    }
  }

  void on_socks_message() {
    switch (stage) {
    case Stage::greeting: on_method_selected(); return;
    case Stage::authenticating: on_authenticated(); return;
    case Stage::requesting: on_connect_reply(); return;
    default: return;
    }
  }

  void on_method_selected() {
    if (byte_at(in, 0) != k_socks_version) {
      finish(proxy_error("not a SOCKS5 server"));
      return;
    }
    const std::uint8_t method = byte_at(in, 1);
    if (method == k_method_none) {
      handshake_done();
    } else if (method == k_method_password && has_credentials()) {
      stage = Stage::authenticating;
      if (proxy.username.size() > k_max_socks_field || proxy.password.size() > k_max_socks_field) {
        finish(proxy_error("SOCKS5 user names and passwords are at most 255 bytes"));
        return;
      }
      put_u8(out, k_password_auth_version);
      put_u8(out, static_cast<std::uint8_t>(proxy.username.size()));
      out += proxy.username;
      put_u8(out, static_cast<std::uint8_t>(proxy.password.size()));
      out += proxy.password;
      expect(2);
      flush();
    } else if (method == k_method_unacceptable) {
      finish(proxy_error(has_credentials() ? "proxy accepts none of the offered authentication methods"
                                           : "proxy requires authentication"));
    } else {
      finish(proxy_error("proxy chose a method that was not offered: not a SOCKS5 server"));
    }
  }

  void on_authenticated() {
    // RFC 1929 says version 1; some servers answer with the SOCKS version instead.
    if (byte_at(in, 0) != k_password_auth_version && byte_at(in, 0) != k_socks_version) {
      finish(proxy_error("not a SOCKS5 server"));
      return;
    }
    if (byte_at(in, 1) != 0) {
      finish(proxy_error("authentication rejected"));
      return;
    }
    handshake_done();
  }

  void handshake_done() {
    if (goal == Goal::check) {
      finish(std::nullopt);
      return;
    }
    send_request();
    flush();
  }

  void on_connect_reply() {
    if (byte_at(in, 0) != k_socks_version) {
      finish(proxy_error("not a SOCKS5 server"));
      return;
    }
    if (const std::uint8_t reply = byte_at(in, 1); reply != 0) {
      finish(failure_from_socks_reply(reply));
      return;
    }
    if (in.size() > k_socks_reply_prefix) {
      finish(std::nullopt);  // the whole reply, BND.ADDR and BND.PORT included, has been read
      return;
    }
    switch (byte_at(in, 3)) {
    case k_address_ipv4: want = k_socks_reply_fixed + 4; break;
    case k_address_ipv6: want = k_socks_reply_fixed + 16; break;
    case k_address_domain: want = k_socks_reply_fixed + 1 + byte_at(in, 4); break;
    default: finish(proxy_error("SOCKS5 reply with an unknown address type")); return;
    }
  }

  // The CONNECT reply head, read to its blank line and not a byte further: the stream after it is
  // the destination's. Peeking first finds the end without taking what follows.
  void receive_head() {
    std::array<char, k_read_chunk> buffer;
    while (stage == Stage::requesting) {
      const auto peeked = ::recv(fd, buffer.data(), buffer.size(), MSG_PEEK);
      if (peeked <= 0) {
        if (peeked < 0 && errno == EINTR) {
          continue;
        }
        if (peeked < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          return;
        }
        lost(peeked, errno);
        return;
      }
      const std::size_t searched_from = in.size() >= 3 ? in.size() - 3 : 0;
      const std::size_t had = in.size();
      in.append(buffer.data(), static_cast<std::size_t>(peeked));
      const auto end = head_end(in, searched_from);
      in.resize(end ? *end : in.size());
      // Take exactly what was kept; it is all in the socket buffer, so one recv returns it.
      const std::size_t take = in.size() - had;
      if (::recv(fd, buffer.data(), take, 0) != static_cast<ssize_t>(take)) {
        finish(proxy_error("connection to proxy failed while reading its reply"));
        return;
      }
      const std::string_view prefix = std::string_view("HTTP/").substr(0, std::min<std::size_t>(in.size(), 5));
      if (!std::string_view(in).starts_with(prefix)) {
        finish(proxy_error("not an HTTP reply"));
        return;
      }
      if (in.size() > k_max_connect_head) {
        finish(proxy_error("CONNECT reply head over 16 KiB"));
        return;
      }
      if (end) {
        on_head();
        return;
      }
    }
  }

  void on_head() {
    const auto parsed = parse_reply_head(in);
    if (!parsed) {
      finish(proxy_error("not an HTTP reply"));
      return;
    }
    head = *parsed;
    if (head.status >= 200 && head.status < 300) {
      finish(std::nullopt);  // a 2xx to CONNECT has no body: the tunnel starts right here
      return;
    }
    const bool may_explain = head.status == 500 || head.status == 502 || head.status == 503;
    if (!may_explain || head.content_length == std::size_t{0}) {
      conclude_http();
      return;
    }
    stage = Stage::reading_body;
    in.clear();
    want = std::min(head.content_length.value_or(k_max_error_body), k_max_error_body);
  }

  void receive_body() {
    std::array<char, k_read_chunk> buffer;
    while (stage == Stage::reading_body && in.size() < want) {
      const auto size = ::recv(fd, buffer.data(), std::min(buffer.size(), want - in.size()), 0);
      if (size < 0 && errno == EINTR) {
        continue;
      }
      if (size < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return;
      }
      if (size <= 0) {
        conclude_http();
        return;
      }
      in.append(buffer.data(), static_cast<std::size_t>(size));
    }
    conclude_http();
  }

  void conclude_http() {
    const std::string_view body = stage == Stage::reading_body ? std::string_view(in) : std::string_view();
    FailureInfo failure = failure_from_connect_status(head.status, head.reason, body);
    if (head.status == 407 && has_credentials()) {
      failure.detail = "authentication rejected";
    }
    finish(failure);
  }

  void on_deadline() {
    switch (stage) {
    case Stage::connecting:
      finish(proxy_error("cannot connect to proxy: generic_timeout_error"));
      return;
    case Stage::greeting:
    case Stage::authenticating:
      finish(proxy_error("proxy did not complete the handshake in time"));
      return;
    case Stage::requesting:
      if (!out.empty()) {
        finish(proxy_error("proxy did not take the request in time"));
      } else if (!in.empty()) {
        finish(proxy_error("proxy reply incomplete in time"));
      } else {
        // The proxy took the request and is still trying the destination.
        finish(FailureInfo{Failure::generic_timeout_error, ""});
      }
      return;
    case Stage::reading_body:
      conclude_http();  // the status is known; the body only refines it
      return;
    case Stage::finished:
      return;
    }
  }
};

void start_tunnel(EventLoop& loop, const ProxyEndpoint& proxy, Goal goal, const std::string& dest_host,
                  std::uint16_t dest_port, Millis timeout, StreamCallback done) {
  auto tunnel = std::make_shared<Tunnel>(loop, proxy, goal, std::move(done));
  if (goal == Goal::tunnel) {
    auto request = proxy.kind == ProxyKind::socks5 ? socks_request(dest_host, dest_port)
                                                   : connect_request(dest_host, dest_port, proxy);
    if (!request) {
      // The caller's mistake, not the proxy's nor the destination's.
      Tunnel::finish_soon(tunnel,
                          FailureInfo{Failure::unknown_failure, "not an IP address or host name: " + dest_host});
      return;
    }
    tunnel->request = std::move(*request);
  }
  Tunnel::start(tunnel, timeout);
}

}  // namespace

void open_tunnel(EventLoop& loop, const ProxyEndpoint& proxy, const std::string& dest_host, std::uint16_t dest_port,
                 Millis timeout, StreamCallback done) {
  start_tunnel(loop, proxy, Goal::tunnel, dest_host, dest_port, timeout, std::move(done));
}

StreamConnector tunnel_connector(EventLoop& loop, ProxyEndpoint proxy) {
  return [&loop, proxy = std::move(proxy)](const std::string& address, std::uint16_t port, Millis timeout,
                                           StreamCallback done) {
    open_tunnel(loop, proxy, address, port, timeout, std::move(done));
  };
}

void check_proxy(EventLoop& loop, const ProxyEndpoint& proxy, Millis timeout,
                 std::function<void(std::optional<FailureInfo>)> done) {
  start_tunnel(loop, proxy, Goal::check, "", 0, timeout,
               [done = std::move(done)](StreamConnection connection) { done(std::move(connection.failure)); });
}

}  // namespace probe
