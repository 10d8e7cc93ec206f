#include "steps/tcp_connect.hpp"

#include <unistd.h>

namespace probe {

void start_tcp_connect(const StreamConnector& connect, const std::string& address, std::uint16_t port,
                       Millis timeout, MonoTime run_start, std::function<void(TcpObservation)> done) {
  const MonoTime started = EventLoop::now();
  connect(address, port, timeout, [started, run_start, done = std::move(done)](StreamConnection connection) {
    if (connection.fd >= 0) {
      ::close(connection.fd);
    }
    TcpObservation tcp;
    tcp.t0_ms = ms_between(run_start, started);
    tcp.duration_ms = ms_between(started, EventLoop::now());
    tcp.failure = std::move(connection.failure);
    done(std::move(tcp));
  });
}

}  // namespace probe
