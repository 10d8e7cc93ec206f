#pragma once

#include <filesystem>

// One run at a time per output folder: an exclusive flock(2) on "<folder>/.probe.lock", held for
// the whole run. The kernel drops it when the process dies however it dies, so a killed run never
// leaves a stale lock behind; the file itself stays (empty but for the holder's pid).
namespace probe {

class OutputLock {
public:
  // Takes the lock or throws UserError 75 (another run holds it; the message names its pid) or
  // 73 (the lock file cannot be created).
  explicit OutputLock(const std::filesystem::path& folder);
  ~OutputLock();
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;

private:
  int m_fd = -1;
};

}  // namespace probe
