#pragma once

#include <unistd.h>

#include <functional>
#include <optional>
#include <utility>

#include "core/failure.hpp"
#include "net/event_loop.hpp"

namespace probe {

// What a step that owns one socket shares: the socket, its timers, its start time, and an end
// that releases them all and reports exactly once. Held in a shared_ptr by the callbacks that
// may end it (socket events, the deadline), whichever comes first.
template <typename Observation>
struct SocketStep {
  EventLoop& loop;
  int fd = -1;
  std::optional<EventLoop::TimerId> deadline;
  std::optional<EventLoop::TimerId> resend;
  MonoTime started;
  Observation observation;
  std::function<void(Observation)> done;

  SocketStep(EventLoop& event_loop, MonoTime run_start, std::function<void(Observation)> callback)
      : loop(event_loop), started(EventLoop::now()), done(std::move(callback)) {
    observation.t0_ms = ms_between(run_start, started);
  }

  void finish(std::optional<FailureInfo> failure) {
    for (auto* timer : {&deadline, &resend}) {
      if (*timer) {
        loop.cancel_timer(**timer);
        timer->reset();
      }
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

  // Failures found before the step is under way are reported from the loop too, so a caller
  // never sees its callback run inside the call that started the step.
  template <typename Self>
  static void finish_soon(const std::shared_ptr<Self>& self, std::optional<FailureInfo> failure) {
    self->loop.add_timer(Millis(0), [self, failure]() { self->finish(failure); });
  }
};

}  // namespace probe
