#include "support/run_command.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "support/temp_dir.hpp"

extern char** environ;

namespace probe::test {

namespace {

constexpr auto k_sample_interval = std::chrono::milliseconds(20);

// Starts `args` (looked up in PATH) with the file actions set up in `actions`, which it destroys.
pid_t spawn(const std::vector<std::string>& args, posix_spawn_file_actions_t& actions) {
  std::vector<char*> argv;
  for (const auto& arg : args) {
    argv.push_back(const_cast<char*>(arg.c_str()));
  }
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    throw std::runtime_error("cannot start " + args[0]);
  }
  return pid;
}

int exit_code_of(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

std::string name_of(pid_t pid) {
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(comm, name);
  return name;
}

}  // namespace

CommandResult run_command(const std::vector<std::string>& args) {
  TempDir dir;
  const std::string out_path = (dir.path() / "stdout").string();
  const std::string err_path = (dir.path() / "stderr").string();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  const pid_t pid = spawn(args, actions);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
  }
  CommandResult result;
  result.exit_code = exit_code_of(status);
  result.out = read_file(out_path);
  result.err = read_file(err_path);
  return result;
}

CommandResult run_probe(const std::vector<std::string>& args) {
  std::vector<std::string> full = {PROBE_BINARY};
  full.insert(full.end(), args.begin(), args.end());
  return run_command(full);
}

MeasuredRun run_measured(const std::vector<std::string>& args, unsigned limit_seconds) {
  TempDir dir;
  const std::string peak_file = (dir.path() / "peak").string();
  std::vector<std::string> wrapped = {PEAK_RSS_BINARY, peak_file, std::to_string(limit_seconds)};
  wrapped.insert(wrapped.end(), args.begin(), args.end());
  const auto start = std::chrono::steady_clock::now();
  MeasuredRun run;
  run.result = run_command(wrapped);
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::ifstream in(peak_file);
  in >> run.peak_kib;
  return run;
}

SampledRun run_sampling_threads(const std::vector<std::string>& args, std::string_view process_name) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = spawn(args, actions);
  SampledRun run;
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (process_name.empty() || name_of(pid) == process_name) {
      const std::size_t now = count_entries("/proc/" + std::to_string(pid) + "/task");
      if (run.first_threads == 0) {
        run.first_threads = now;
      }
      run.max_threads = std::max(run.max_threads, now);
    }
    std::this_thread::sleep_for(k_sample_interval);
  }
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  run.exited = WIFEXITED(status);
  run.exit_code = exit_code_of(status);
  return run;
}

}  // namespace probe::test
