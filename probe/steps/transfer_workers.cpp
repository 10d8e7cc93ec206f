#include "steps/transfer_workers.hpp"

#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

namespace probe {

namespace {

constexpr std::size_t k_max_threads = 4;

int make_eventfd() {
  const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) {
    throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
  }
  return fd;
}

void wake(int fd) {
  const std::uint64_t one = 1;
  // A full counter (2^64 - 2 wakeups unread) is not reachable; EAGAIN would still leave it readable.
  [[maybe_unused]] const ssize_t written = ::write(fd, &one, sizeof one);
}

void drain(int fd) {
  std::uint64_t count = 0;
  [[maybe_unused]] const ssize_t got = ::read(fd, &count, sizeof count);
}

}  // namespace

struct TransferWorkers::Shared {
  using Task = std::function<void(CurlMulti&)>;

  struct Worker {
    std::mutex mutex;
    std::vector<Task> tasks;
    bool stopping = false;
    int wake_fd = -1;
    std::thread thread;
  };

  // What a worker hands back: a transfer's result (counted), or an exception to rethrow.
  struct Delivery {
    std::function<void()> run;
    bool transfer = true;
  };

  EventLoop& loop;
  CurlMulti& local;
  std::vector<std::unique_ptr<Worker>> workers;
  std::size_t next = 0;

  std::mutex mutex;  // guards `delivered`
  std::vector<Delivery> delivered;
  int ready_fd = -1;
  // The caller's thread only:
  std::size_t outstanding = 0;
  bool keeps_loop = false;

  Shared(EventLoop& caller_loop, CurlMulti& caller_multi) : loop(caller_loop), local(caller_multi) {}

  void deliver(Delivery delivery) {
    {
      const std::lock_guard<std::mutex> lock(mutex);
      delivered.push_back(std::move(delivery));
    }
    wake(ready_fd);
  }

  // A worker's loop: tasks come through its eventfd; it ends when told to stop. Transfers still
  // running then are aborted by the multi handle's destructor, and their results dropped.
  void run_worker(Worker& worker) {
    try {
      EventLoop worker_loop;
      CurlMulti multi(worker_loop);
      worker_loop.watch(worker.wake_fd, EventLoop::k_readable, [&](int, std::uint32_t) {
        drain(worker.wake_fd);
        std::vector<Task> tasks;
        bool stopping = false;
        {
          const std::lock_guard<std::mutex> lock(worker.mutex);
          tasks.swap(worker.tasks);
          stopping = worker.stopping;
        }
        if (stopping) {
          worker_loop.unwatch(worker.wake_fd);
          worker_loop.stop();
          return;
        }
        for (Task& task : tasks) {
          task(multi);
        }
      });
      worker_loop.run();
    } catch (...) {
      // Surfaces on the caller's loop, as it would have without a worker.
      deliver(Delivery{[error = std::current_exception()]() { std::rethrow_exception(error); }, false});
    }
  }

  void on_ready() {
    drain(ready_fd);
    std::vector<Delivery> batch;
    {
      const std::lock_guard<std::mutex> lock(mutex);
      batch.swap(delivered);
    }
    for (Delivery& delivery : batch) {
      if (delivery.transfer) {
        --outstanding;
      }
      delivery.run();  // may start more transfers
    }
    update_watch();
  }

  // Tells every worker to stop and waits for it; also what a half-built object undoes.
  void stop_workers() {
    for (const auto& worker : workers) {
      if (worker->thread.joinable()) {
        {
          const std::lock_guard<std::mutex> lock(worker->mutex);
          worker->stopping = true;
        }
        wake(worker->wake_fd);
      }
    }
    for (const auto& worker : workers) {
      if (worker->thread.joinable()) {
        worker->thread.join();
      }
      if (worker->wake_fd >= 0) {
        ::close(worker->wake_fd);
      }
    }
    workers.clear();
    if (ready_fd >= 0) {
      loop.unwatch(ready_fd);
      ::close(ready_fd);
      ready_fd = -1;
    }
  }

  // The eventfd keeps the caller's loop running only while transfers are out.
  void update_watch() {
    const bool wanted = outstanding > 0;
    if (wanted == keeps_loop) {
      return;
    }
    keeps_loop = wanted;
    auto callback = [this](int, std::uint32_t) { on_ready(); };
    if (wanted) {
      loop.watch(ready_fd, EventLoop::k_readable, callback);
    } else {
      loop.watch_passive(ready_fd, EventLoop::k_readable, callback);
    }
  }
};

TransferWorkers::TransferWorkers(EventLoop& loop, CurlMulti& local, std::size_t threads)
    : m_shared(std::make_shared<Shared>(loop, local)) {
  if (threads == 0) {
    return;
  }
  Shared& shared = *m_shared;
  try {
    shared.ready_fd = make_eventfd();
    loop.watch_passive(shared.ready_fd, EventLoop::k_readable, [&shared](int, std::uint32_t) { shared.on_ready(); });
    for (std::size_t k = 0; k < threads; ++k) {
      shared.workers.push_back(std::make_unique<Shared::Worker>());
      Shared::Worker& worker = *shared.workers.back();
      worker.wake_fd = make_eventfd();
      worker.thread = std::thread([&shared, &worker]() { shared.run_worker(worker); });
    }
  } catch (...) {
    shared.stop_workers();
    throw;
  }
}

TransferWorkers::~TransferWorkers() { m_shared->stop_workers(); }

std::size_t TransferWorkers::threads() const { return m_shared->workers.size(); }

std::size_t TransferWorkers::default_threads() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::size_t cores = 0;
  if (::sched_getaffinity(0, sizeof set, &set) == 0) {
    cores = static_cast<std::size_t>(CPU_COUNT(&set));
  } else {
    cores = std::thread::hardware_concurrency();
  }
  return cores <= 1 ? 0 : std::min(cores, k_max_threads);
}

void TransferWorkers::start(const TransferRequest& request, MonoTime run_start,
                            std::function<void(TransferResult)> done) {
  Shared& shared = *m_shared;
  if (shared.workers.empty()) {
    start_transfer(shared.local, request, run_start, std::move(done));
    return;
  }
  ++shared.outstanding;
  shared.update_watch();
  Shared::Worker& worker = *shared.workers[shared.next++ % shared.workers.size()];
  Shared::Task task = [&shared, request, run_start, done = std::move(done)](CurlMulti& multi) mutable {
    start_transfer(multi, request, run_start, [&shared, done = std::move(done)](TransferResult result) mutable {
      shared.deliver(Shared::Delivery{[done = std::move(done), result = std::move(result)]() mutable {
        // Copied on the caller's thread, so what the run keeps is allocated from its malloc arena:
        // kept in the worker's, it would pin that arena's pages between freed connection state
        // (+40 MiB of peak RSS at 1000 targets).
        TransferResult own = result;
        result = TransferResult{};
        done(std::move(own));
      }});
    });
  };
  {
    const std::lock_guard<std::mutex> lock(worker.mutex);
    worker.tasks.push_back(std::move(task));
  }
  wake(worker.wake_fd);
}

}  // namespace probe
