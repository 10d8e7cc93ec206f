// Fuzzes `probe recover`'s reading of a killed run's log (store/partial_log): every input either
// gives a report or is refused with exit 65 naming the log; a report it gives reads back whole as
// any report does (store/report_reader), so recover never writes one the analyst commands refuse.

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/exit_codes.hpp"
#include "fuzz_checks.hpp"
#include "store/partial_log.hpp"
#include "store/report_reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string k_file = "reports/r.jsonl";
  nlohmann::json report;
  try {
    report = probe::recover_report_text(std::string(probe::fuzz::as_text(data, size)), k_file);
  } catch (const probe::UserError& error) {
    const std::string message = error.what();
    if (error.exit_code() != probe::exit_code::k_data_error || !message.starts_with(k_file)) {
      probe::fuzz::fail("a log refused without exit 65 naming the file", message);
    }
    return 0;
  }
  try {
    probe::loaded_report(report, "reports/r.json");
  } catch (const probe::UserError& error) {
    probe::fuzz::fail("recover gave a report that does not read back", error.what());
  }
  return 0;
}
