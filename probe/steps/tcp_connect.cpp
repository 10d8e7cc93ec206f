#include "steps/tcp_connect.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "net/socket_address.hpp"
#include "steps/socket_step.hpp"

namespace probe {

namespace {

using Attempt = SocketStep<TcpObservation>;

}  // namespace

void start_tcp_connect(EventLoop& loop, const std::string& address, std::uint16_t port, Millis timeout,
                       MonoTime run_start, std::function<void(TcpObservation)> done) {
  auto attempt = std::make_shared<Attempt>(loop, run_start, std::move(done));
  const auto report_soon = [&attempt](std::optional<FailureInfo> failure) {
    Attempt::finish_soon(attempt, std::move(failure));
  };
  const auto target = socket_address(address, port);
  if (!target) {
    report_soon(FailureInfo{Failure::unknown_failure, "not an IP address: " + address});
    return;
  }
  attempt->fd = ::socket(target->family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (attempt->fd < 0) {
    report_soon(failure_from_errno(errno));
    return;
  }
  if (::connect(attempt->fd, target->get(), target->length) == 0) {
    report_soon(std::nullopt);  // connected at once (loopback can): success
    return;
  }
  if (errno != EINPROGRESS) {
    report_soon(failure_from_errno(errno));
    return;
  }
  attempt->deadline = loop.add_timer(timeout, [attempt]() {
    attempt->deadline.reset();
    attempt->finish(FailureInfo{Failure::generic_timeout_error, ""});
  });
  loop.watch(attempt->fd, EventLoop::k_writable, [attempt](int fd, std::uint32_t) {
    int error = 0;
    socklen_t size = sizeof error;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0) {
      error = errno;
    }
    if (error == 0) {
      attempt->finish(std::nullopt);
    } else {
      attempt->finish(failure_from_errno(error));
    }
  });
}

}  // namespace probe
