#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "net/event_loop.hpp"
#include "net/stream_connect.hpp"
#include "model/observations.hpp"

namespace probe {

// The TCP step: open a stream to the endpoint the way the path does (our own non-blocking
// connect, bound to the path's interface or tunnelled through its proxy), so that the failure is
// the exact errno (refused, reset, unreachable) or the proxy's reply for the destination, and the
// timing is the handshake's, not a library's guess. The stream is closed as soon as the result
// is known; TLS and HTTP open their own connection. `done` runs exactly once, from the loop.
void start_tcp_connect(const StreamConnector& connect, const std::string& address, std::uint16_t port,
                       Millis timeout, MonoTime run_start, std::function<void(TcpObservation)> done);

}  // namespace probe
