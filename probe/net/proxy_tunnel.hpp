#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/failure.hpp"
#include "net/classify.hpp"
#include "net/event_loop.hpp"
#include "net/stream_connect.hpp"

namespace probe {

enum class ProxyKind { socks5, http_connect };

// A control-path proxy. The default value is a SOCKS5 proxy without an address: not usable until
// `address` is set. The credentials are secrets: nothing here ever writes them to a failure, a log
// or an exception.
struct ProxyEndpoint {
  ProxyKind kind = ProxyKind::socks5;
  std::string address;  // IP literal of the proxy
  std::uint16_t port = 1080;
  std::string username;  // empty: no authentication
  std::string password;
  std::string bind_device;  // interface used to reach the proxy, usually empty
};

// Opens a stream to `dest_host`:`dest_port` through `proxy`, on the loop (no thread, no blocking
// call). `dest_host` is an IP literal (SOCKS ATYP 1 or 4; CONNECT [v6]:port) or a domain name,
// which the proxy resolves (SOCKS ATYP 3; CONNECT host:port). The whole operation is bounded by
// `timeout`.
//
// Same contract as connect_stream: `done` runs exactly once, from the loop, never from inside this
// call. On success the receiver owns the fd (non-blocking), positioned right after the proxy's
// reply: no byte of the destination's stream has been read. On failure, `proxy_failure` tells the
// proxy's own failures (unreachable, handshake, authentication, refused by its rules: proxy_error,
// with the reason in `detail` for the logs) from the proxy reporting that the destination failed
// (connection_refused, host_unreachable, ..., or generic_timeout_error while the proxy was still
// trying the destination when the time ran out).
void open_tunnel(EventLoop& loop, const ProxyEndpoint& proxy, const std::string& dest_host, std::uint16_t dest_port,
                 Millis timeout, StreamCallback done);

// The StreamConnector of a proxy path. It keeps `loop` by reference: the loop must outlive it.
StreamConnector tunnel_connector(EventLoop& loop, ProxyEndpoint proxy);

// Start-up health check: connects to the proxy and completes the handshake without asking for any
// destination. SOCKS5: greeting and method selection, plus the RFC 1929 username/password
// exchange when credentials are set. HTTP: the TCP connect only (a CONNECT needs a destination).
// `done` runs exactly once, from the loop: nullopt when healthy, else proxy_error with the reason in
// `detail` ("cannot connect to proxy: connection_refused", "proxy requires authentication",
// "authentication rejected", "not a SOCKS5 server", ...).
void check_proxy(EventLoop& loop, const ProxyEndpoint& proxy, Millis timeout,
                 std::function<void(std::optional<FailureInfo>)> done);

// The meaning of a SOCKS5 reply and of an HTTP CONNECT answer (failure_from_socks_reply,
// failure_from_connect_status, is_proxy_failure) is in net/classify.hpp, shared with curl's steps.

}  // namespace probe
