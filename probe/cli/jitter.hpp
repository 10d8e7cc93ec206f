#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace probe {

// --jitter DURATION: a run started by cron on the hour first waits a random time, so volunteers'
// probes do not all reach the targets (and their own network) at the same second.
void add_jitter_option(CLI::App& command, std::string& jitter);

// Sleeps a uniformly random time in [0, jitter), logged at info level; returns at once for "0".
// The sleep is one nanosleep(2): with the default dispositions SIGINT and SIGTERM end the process
// during it (nothing has been measured, so there is nothing to write); when a handler is installed,
// the signal cuts the sleep short and the run starts at once, where the handler's stop request is
// seen. Returns false when the sleep was cut short.
bool wait_jitter(const std::string& jitter);

}  // namespace probe
