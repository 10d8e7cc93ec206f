#include "store/output_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "core/error.hpp"
#include "core/exit_codes.hpp"

namespace probe {

OutputLock::OutputLock(const std::filesystem::path& folder) {
  const std::filesystem::path path = folder / ".probe.lock";
  m_fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (m_fd < 0) {
    throw UserError(exit_code::k_cant_create, path.string() + ": cannot create the lock file: " + std::strerror(errno));
  }
  if (::flock(m_fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    char holder[32] = {};
    const ssize_t n = ::pread(m_fd, holder, sizeof(holder) - 1, 0);
    std::string pid = n > 0 ? std::string(holder, static_cast<std::size_t>(n)) : std::string();
    pid.erase(pid.find_last_not_of(" \n") + 1);
    ::close(m_fd);
    m_fd = -1;
    if (error == EWOULDBLOCK) {
      throw UserError(exit_code::k_locked, "another probe run is writing to " + folder.string() +
                                               (pid.empty() ? "" : " (pid " + pid + ")") +
                                               "; this run stops without measuring");
    }
    throw UserError(exit_code::k_cant_create, path.string() + ": cannot lock: " + std::strerror(error));
  }
  // The holder's pid, for the message another run prints (informative only: the lock is flock's).
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(m_fd, 0) == 0) {
    [[maybe_unused]] const ssize_t written = ::pwrite(m_fd, pid.data(), pid.size(), 0);
  }
}

OutputLock::~OutputLock() {
  if (m_fd >= 0) {
    ::close(m_fd);  // releases the lock
  }
}

}  // namespace probe
