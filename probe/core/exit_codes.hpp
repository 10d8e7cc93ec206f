#pragma once

// Exit codes follow sysexits(3) so that cron wrappers and scripts can tell outcomes apart.
// A run that finished exits 0 whatever it found: blocking is data, not an error.
namespace probe::exit_code {
inline constexpr int k_ok = 0;
inline constexpr int k_differences = 1;  // `diff` only: the reports differ
inline constexpr int k_usage = 64;       // bad flag or argument
inline constexpr int k_data_error = 65;  // bad input data (target list, report)
inline constexpr int k_no_input = 66;    // an input file does not exist or cannot be read
inline constexpr int k_software = 70;    // internal error: a bug
inline constexpr int k_cant_create = 73; // cannot create the output
inline constexpr int k_io_error = 74;    // write or fsync failed
inline constexpr int k_locked = 75;      // another run holds the lock
inline constexpr int k_config = 78;      // configuration refused
inline constexpr int k_hangup = 129;       // stopped by SIGHUP (128 + 1), report written
inline constexpr int k_interrupted = 130;  // stopped by SIGINT (128 + 2), report written
inline constexpr int k_terminated = 143;   // stopped by SIGTERM (128 + 15), report written
}  // namespace probe::exit_code
