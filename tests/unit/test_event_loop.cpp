#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "net/event_loop.hpp"

using namespace probe;

TEST_CASE("timers run in deadline order and can be cancelled", "[loop]") {
  EventLoop loop;
  std::vector<int> order;
  const MonoTime start = EventLoop::now();
  // Far enough from the others that a loaded machine waking the loop late cannot make 3 due
  // together with 2 (4 is added at 2's "now", so it would sort after 3).
  loop.add_timer(Millis(300), [&]() { order.push_back(3); });
  loop.add_timer(Millis(10), [&]() { order.push_back(1); });
  const auto cancelled = loop.add_timer(Millis(20), [&]() { order.push_back(99); });
  loop.add_timer(Millis(20), [&]() {
    order.push_back(2);
    loop.add_timer(Millis(0), [&]() { order.push_back(4); });  // added from a callback
  });
  loop.cancel_timer(cancelled);
  loop.run();
  CHECK(order == std::vector<int>{1, 2, 4, 3});
  CHECK(EventLoop::now() - start >= Millis(300));
}

TEST_CASE("descriptors are dispatched until unwatched", "[loop]") {
  int fds[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) == 0);
  EventLoop loop;
  std::string received;
  loop.watch(fds[0], EventLoop::k_readable, [&](int fd, std::uint32_t events) {
    char buffer[16];
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n > 0) {
      received.append(buffer, static_cast<std::size_t>(n));
    }
    if (n == 0 || (events & EventLoop::k_error)) {
      loop.unwatch(fd);
    }
  });
  loop.watch(fds[1], EventLoop::k_writable, [&](int fd, std::uint32_t) {
    CHECK(write(fd, "hello", 5) == 5);
    loop.unwatch(fd);
    shutdown(fd, SHUT_WR);
  });
  loop.run();  // returns once nothing is watched
  CHECK(received == "hello");
  CHECK_FALSE(loop.watching(fds[0]));
  close(fds[0]);
  close(fds[1]);
}

TEST_CASE("stop() ends run() from a callback", "[loop]") {
  EventLoop loop;
  int fired = 0;
  loop.add_timer(Millis(1), [&]() {
    ++fired;
    loop.stop();
  });
  loop.add_timer(Millis(1000), [&]() { ++fired; });
  loop.run();
  CHECK(fired == 1);
}
