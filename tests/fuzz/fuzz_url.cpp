// Fuzzes target URLs (url) and host validation (host) the way --url reaches them: through
// load_targets, which touches no file when it is given URLs only.

#include <cstddef>
#include <cstdint>

#include "fuzz_checks.hpp"
#include "targets/loader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(probe::fuzz::as_text(data, size));

  // The host check alone: an IP literal is always a valid host, and a valid host holds nothing
  // but name characters.
  const auto host_problem = probe::host_problem(text);
  if (probe::is_ip_literal(text) && host_problem) {
    probe::fuzz::fail("IP literal refused as a host", text);
  }
  if (!host_problem && !probe::fuzz::host_characters_ok(text)) {
    probe::fuzz::fail("host accepted with characters no host has", text);
  }

  std::string problem;
  const auto parsed = probe::parse_target_url(text, &problem);
  if (!parsed && problem.empty()) {
    probe::fuzz::fail("URL refused without a reason", text);
  }
  // An IPv6 host only ever comes from brackets: without them its last group could be a port.
  if (parsed && parsed->host.find(':') != std::string::npos && text.find("://[") == std::string::npos) {
    probe::fuzz::fail("IPv6 host read from a URL without brackets", text);
  }
  probe::TargetSelection selection;
  selection.urls = {text};
  try {
    const probe::LoadedTargets loaded = probe::load_targets(selection);
    if (!parsed || loaded.targets.size() != 1) {
      probe::fuzz::fail("--url accepted what the URL parser refused", text);
    }
    probe::fuzz::check_target(loaded.targets.front());
  } catch (const probe::UserError& error) {
    if (parsed || error.exit_code() != 64) {
      probe::fuzz::fail("--url refused a URL the parser accepted, or not as a usage error", error.what());
    }
  }
  return 0;
}
