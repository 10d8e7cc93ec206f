#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <unordered_map>

namespace probe {

using MonoTime = std::chrono::steady_clock::time_point;
using Millis = std::chrono::milliseconds;

// Milliseconds from `from` to `to`, with sub-millisecond precision: how reports give timings.
inline double ms_between(MonoTime from, MonoTime to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// The one event loop of a run: epoll for descriptors, an ordered map for timers. Single-threaded;
// every callback runs on the thread that calls run(). The C libraries (c-ares, curl) are driven
// from here by their adapters; nothing else blocks.
class EventLoop {
public:
  // Interest and readiness flags for watch()/the callback.
  static constexpr std::uint32_t k_readable = 1;
  static constexpr std::uint32_t k_writable = 2;
  static constexpr std::uint32_t k_error = 4;  // EPOLLERR/EPOLLHUP: let the owner find out why

  using FdCallback = std::function<void(int fd, std::uint32_t events)>;
  using TimerCallback = std::function<void()>;
  using TimerId = std::uint64_t;

  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Starts, changes or stops watching `fd`. Interest 0 with unwatch() removes it; the callback
  // may call these for any descriptor, including its own.
  void watch(int fd, std::uint32_t interest, FdCallback callback);
  // Like watch(), but the descriptor does not keep run() going: run() returns once only passive
  // watches are left (e.g. a descriptor that says "stop", watched while there is work).
  void watch_passive(int fd, std::uint32_t interest, FdCallback callback);
  void unwatch(int fd);
  bool watching(int fd) const { return m_fds.count(fd) != 0; }

  // Runs `callback` once at or after `when`. Timers due at the same time run in order of creation.
  TimerId add_timer(MonoTime when, TimerCallback callback);
  TimerId add_timer(Millis delay, TimerCallback callback) { return add_timer(now() + delay, std::move(callback)); }
  void cancel_timer(TimerId id);

  // Dispatches events until there is nothing left to wait for (no descriptors, no timers) or
  // stop() is called.
  void run();
  void stop() { m_stopped = true; }

  static MonoTime now() { return std::chrono::steady_clock::now(); }

private:
  struct Watch {
    std::uint32_t interest = 0;
    FdCallback callback;
    bool passive = false;
  };
  void add_watch(int fd, std::uint32_t interest, FdCallback callback, bool passive);
  void run_due_timers();

  int m_epoll_fd = -1;
  std::unordered_map<int, Watch> m_fds;
  std::multimap<MonoTime, std::pair<TimerId, TimerCallback>> m_timers;
  std::unordered_map<TimerId, std::multimap<MonoTime, std::pair<TimerId, TimerCallback>>::iterator> m_timer_index;
  TimerId m_next_timer = 1;
  std::size_t m_passive = 0;  // how many of m_fds are passive
  bool m_stopped = false;
};

}  // namespace probe
