#include "support/mock_dns.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace probe::test {

namespace {

using Clock = std::chrono::steady_clock;

constexpr auto k_start_timeout = std::chrono::seconds(5);
constexpr auto k_stop_timeout = std::chrono::seconds(2);
constexpr auto k_stop_poll = std::chrono::milliseconds(5);
constexpr std::size_t k_max_port_line = 64;
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
[[noreturn]] void exec_server(int stdout_fd, pid_t parent, char* const argv[]) {
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != parent) {
    ::_exit(k_exit_exec_failed);
  }
  if (!install_fd(stdout_fd, STDOUT_FILENO)) {
    ::_exit(k_exit_exec_failed);
  }
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0 || !install_fd(null_fd, STDIN_FILENO)) {
    ::_exit(k_exit_exec_failed);
  }
  // The pipe is O_CLOEXEC, but whatever else the test process opened without it would leak.
  if (::close_range(k_first_unused_fd, ~0U, 0) != 0) {
    for (int fd = k_first_unused_fd; fd < k_fallback_fd_limit; ++fd) {
      ::close(fd);
    }
  }
  // A signal mask and ignored signals survive exec; the server should start from the defaults.
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

// Waits for the child, sending SIGKILL if `first_signal` has not ended it within the grace time.
// Returns the wait status, or -1 when the child was already reaped elsewhere.
int stop_server(pid_t pid, int first_signal) {
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

std::uint16_t parse_port(const std::string& line) {
  unsigned value = 0;
  const char* end = line.data() + line.size();
  const auto [stop, error] = std::from_chars(line.data(), end, value);
  if (error != std::errc{} || stop != end || value == 0 || value > 65535) {
    throw std::runtime_error("mock_dns printed \"" + line + "\" instead of a port");
  }
  return static_cast<std::uint16_t>(value);
}

std::uint16_t read_port(int fd) {
  const auto deadline = Clock::now() + k_start_timeout;
  std::string text;
  for (;;) {
    const auto newline = text.find('\n');
    if (newline != std::string::npos) {
      return parse_port(text.substr(0, newline));
    }
    if (text.size() > k_max_port_line) {
      throw std::runtime_error("mock_dns printed a line too long to be a port");
    }
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      throw std::runtime_error("mock_dns printed no port within 5 s");
    }
    pollfd ready{fd, POLLIN, 0};
    const int rc = ::poll(&ready, 1, static_cast<int>(left));
    if (rc < 0 && errno != EINTR) {
      throw std::runtime_error(std::string("poll on mock_dns's stdout: ") + std::strerror(errno));
    }
    if (rc <= 0) {
      continue;
    }
    char chunk[k_max_port_line];
    const auto size = ::read(fd, chunk, sizeof chunk);
    if (size == 0) {
      throw std::runtime_error("mock_dns (" MOCK_DNS_BINARY ") exited before printing its port");
    }
    if (size < 0 && errno != EINTR && errno != EAGAIN) {
      throw std::runtime_error(std::string("reading mock_dns's stdout: ") + std::strerror(errno));
    }
    if (size > 0) {
      text.append(chunk, static_cast<std::size_t>(size));
    }
  }
}

}  // namespace

MockDns::MockDns(std::string ip, std::uint16_t port) : m_ip(std::move(ip)) {
  int fds[2] = {-1, -1};
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("pipe for mock_dns: ") + std::strerror(errno));
  }
  // Built before fork because the child must not allocate.
  char binary[] = MOCK_DNS_BINARY;
  std::string address_flag = "--address";
  std::string port_flag = "--port";
  std::string port_text = std::to_string(port);
  char* const argv[] = {binary, address_flag.data(), m_ip.data(), port_flag.data(), port_text.data(), nullptr};
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int error = errno;
    close_fd(fds[0]);
    close_fd(fds[1]);
    throw std::runtime_error(std::string("fork for mock_dns: ") + std::strerror(error));
  }
  if (pid == 0) {
    exec_server(fds[1], parent, argv);
  }
  close_fd(fds[1]);
  // The destructor does not run when the constructor throws, so the child is stopped here.
  try {
    m_port = read_port(fds[0]);
  } catch (...) {
    close_fd(fds[0]);
    stop_server(pid, SIGKILL);
    throw;
  }
  // Only the port line is ever written, so the pipe has nothing more to give.
  close_fd(fds[0]);
  m_pid = pid;
}

MockDns::~MockDns() {
  const int status = stop_server(m_pid, SIGTERM);
  // A crash would otherwise only show up as a puzzling timeout in whichever test was running.
  const bool clean = status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (!clean) {
    std::fprintf(stderr, "warning: mock_dns on port %u ended with wait status %d\n", static_cast<unsigned>(m_port),
                 status);
  }
}

std::string MockDns::address() const { return m_ip + ":" + std::to_string(m_port); }

}  // namespace probe::test
