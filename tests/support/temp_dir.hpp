#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

namespace probe::test {

// A fresh folder under $TMPDIR, removed with everything in it when the owner goes away.
class TempDir {
public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return m_path; }
  // Writes `content` to `name` inside the folder and returns the file's path.
  std::filesystem::path write(const std::string& name, std::string_view content) const;

private:
  std::filesystem::path m_path;
};

std::string read_file(const std::filesystem::path& path);
// How many entries `folder` has; 0 when it cannot be read (e.g. /proc/PID/task of a process gone).
std::size_t count_entries(const std::filesystem::path& folder);

}  // namespace probe::test
