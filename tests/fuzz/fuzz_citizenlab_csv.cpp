// Fuzzes the Citizen Lab test-list reader (RFC 4180 quoting, the six-column header, one http or
// https target per row).

#include <cstddef>
#include <cstdint>

#include "fuzz_checks.hpp"
#include "targets/citizenlab_csv.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string k_file = "lists/global.csv";
  try {
    const probe::TargetList list = probe::parse_citizenlab_csv(probe::fuzz::as_text(data, size), k_file);
    if (list.targets.empty()) {
      probe::fuzz::fail("list accepted without targets", list.file);
    }
    for (const probe::Target& target : list.targets) {
      if (target.app != "global" || (target.kind != probe::Kind::http && target.kind != probe::Kind::https)) {
        probe::fuzz::fail("CSV target of another app or kind", target.key());
      }
    }
    probe::fuzz::check_list(list);
  } catch (const probe::UserError& error) {
    probe::fuzz::check_data_error(error, k_file);
  }
  return 0;
}
