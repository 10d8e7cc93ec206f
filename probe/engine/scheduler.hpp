#pragma once

#include <algorithm>
#include <cstddef>
#include <deque>
#include <functional>
#include <string>
#include <unordered_map>
#include <utility>

namespace probe {

// Starts queued operations while fewer than `limit` are in flight, and fewer than `per_key` share
// a key (a destination address: many targets share a CDN's addresses, and a burst of connections
// to one of them looks like an attack and gets throttled). Each operation calls the `done` it is
// given exactly once. Every step is O(1): an operation waits either in the ready queue or in its
// key's queue.
class Scheduler {
public:
  using Operation = std::function<void(std::function<void()> done)>;

  Scheduler(std::size_t limit, std::size_t per_key)
      : m_limit(std::max<std::size_t>(limit, 1)), m_per_key(std::max<std::size_t>(per_key, 1)) {}

  // An empty key is never capped (DNS queries: each resolver is its own channel).
  void add(const std::string& key, Operation operation) {
    if (!key.empty() && m_admitted[key] >= m_per_key) {
      m_waiting[key].push_back(std::move(operation));
      return;
    }
    if (!key.empty()) {
      ++m_admitted[key];
    }
    m_ready.push_back({key, std::move(operation)});
  }

  // A new cap on operations in flight (those already started run on).
  void set_limit(std::size_t limit) { m_limit = std::max<std::size_t>(limit, 1); }

  void pump() {
    if (m_pumping) {
      return;  // an operation finished inside this loop: the loop below goes on with the queue
    }
    m_pumping = true;
    while (m_in_flight < m_limit && !m_ready.empty()) {
      auto [key, operation] = std::move(m_ready.front());
      m_ready.pop_front();
      ++m_in_flight;
      operation([this, key = key]() {
        --m_in_flight;
        release(key);
        pump();
      });
    }
    m_pumping = false;
  }

private:
  void release(const std::string& key) {
    if (key.empty()) {
      return;
    }
    auto waiting = m_waiting.find(key);
    if (waiting != m_waiting.end() && !waiting->second.empty()) {
      m_ready.push_back({key, std::move(waiting->second.front())});  // its slot passes on
      waiting->second.pop_front();
      if (waiting->second.empty()) {
        m_waiting.erase(waiting);
      }
      return;
    }
    if (--m_admitted[key] == 0) {
      m_admitted.erase(key);
    }
  }

  std::size_t m_limit;
  std::size_t m_per_key;
  std::size_t m_in_flight = 0;
  bool m_pumping = false;
  std::deque<std::pair<std::string, Operation>> m_ready;
  std::unordered_map<std::string, std::size_t> m_admitted;  // in flight or ready, per key
  std::unordered_map<std::string, std::deque<Operation>> m_waiting;
};

}  // namespace probe
