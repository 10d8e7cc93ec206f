#include "steps/tcp_connect.hpp"

#include "net/socket_address.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace probe {

namespace {

// One connect attempt; owns its socket and its timer until it reports.
struct Attempt : std::enable_shared_from_this<Attempt> {
  EventLoop& loop;
  int fd = -1;
  std::optional<EventLoop::TimerId> timer;
  MonoTime started;
  TcpObservation observation;
  std::function<void(TcpObservation)> done;

  explicit Attempt(EventLoop& event_loop) : loop(event_loop) {}

  void finish(std::optional<FailureInfo> failure) {
    if (timer) {
      loop.cancel_timer(*timer);
      timer.reset();
    }
    if (fd >= 0) {
      loop.unwatch(fd);
      ::close(fd);
      fd = -1;
    }
    observation.failure = std::move(failure);
    observation.duration_ms = ms_between(started, EventLoop::now());
    auto callback = std::move(done);
    done = nullptr;
    if (callback) {
      callback(std::move(observation));
    }
  }
};

}  // namespace

void start_tcp_connect(EventLoop& loop, const std::string& address, std::uint16_t port, Millis timeout,
                       MonoTime run_start, std::function<void(TcpObservation)> done) {
  auto attempt = std::make_shared<Attempt>(loop);
  attempt->done = std::move(done);
  attempt->started = EventLoop::now();
  attempt->observation.t0_ms = ms_between(run_start, attempt->started);

  // Failures found before the connect is under way are reported from the loop too, so callers
  // never see their callback run inside the call that started it.
  const auto report_soon = [&loop, attempt](std::optional<FailureInfo> failure) {
    loop.add_timer(Millis(0), [attempt, failure]() { attempt->finish(failure); });
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
  attempt->timer = loop.add_timer(timeout, [attempt]() {
    attempt->timer.reset();
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
