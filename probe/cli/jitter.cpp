#include "cli/jitter.hpp"

#include <time.h>

#include <random>

#include <spdlog/spdlog.h>

#include "cli/duration_option.hpp"

namespace probe {

void add_jitter_option(CLI::App& command, std::string& jitter) {
  command.add_option("--jitter", jitter,
                     "Wait a random time up to this before measuring, e.g. 30m (for runs started by cron)")
      ->type_name("DURATION")
      ->check(duration_validator())
      ->capture_default_str();
}

bool wait_jitter(const std::string& jitter) {
  const auto span = parse_duration(jitter, nullptr);  // the option's validator has checked it
  if (!span || span->count() == 0) {
    return true;
  }
  std::random_device source;
  std::uniform_int_distribution<long long> pick(0, span->count() * 1000 - 1);
  const long long delay_ms = pick(source);
  spdlog::info("--jitter {}: waiting {:.3f} s before measuring", jitter, static_cast<double>(delay_ms) / 1000.0);
  timespec delay{};
  delay.tv_sec = static_cast<time_t>(delay_ms / 1000);
  delay.tv_nsec = static_cast<long>(delay_ms % 1000) * 1000000L;
  if (nanosleep(&delay, nullptr) != 0) {
    spdlog::info("--jitter: the wait was cut short by a signal");
    return false;
  }
  return true;
}

}  // namespace probe
