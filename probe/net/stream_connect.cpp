#include "net/stream_connect.hpp"

#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "net/classify.hpp"
#include "net/socket_address.hpp"

namespace probe {

int bind_to_device(int fd, const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ) {
    return EINVAL;
  }
  if (::setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name.c_str(), static_cast<socklen_t>(name.size())) != 0) {
    return errno;
  }
  return 0;
}

namespace {

// One connect in flight: the socket, the deadline, and the callback that must run exactly once.
struct Connecting {
  EventLoop& loop;
  int fd = -1;
  std::optional<EventLoop::TimerId> deadline;
  StreamCallback done;

  Connecting(EventLoop& event_loop, StreamCallback callback) : loop(event_loop), done(std::move(callback)) {}

  void finish(std::optional<FailureInfo> failure) {
    if (deadline) {
      loop.cancel_timer(*deadline);
      deadline.reset();
    }
    StreamConnection connection;
    if (fd >= 0) {
      loop.unwatch(fd);
      if (failure) {
        ::close(fd);
      } else {
        connection.fd = fd;
      }
      fd = -1;
    }
    connection.failure = std::move(failure);
    auto callback = std::move(done);
    done = nullptr;
    if (callback) {
      callback(std::move(connection));
    }
  }

  static void finish_soon(const std::shared_ptr<Connecting>& self, std::optional<FailureInfo> failure) {
    self->loop.add_timer(Millis(0), [self, failure]() { self->finish(failure); });
  }
};

}  // namespace

void connect_stream(EventLoop& loop, const std::string& address, std::uint16_t port, Millis timeout,
                    const std::string& bind_device, StreamCallback done) {
  auto attempt = std::make_shared<Connecting>(loop, std::move(done));
  const auto target = socket_address(address, port);
  if (!target) {
    Connecting::finish_soon(attempt, FailureInfo{Failure::unknown_failure, "not an IP address: " + address});
    return;
  }
  attempt->fd = ::socket(target->family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (attempt->fd < 0) {
    Connecting::finish_soon(attempt, failure_from_errno(errno));
    return;
  }
  if (!bind_device.empty()) {
    if (const int error = bind_to_device(attempt->fd, bind_device); error != 0) {
      FailureInfo failure = failure_from_errno(error);
      if (failure.code == Failure::unknown_failure) {
        failure.detail = "cannot bind to interface " + bind_device + ": " + failure.detail;
      }
      Connecting::finish_soon(attempt, failure);
      return;
    }
  }
  if (::connect(attempt->fd, target->get(), target->length) == 0) {
    Connecting::finish_soon(attempt, std::nullopt);  // connected at once (loopback can)
    return;
  }
  if (errno != EINPROGRESS) {
    Connecting::finish_soon(attempt, failure_from_errno(errno));
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
    attempt->finish(error == 0 ? std::nullopt : std::optional<FailureInfo>(failure_from_errno(error)));
  });
}

StreamConnector plain_connector(EventLoop& loop, std::string bind_device) {
  return [&loop, device = std::move(bind_device)](const std::string& address, std::uint16_t port, Millis timeout,
                                                  StreamCallback done) {
    connect_stream(loop, address, port, timeout, device, std::move(done));
  };
}

}  // namespace probe
