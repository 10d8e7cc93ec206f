#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/failure.hpp"
#include "net/event_loop.hpp"

namespace probe {

// A stream socket that is connected (or the reason it is not). On success the receiver owns
// `fd` (non-blocking, close-on-exec) and must close it; on failure `fd` is -1.
struct StreamConnection {
  int fd = -1;
  std::optional<FailureInfo> failure;
  // The failure is the proxy's own (unreachable, refused the handshake or the credentials), as
  // opposed to the proxy reporting that the destination failed: `failure` is then proxy_error.
  bool proxy_failure = false;
};

using StreamCallback = std::function<void(StreamConnection)>;

// Opens a TCP connection to `address`:`port` (an IP literal) on the loop: our own non-blocking
// connect, so a failure is the exact errno (refused, reset, unreachable) or generic_timeout_error
// after `timeout`. `bind_device`, when not empty, binds the socket to that interface
// (SO_BINDTODEVICE), which is how an interface path carries its traffic. `done` runs exactly
// once, from the loop, never from inside this call.
void connect_stream(EventLoop& loop, const std::string& address, std::uint16_t port, Millis timeout,
                    const std::string& bind_device, StreamCallback done);

// How a path opens a stream to a destination: directly, bound to an interface, or through a
// proxy tunnel. Same contract as connect_stream.
using StreamConnector =
    std::function<void(const std::string& address, std::uint16_t port, Millis timeout, StreamCallback done)>;

// The connector of a path without a proxy: connect_stream, bound to `bind_device` when not empty.
StreamConnector plain_connector(EventLoop& loop, std::string bind_device = "");

// Binds `fd` to interface `name` (SO_BINDTODEVICE); returns 0 or the errno.
int bind_to_device(int fd, const std::string& name);

}  // namespace probe
