#include <catch2/catch.hpp>

#include <sys/stat.h>

#include "core/error.hpp"
#include "steps/ca_bundle.hpp"
#include "support/temp_dir.hpp"

using namespace probe;
using probe::test::read_file;
using probe::test::TempDir;

TEST_CASE("the CA bundle holds the Mozilla roots, the app CAs and --ca-file, privately", "[ca]") {
  const std::string signal_ca = std::string(PROBE_SOURCE_DIR) + "/targets/ca/signal-messenger-ca.pem";
  std::string path;
  {
    const CaBundle bundle(k_mozilla_roots, {signal_ca});
    path = bundle.path();
    CHECK(bundle.certificates() > 100);
    const std::string text = read_file(path);
    CHECK(text.find(read_file(signal_ca)) != std::string::npos);
    struct stat info {};
    REQUIRE(stat(path.c_str(), &info) == 0);
    CHECK((info.st_mode & 0777) == 0600);
  }
  CHECK_FALSE(std::filesystem::exists(path));  // removed with the run
}

TEST_CASE("a --ca-file that holds no certificate is bad input", "[ca]") {
  TempDir dir;
  const auto junk = dir.write("junk.pem", "not a certificate");
  try {
    CaBundle bundle(dir.path(), {junk.string()});
    FAIL("no error");
  } catch (const UserError& error) {
    CHECK(error.exit_code() == 65);
    CHECK(std::string(error.what()) == junk.string() + ": holds no PEM certificate");
  }
  try {
    CaBundle bundle(dir.path(), {(dir.path() / "missing.pem").string()});
    FAIL("no error");
  } catch (const UserError& error) {
    CHECK(error.exit_code() == 66);
  }
}
