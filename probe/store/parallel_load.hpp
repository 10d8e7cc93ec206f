#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <optional>
#include <thread>
#include <vector>

// Reading thousands of reports is parsing-bound: parse them on every core, and hand the results
// to one consumer in the files' order (so that errors, and what a database sees, are the same as
// in a sequential read). `load` runs on worker threads and must not touch shared state; `consume`
// runs on the calling thread. The first exception (in file order) is rethrown there.
namespace probe {

template <typename Item, typename Result, typename Load, typename Consume>
void load_in_order(const std::vector<Item>& items, Load load, Consume consume) {
  const std::size_t workers = std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, 8);
  const std::size_t batch = workers * 16;
  for (std::size_t begin = 0; begin < items.size(); begin += batch) {
    const std::size_t end = std::min(items.size(), begin + batch);
    std::vector<std::optional<Result>> results(end - begin);
    std::vector<std::exception_ptr> errors(end - begin);
    std::atomic<std::size_t> next{begin};
    auto work = [&]() {
      for (std::size_t k = next++; k < end; k = next++) {
        try {
          results[k - begin].emplace(load(items[k]));
        } catch (...) {
          errors[k - begin] = std::current_exception();
        }
      }
    };
    std::vector<std::thread> threads;
    for (std::size_t t = 1; t < workers && t < end - begin; ++t) {
      threads.emplace_back(work);
    }
    work();
    for (std::thread& thread : threads) {
      thread.join();
    }
    for (std::size_t k = 0; k < end - begin; ++k) {
      if (errors[k]) {
        std::rethrow_exception(errors[k]);
      }
      consume(std::move(*results[k]));
    }
  }
}

}  // namespace probe
