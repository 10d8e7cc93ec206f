#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>

#include "net/event_loop.hpp"

typedef void CURL;
typedef void CURLM;

namespace probe {

// curl's multi socket API on the run's event loop: curl tells us which sockets and which
// deadline it cares about (SOCKETFUNCTION, TIMERFUNCTION); the loop tells curl what is ready
// (curl_multi_socket_action). No thread, no curl_multi_poll.
class CurlMulti {
public:
  // Receives the easy handle back with curl's result code once the transfer is over; the
  // handle is removed from the multi first and then belongs to the callback's owner again.
  using Done = std::function<void(CURL* easy, int result)>;

  explicit CurlMulti(EventLoop& loop);
  ~CurlMulti();
  CurlMulti(const CurlMulti&) = delete;
  CurlMulti& operator=(const CurlMulti&) = delete;

  // Starts a transfer. `done` runs from the loop, exactly once, unless the transfer is cancelled.
  void add(CURL* easy, Done done);

  // Stops a transfer that is still running; its `done` is dropped without being called, and the
  // handle belongs to the caller again. For an owner that goes away before its transfers end.
  void cancel(CURL* easy);

private:
  static int on_socket(CURL* easy, int fd, int what, void* self, void* socket_data);
  static int on_timer(CURLM* multi, long timeout_ms, void* self);
  void act(int fd, int events);
  void collect_done();

  EventLoop& m_loop;
  CURLM* m_multi;
  std::optional<EventLoop::TimerId> m_timer;
  std::unordered_map<CURL*, Done> m_transfers;
};

}  // namespace probe
