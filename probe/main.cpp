#include <csignal>

#include "cli/app.hpp"

int main(int argc, char** argv) {
  // A file-size limit must surface as a write error (EFBIG) with a clear message, not kill us.
  std::signal(SIGXFSZ, SIG_IGN);
  return probe::run_cli(argc, argv);
}
