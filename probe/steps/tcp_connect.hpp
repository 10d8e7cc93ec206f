#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "net/event_loop.hpp"
#include "report/report.hpp"

namespace probe {

// The TCP step: our own non-blocking connect on the run's loop, so that the failure is the exact
// errno (refused, reset, unreachable) and the timing is the handshake's, not a library's guess.
// The socket is closed as soon as the result is known; TLS and HTTP open their own connection.
// `done` runs exactly once, from the loop (never from inside this call).
void start_tcp_connect(EventLoop& loop, const std::string& address, std::uint16_t port, Millis timeout,
                       MonoTime run_start, std::function<void(TcpObservation)> done);

}  // namespace probe
