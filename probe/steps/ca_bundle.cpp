#include "steps/ca_bundle.hpp"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "core/exit_codes.hpp"
#include "core/atomic_file.hpp"
#include "core/input_file.hpp"

namespace probe {

namespace fs = std::filesystem;

namespace {

std::string read_all(const fs::path& path) { return read_input_file(path, 16 * k_mib, "CA certificate"); }

// How many certificates a PEM text holds (0 when it is not PEM at all).
std::size_t count_certificates(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())),
                                                &BIO_free);
  std::size_t count = 0;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    X509_free(cert);
    ++count;
  }
  return count;
}

}  // namespace

CaBundle::CaBundle(const fs::path& mozilla_dir, const std::vector<std::string>& extra_files) {
  std::string bundle;
  std::vector<fs::path> roots;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(mozilla_dir, ec)) {
    if (entry.path().extension() == ".crt") {
      roots.push_back(entry.path());
    }
  }
  std::sort(roots.begin(), roots.end());
  if (roots.empty()) {
    spdlog::warn("{}: no Mozilla roots found (install ca-certificates); trusting only the app CAs", mozilla_dir.string());
  }
  for (const auto& root : roots) {
    bundle += read_all(root);
    bundle += "\n";
  }
  m_certificates = count_certificates(bundle);
  for (const std::string& file : extra_files) {
    const std::string pem = read_all(file);
    const std::size_t count = count_certificates(pem);
    if (count == 0) {
      throw UserError(exit_code::k_data_error, file + ": holds no PEM certificate");
    }
    m_certificates += count;
    bundle += pem;
    bundle += "\n";
  }
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/probe-ca-XXXXXX";
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  const int fd = ::mkstemp(name.data());
  if (fd < 0) {
    throw UserError(exit_code::k_cant_create, pattern + ": cannot create the CA bundle: " + std::strerror(errno));
  }
  ::close(fd);
  m_path = name.data();
  try {
    write_file_atomically(m_path, bundle, 0600);
  } catch (...) {
    ::unlink(m_path.c_str());
    throw;
  }
}

void check_ca_file(const std::string& file) {
  if (count_certificates(read_all(file)) == 0) {
    throw UserError(exit_code::k_data_error, file + ": holds no PEM certificate");
  }
}

CaBundle::~CaBundle() {
  if (!m_path.empty()) {
    ::unlink(m_path.c_str());
  }
}

}  // namespace probe
