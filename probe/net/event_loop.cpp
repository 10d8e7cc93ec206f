#include "net/event_loop.hpp"

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace probe {

namespace {
std::uint32_t to_epoll(std::uint32_t interest) {
  std::uint32_t events = 0;
  if (interest & EventLoop::k_readable) {
    events |= EPOLLIN;
  }
  if (interest & EventLoop::k_writable) {
    events |= EPOLLOUT;
  }
  return events;
}
}  // namespace

EventLoop::EventLoop() : m_epoll_fd(epoll_create1(EPOLL_CLOEXEC)) {
  if (m_epoll_fd < 0) {
    throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
  }
}

EventLoop::~EventLoop() { ::close(m_epoll_fd); }

void EventLoop::watch(int fd, std::uint32_t interest, FdCallback callback) {
  add_watch(fd, interest, std::move(callback), false);
}

void EventLoop::watch_passive(int fd, std::uint32_t interest, FdCallback callback) {
  add_watch(fd, interest, std::move(callback), true);
}

void EventLoop::add_watch(int fd, std::uint32_t interest, FdCallback callback, bool passive) {
  epoll_event event{};
  event.events = to_epoll(interest);
  event.data.fd = fd;
  const auto it = m_fds.find(fd);
  const int op = it == m_fds.end() ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
  if (epoll_ctl(m_epoll_fd, op, fd, &event) != 0) {
    throw std::runtime_error(std::string("epoll_ctl: ") + std::strerror(errno));
  }
  if (it != m_fds.end() && it->second.passive) {
    --m_passive;
  }
  m_fds[fd] = Watch{interest, std::move(callback), passive};
  if (passive) {
    ++m_passive;
  }
}

void EventLoop::unwatch(int fd) {
  const auto it = m_fds.find(fd);
  if (it != m_fds.end()) {
    if (it->second.passive) {
      --m_passive;
    }
    m_fds.erase(it);
    // The descriptor may already be closed, which removed it from epoll: ignore the error.
    epoll_ctl(m_epoll_fd, EPOLL_CTL_DEL, fd, nullptr);
  }
}

EventLoop::TimerId EventLoop::add_timer(MonoTime when, TimerCallback callback) {
  const TimerId id = m_next_timer++;
  const auto it = m_timers.emplace(when, std::make_pair(id, std::move(callback)));
  m_timer_index[id] = it;
  return id;
}

void EventLoop::cancel_timer(TimerId id) {
  const auto it = m_timer_index.find(id);
  if (it != m_timer_index.end()) {
    m_timers.erase(it->second);
    m_timer_index.erase(it);
  }
}

void EventLoop::run_due_timers() {
  const MonoTime current = now();
  while (!m_timers.empty() && m_timers.begin()->first <= current && !m_stopped) {
    auto node = m_timers.extract(m_timers.begin());
    m_timer_index.erase(node.mapped().first);
    node.mapped().second();
  }
}

void EventLoop::run() {
  m_stopped = false;
  constexpr int k_batch = 256;
  epoll_event events[k_batch];
  while (!m_stopped && (m_fds.size() > m_passive || !m_timers.empty())) {
    int timeout_ms = -1;
    if (!m_timers.empty()) {
      const auto wait = m_timers.begin()->first - now();
      // Round up so that a timer is never woken for early and spun on.
      const auto ms = std::chrono::ceil<Millis>(wait).count();
      timeout_ms = ms <= 0 ? 0 : static_cast<int>(std::min<long long>(ms, 60'000));
    }
    const int ready = epoll_wait(m_epoll_fd, events, k_batch, timeout_ms);
    if (ready < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw std::runtime_error(std::string("epoll_wait: ") + std::strerror(errno));
    }
    for (int i = 0; i < ready && !m_stopped; ++i) {
      const int fd = events[i].data.fd;
      const auto it = m_fds.find(fd);
      if (it == m_fds.end()) {
        continue;  // unwatched by an earlier callback in this batch
      }
      std::uint32_t flags = 0;
      if (events[i].events & EPOLLIN) {
        flags |= k_readable;
      }
      if (events[i].events & EPOLLOUT) {
        flags |= k_writable;
      }
      if (events[i].events & (EPOLLERR | EPOLLHUP)) {
        flags |= k_error;
      }
      // Copy: the callback may unwatch (and so destroy) its own entry.
      const FdCallback callback = it->second.callback;
      callback(fd, flags);
    }
    run_due_timers();
  }
}

}  // namespace probe
