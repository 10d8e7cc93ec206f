#include "cli/default_targets.hpp"

#include <spdlog/spdlog.h>

#include "cli/commands.hpp"
#include "core/error.hpp"
#include "core/exit_codes.hpp"
#include "core/install_dirs.hpp"

namespace probe {

namespace fs = std::filesystem;

std::vector<TargetsFolder> default_targets_folders(const fs::path& exe, const std::string& bindir,
                                                   const std::string& datadir, const std::string& full_datadir) {
  std::vector<TargetsFolder> folders;
  folders.push_back({"targets", "the working directory's"});
  if (!exe.empty()) {
    const fs::path bin(bindir);
    if (bin.is_relative() && fs::path(datadir).is_relative()) {
      fs::path prefix = exe.parent_path();
      for (auto part = bin.begin(); part != bin.end(); ++part) {
        if (!part->empty() && *part != ".") {
          prefix = prefix.parent_path();
        }
      }
      folders.push_back({prefix / datadir / "probe" / "targets", "installed beside the binary"});
    }
    folders.push_back({exe.parent_path().parent_path() / "targets", "the checkout's"});
  }
  folders.push_back({fs::path(full_datadir) / "probe" / "targets", "the installed lists"});
  return folders;
}

std::string default_targets_path() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  const auto folders = default_targets_folders(ec ? fs::path() : exe, k_install_bindir, k_install_datadir,
                                               k_install_full_datadir);
  std::string looked;
  for (const TargetsFolder& folder : folders) {
    if (fs::is_directory(folder.path, ec)) {
      spdlog::info("no --targets: reading {} ({})", folder.path.string(), folder.why);
      return folder.path.string();
    }
    looked += (looked.empty() ? "" : ", ") + folder.path.string();
  }
  throw UserError(exit_code::k_no_input, "no target lists: none of " + looked + " is a folder; give --targets");
}

}  // namespace probe
