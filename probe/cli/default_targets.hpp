#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace probe {

// A folder where target lists may be, and why it is looked at.
struct TargetsFolder {
  std::filesystem::path path;
  std::string why;
};

// The folders looked at, in order, for target lists when a command is given no --targets and no
// --url; the first that exists is used:
//   1. ./targets: the working directory's (a checkout, or a folder of the volunteer's own lists);
//   2. <prefix>/share/probe/targets, <prefix> being the installed binary's (<prefix>/bin/probe):
//      the lists `cmake --install` put beside it, wherever the prefix was chosen or moved;
//   3. <folder above the binary>/targets: a build folder inside a checkout (build/probe);
//   4. the configured install prefix's data folder (CMAKE_INSTALL_FULL_DATADIR/probe/targets).
// `exe` is the binary's own path (empty when unknown: 2 and 3 are skipped). `bindir`, `datadir`
// and `full_datadir` are the GNUInstallDirs values; a relative bindir tells how many folders up
// from the binary the prefix is.
std::vector<TargetsFolder> default_targets_folders(const std::filesystem::path& exe, const std::string& bindir,
                                                   const std::string& datadir, const std::string& full_datadir);

}  // namespace probe
