#include "net/curl_multi.hpp"

#include <curl/curl.h>

#include <stdexcept>

namespace probe {

CurlMulti::CurlMulti(EventLoop& loop) : m_loop(loop), m_multi(curl_multi_init()) {
  if (m_multi == nullptr) {
    throw std::runtime_error("curl_multi_init failed");
  }
  curl_multi_setopt(m_multi, CURLMOPT_SOCKETFUNCTION, &CurlMulti::on_socket);
  curl_multi_setopt(m_multi, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(m_multi, CURLMOPT_TIMERFUNCTION, &CurlMulti::on_timer);
  curl_multi_setopt(m_multi, CURLMOPT_TIMERDATA, this);
}

CurlMulti::~CurlMulti() {
  if (m_timer) {
    m_loop.cancel_timer(*m_timer);
  }
  // One at a time, each out of the map before its callback runs: a callback may cancel() others.
  while (!m_transfers.empty()) {
    auto transfer = m_transfers.extract(m_transfers.begin());
    curl_multi_remove_handle(m_multi, transfer.key());
    // The owner still gets its handle back, with a result that says the run stopped it.
    transfer.mapped()(transfer.key(), CURLE_ABORTED_BY_CALLBACK);
  }
  curl_multi_cleanup(m_multi);
}

void CurlMulti::add(CURL* easy, Done done) {
  m_transfers.emplace(easy, std::move(done));
  const CURLMcode rc = curl_multi_add_handle(m_multi, easy);
  if (rc != CURLM_OK) {
    auto callback = std::move(m_transfers[easy]);
    m_transfers.erase(easy);
    m_loop.add_timer(Millis(0), [callback, easy]() { callback(easy, CURLE_FAILED_INIT); });
  }
}

void CurlMulti::cancel(CURL* easy) {
  if (m_transfers.erase(easy) != 0) {
    curl_multi_remove_handle(m_multi, easy);
  }
}

int CurlMulti::on_socket(CURL*, int fd, int what, void* self_pointer, void*) {
  auto* self = static_cast<CurlMulti*>(self_pointer);
  if (what == CURL_POLL_REMOVE) {
    self->m_loop.unwatch(fd);
    return 0;
  }
  std::uint32_t interest = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) {
    interest |= EventLoop::k_readable;
  }
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) {
    interest |= EventLoop::k_writable;
  }
  self->m_loop.watch(fd, interest, [self](int ready_fd, std::uint32_t events) {
    int mask = 0;
    if (events & EventLoop::k_readable) {
      mask |= CURL_CSELECT_IN;
    }
    if (events & EventLoop::k_writable) {
      mask |= CURL_CSELECT_OUT;
    }
    if (events & EventLoop::k_error) {
      mask |= CURL_CSELECT_ERR;
    }
    self->act(ready_fd, mask);
  });
  return 0;
}

int CurlMulti::on_timer(CURLM*, long timeout_ms, void* self_pointer) {
  auto* self = static_cast<CurlMulti*>(self_pointer);
  if (self->m_timer) {
    self->m_loop.cancel_timer(*self->m_timer);
    self->m_timer.reset();
  }
  if (timeout_ms < 0) {
    return 0;
  }
  // Never act from inside this callback: curl forbids re-entering the multi handle here.
  self->m_timer = self->m_loop.add_timer(Millis(timeout_ms), [self]() {
    self->m_timer.reset();
    self->act(CURL_SOCKET_TIMEOUT, 0);
  });
  return 0;
}

void CurlMulti::act(int fd, int events) {
  int running = 0;
  curl_multi_socket_action(m_multi, fd, events, &running);
  collect_done();
}

void CurlMulti::collect_done() {
  int left = 0;
  while (CURLMsg* message = curl_multi_info_read(m_multi, &left)) {
    if (message->msg != CURLMSG_DONE) {
      continue;
    }
    CURL* easy = message->easy_handle;
    const int result = message->data.result;
    curl_multi_remove_handle(m_multi, easy);
    const auto it = m_transfers.find(easy);
    if (it == m_transfers.end()) {
      continue;
    }
    Done done = std::move(it->second);
    m_transfers.erase(it);
    done(easy, result);
  }
}

}  // namespace probe
