#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "net/curl_multi.hpp"
#include "net/event_loop.hpp"
#include "steps/tls_http.hpp"

namespace probe {

// Runs TLS and HTTP transfers on a few worker threads, each with its own event loop and curl
// multi handle, and hands every result back on the caller's loop. A run spends most of its CPU
// time in OpenSSL (certificate decoding and verification, key exchange: about 3 ms per handshake
// on a 2-core VPS), so on one thread a thousand targets are bound by that thread; everything else
// (DNS, TCP connects, scheduling, the verdicts, the report) stays on the caller's loop.
//
// The number of threads is fixed for the run, never per target. With 0, transfers run on the
// caller's own CurlMulti, as if this class were not there.
//
// A transfer's `done` runs on the caller's loop, exactly once, in the order results arrive. While
// transfers are out, the loop keeps running; once none is, this adds nothing that keeps it alive.
// Destroying the object stops the workers (transfers still running are aborted) and drops every
// result not yet delivered: the caller has stopped listening.
class TransferWorkers {
public:
  TransferWorkers(EventLoop& loop, CurlMulti& local, std::size_t threads);
  ~TransferWorkers();
  TransferWorkers(const TransferWorkers&) = delete;
  TransferWorkers& operator=(const TransferWorkers&) = delete;

  void start(const TransferRequest& request, MonoTime run_start, std::function<void(TransferResult)> done);

  std::size_t threads() const;

  // The default for this machine: as many threads as cores, at most 4; 0 on one core. The caller's
  // loop mostly waits (at 1000 lab targets it used 0.6 s of CPU against the TLS thread's 3.1 s), so
  // it does not need a core of its own: on 2 cores, 2 threads ran a direct run in 2.6 s, 1 in 3.7 s.
  static std::size_t default_threads();

private:
  struct Shared;
  std::shared_ptr<Shared> m_shared;
};

}  // namespace probe
