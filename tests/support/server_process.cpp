#include "support/server_process.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace probe::test {

namespace {

using Clock = std::chrono::steady_clock;

constexpr auto k_stop_timeout = std::chrono::seconds(2);
constexpr auto k_poll_interval = std::chrono::milliseconds(20);
constexpr int k_exit_exec_failed = 127;
constexpr int k_first_unused_fd = 3;
constexpr int k_fallback_fd_limit = 4096;
constexpr std::size_t k_log_tail = 2000;

// Runs between fork and exec, where a multi-threaded parent allows only async-signal-safe calls.
[[noreturn]] void exec_child(const char* log, pid_t parent, char* const argv[]) {
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != parent) {
    ::_exit(k_exit_exec_failed);
  }
  const int null_fd = ::open("/dev/null", O_RDONLY);
  const int log_fd = ::open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (null_fd < 0 || log_fd < 0 || ::dup2(null_fd, STDIN_FILENO) < 0 || ::dup2(log_fd, STDOUT_FILENO) < 0 ||
      ::dup2(log_fd, STDERR_FILENO) < 0) {
    ::_exit(k_exit_exec_failed);
  }
  // The test's own sockets must not stay open in the server.
  if (::close_range(k_first_unused_fd, ~0U, 0) != 0) {
    for (int fd = k_first_unused_fd; fd < k_fallback_fd_limit; ++fd) {
      ::close(fd);
    }
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction defaults {};
  defaults.sa_handler = SIG_DFL;
  for (const int number : {SIGTERM, SIGINT, SIGPIPE}) {
    ::sigaction(number, &defaults, nullptr);
  }
  ::execv(argv[0], argv);
  ::_exit(k_exit_exec_failed);
}

bool accepts_connections(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return false;
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool connected = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return connected;
}

std::string log_tail(const std::filesystem::path& log) {
  std::ifstream in(log, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  const std::string all = text.str();
  return all.size() > k_log_tail ? all.substr(all.size() - k_log_tail) : all;
}

}  // namespace

ServerProcess::ServerProcess(std::string name, const std::vector<std::string>& argv, std::uint16_t port,
                             const std::filesystem::path& log, std::chrono::seconds timeout)
    : m_name(std::move(name)) {
  if (argv.empty()) {
    throw std::logic_error("ServerProcess for " + m_name + " needs a program");
  }
  // Built before fork because the child must not allocate.
  std::vector<std::string> args = argv;
  std::vector<char*> child_argv;
  for (auto& arg : args) {
    child_argv.push_back(arg.data());
  }
  child_argv.push_back(nullptr);
  const std::string log_path = log.string();
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    throw std::runtime_error("fork for " + m_name + ": " + std::strerror(errno));
  }
  if (pid == 0) {
    exec_child(log_path.c_str(), parent, child_argv.data());
  }
  m_pid = pid;
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    if (::waitpid(m_pid, &status, WNOHANG) == m_pid) {
      m_pid = -1;
      throw std::runtime_error(m_name + " exited (wait status " + std::to_string(status) +
                               ") before listening on port " + std::to_string(port) + ": " + log_tail(log));
    }
    if (accepts_connections(port)) {
      return;
    }
    if (Clock::now() >= deadline) {
      stop();
      throw std::runtime_error(m_name + " did not listen on port " + std::to_string(port) + " within " +
                               std::to_string(timeout.count()) + " s: " + log_tail(log));
    }
    std::this_thread::sleep_for(k_poll_interval);
  }
}

ServerProcess::~ServerProcess() { stop(); }

void ServerProcess::stop() {
  if (m_pid < 0) {
    return;
  }
  ::kill(m_pid, SIGTERM);
  const auto deadline = Clock::now() + k_stop_timeout;
  int status = 0;
  while (Clock::now() < deadline) {
    if (::waitpid(m_pid, &status, WNOHANG) != 0) {
      m_pid = -1;
      return;
    }
    std::this_thread::sleep_for(k_poll_interval);
  }
  ::kill(m_pid, SIGKILL);
  while (::waitpid(m_pid, &status, 0) < 0 && errno == EINTR) {
  }
  m_pid = -1;
}

}  // namespace probe::test
