#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace probe {

// The one CA file a run trusts: the Mozilla roots as Debian ships them (not /etc/ssl/certs, which
// also holds roots added locally, e.g. by a middlebox vendor), the app CAs named by the target
// lists (Signal's) and any --ca-file. Written once per run to a private temporary file, so curl
// parses the store once and caches it; removed when the bundle goes away.
class CaBundle {
public:
  // Throws UserError 65 naming a file that holds no PEM certificate, 66 for one that cannot be
  // read, 73 when the temporary file cannot be written.
  CaBundle(const std::filesystem::path& mozilla_dir, const std::vector<std::string>& extra_files);
  ~CaBundle();
  CaBundle(const CaBundle&) = delete;
  CaBundle& operator=(const CaBundle&) = delete;

  const std::string& path() const { return m_path; }
  std::size_t certificates() const { return m_certificates; }

private:
  std::string m_path;
  std::size_t m_certificates = 0;
};

// The checks CaBundle makes of an extra CA file, alone: a run makes them before anything is written
// (a bad --ca-file or list CA leaves no crash log behind), and `probe targets validate` makes them
// of each list's ca_files. Throws UserError 66 (cannot read), 65 (not a regular file, too large,
// no PEM certificate in it).
void check_ca_file(const std::string& file);

inline constexpr const char* k_mozilla_roots = "/usr/share/ca-certificates/mozilla";

}  // namespace probe
