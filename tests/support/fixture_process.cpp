#include "support/fixture_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace probe::test {

namespace {

using Clock = std::chrono::steady_clock;

constexpr auto k_stop_timeout = std::chrono::seconds(2);
constexpr auto k_stop_poll = std::chrono::milliseconds(5);
constexpr std::size_t k_read_chunk = 4096;
constexpr int k_exit_exec_failed = 127;
constexpr int k_first_unused_fd = 3;
// Only for kernels without close_range (before 5.9); everything the tests open is far below this.
constexpr int k_fallback_fd_limit = 4096;

void close_fd(int fd) {
  if (fd >= 0) {
    ::close(fd);
  }
}

// Makes `fd` the child's descriptor `target`, keeping it across exec either way.
bool install_fd(int fd, int target) {
  if (fd == target) {
    return ::fcntl(fd, F_SETFD, 0) == 0;
  }
  return ::dup2(fd, target) == target;
}

// Runs between fork and exec, where a multi-threaded parent allows only async-signal-safe calls:
// no allocation, no locks, no stdio.
[[noreturn]] void exec_child(int stdout_fd, pid_t parent, char* const argv[]) {
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  // The parent may have died before prctl took effect, and then no signal would ever come.
  if (::getppid() != parent || !install_fd(stdout_fd, STDOUT_FILENO)) {
    ::_exit(k_exit_exec_failed);
  }
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0 || !install_fd(null_fd, STDIN_FILENO)) {
    ::_exit(k_exit_exec_failed);
  }
  // Sockets and files the test process opened without O_CLOEXEC would otherwise leak into the
  // fixture and stay open, e.g. keeping a test's peer from seeing a close.
  if (::close_range(k_first_unused_fd, ~0U, 0) != 0) {
    for (int fd = k_first_unused_fd; fd < k_fallback_fd_limit; ++fd) {
      ::close(fd);
    }
  }
  // A signal mask and ignored signals survive exec; the fixtures expect the defaults for every
  // signal they handle.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction defaults {};
  defaults.sa_handler = SIG_DFL;
  for (const int number : {SIGTERM, SIGINT, SIGUSR1, SIGPIPE}) {
    ::sigaction(number, &defaults, nullptr);
  }
  ::execv(argv[0], argv);
  ::_exit(k_exit_exec_failed);
}

// Sends `first_signal`, then SIGKILL if the child is still there after the grace time. Returns
// the wait status, or -1 when the child was already reaped elsewhere.
int stop_child(pid_t pid, int first_signal) {
  int status = 0;
  ::kill(pid, first_signal);
  const auto deadline = Clock::now() + k_stop_timeout;
  while (first_signal != SIGKILL && Clock::now() < deadline) {
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) {
      return status;
    }
    if (done < 0 && errno != EINTR) {
      return -1;
    }
    std::this_thread::sleep_for(k_stop_poll);
  }
  ::kill(pid, SIGKILL);
  for (;;) {
    const pid_t done = ::waitpid(pid, &status, 0);
    if (done == pid) {
      return status;
    }
    if (errno != EINTR) {
      return -1;
    }
  }
}

std::string read_first_line(int fd, const std::string& name, const std::string& binary, std::chrono::seconds timeout,
                            std::size_t max_line) {
  const auto deadline = Clock::now() + timeout;
  std::string text;
  for (;;) {
    const auto newline = text.find('\n');
    if (newline != std::string::npos) {
      return text.substr(0, newline);
    }
    if (text.size() > max_line) {
      throw std::runtime_error(name + " printed a first line over " + std::to_string(max_line) + " bytes");
    }
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      throw std::runtime_error(name + " printed no first line within " + std::to_string(timeout.count()) + " s");
    }
    pollfd ready{fd, POLLIN, 0};
    const int rc = ::poll(&ready, 1, static_cast<int>(left));
    if (rc < 0 && errno != EINTR) {
      throw std::runtime_error("poll on " + name + "'s stdout: " + std::strerror(errno));
    }
    if (rc <= 0) {
      continue;
    }
    std::array<char, k_read_chunk> chunk;
    const auto size = ::read(fd, chunk.data(), chunk.size());
    if (size == 0) {
      throw std::runtime_error(name + " (" + binary + ") exited before printing its first line");
    }
    if (size < 0 && errno != EINTR && errno != EAGAIN) {
      throw std::runtime_error("reading " + name + "'s stdout: " + std::strerror(errno));
    }
    if (size > 0) {
      text.append(chunk.data(), static_cast<std::size_t>(size));
    }
  }
}

}  // namespace

FixtureProcess::FixtureProcess(std::string name) : m_name(std::move(name)) {}

FixtureProcess::~FixtureProcess() {
  if (m_pid < 0) {
    return;
  }
  const int status = stop_child(m_pid, SIGTERM);
  // A crash would otherwise only show up as a puzzling failure in whichever test was running.
  const bool clean = status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (!clean) {
    std::fprintf(stderr, "warning: %s ended with wait status %d\n", m_name.c_str(), status);
  }
}

const std::string& FixtureProcess::start(const std::vector<std::string>& argv, std::chrono::seconds timeout,
                                         std::size_t max_line) {
  if (m_pid >= 0 || argv.empty()) {
    throw std::logic_error("FixtureProcess::start for " + m_name + " needs a program and is called once");
  }
  // Built before fork because the child must not allocate.
  std::vector<std::string> args = argv;
  std::vector<char*> child_argv;
  for (auto& arg : args) {
    child_argv.push_back(arg.data());
  }
  child_argv.push_back(nullptr);
  int fds[2] = {-1, -1};
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe for " + m_name + ": " + std::strerror(errno));
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int error = errno;
    close_fd(fds[0]);
    close_fd(fds[1]);
    throw std::runtime_error("fork for " + m_name + ": " + std::strerror(error));
  }
  if (pid == 0) {
    exec_child(fds[1], parent, child_argv.data());
  }
  close_fd(fds[1]);
  try {
    m_first_line = read_first_line(fds[0], m_name, argv[0], timeout, max_line);
  } catch (...) {
    close_fd(fds[0]);
    stop_child(pid, SIGKILL);
    throw;
  }
  // The fixtures write nothing after the line, so the pipe has nothing more to give.
  close_fd(fds[0]);
  m_pid = pid;
  return m_first_line;
}

void FixtureProcess::kill() {
  if (m_pid >= 0) {
    stop_child(m_pid, SIGKILL);
    m_pid = -1;
  }
}

}  // namespace probe::test
