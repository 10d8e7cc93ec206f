#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "model/observations.hpp"
#include "targets/target_list.hpp"

// The report: a run's observations (model/observations.hpp) with what the run was, and the
// writer that turns it into the JSON contract documented in reports/README.md and checked by
// reports/schema.json. Strings that come from the network may hold any bytes; the writer replaces
// invalid UTF-8 instead of failing.
namespace probe {

class Scrubber;  // report/scrub.hpp

// The largest report serialize() writes. What peers send is capped per observation (DNS records,
// headers, certificates), but the observations multiply: every address any path's DNS gave is
// measured over every path. A hostile resolver and hostile servers can make one target's result
// tens of MiB, while a result of well-behaved peers is a few KiB and a long list of them a few
// MiB. 64 MiB leaves room for thousands of targets and still opens in a text editor or jq.
// Over it, the largest results lose their bulkiest details first (see serialize()).
inline constexpr std::size_t k_max_report_bytes = std::size_t{64} * 1024 * 1024;

// The most base64 a report's `certificates` holds: 8 MiB, some 4,000 certificates of a usual 1.5
// KiB of DER. Each distinct certificate is stored once, so this is reached only by thousands of
// different servers or by hostile ones (a chain keeps at most `chain_cap` certificates, each
// within the 100 KiB OpenSSL allows a chain); the rest stay listed in their chains by SHA-256.
inline constexpr std::size_t k_max_certificates_bytes = std::size_t{8} * 1024 * 1024;

// A report's `certificates` (reports/README.md): each distinct certificate of the results' chains
// once, its DER in base64 by its SHA-256. Certificates are offered in the order the results show
// them; one is kept when its base64 fits in what is left of `budget` (and, when `text_room` is
// given, the entries' text in what is left of it), else it is left out and truncated() is true.
// The default value is empty, with the budget of a report.
class CertificateSet {
public:
  explicit CertificateSet(std::size_t budget = k_max_certificates_bytes,
                          std::size_t text_room = std::numeric_limits<std::size_t>::max())
      : m_budget(budget), m_text_room(text_room) {}

  void add(const std::string& sha256, const std::string& der_base64);
  // Every certificate of the result's chains whose bytes were kept (der_base64 not empty).
  void add(const TargetResult& result);

  // sha256 -> base64 DER.
  const nlohmann::json& entries() const { return m_entries; }
  bool truncated() const { return m_truncated; }

private:
  nlohmann::json m_entries = nlohmann::json::object();
  std::size_t m_budget;
  std::size_t m_text_room;
  std::size_t m_bytes = 0;  // base64 kept
  std::size_t m_text = 0;   // what the entries add to the report's text, beside an empty object
  bool m_truncated = false;
};

struct Report {
  std::string run_id;  // 32 lowercase hex characters
  SystemTime started_at;
  SystemTime finished_at;
  bool interrupted = false;
  Vantage vantage;
  std::vector<PathInfo> paths;
  nlohmann::json options = nlohmann::json::object();
  std::vector<TargetList> target_lists;
  std::vector<TargetResult> results;
  // Applied to the JSON before it is written anywhere (report, partial log, --json): see
  // report/scrub.hpp. Null in tests that build reports by hand.
  std::shared_ptr<const Scrubber> scrubber;
};

// A fresh random run id (32 hex characters from the kernel's random source).
std::string new_run_id();

nlohmann::json to_json(const Report& report);

// One entry of the report's `results`, as to_json writes it.
nlohmann::json target_result_json(const TargetResult& result);
// The same with another verdict than the result's own (no copy of the observations).
nlohmann::json target_result_json(const TargetResult& result, const Verdict& verdict);

// The report's `apps` summary, from its `results` entries.
nlohmann::json apps_of_results(const nlohmann::json& results);

// The report as text: sorted keys, two-space indent, invalid UTF-8 replaced by U+FFFD. When the
// text would exceed `max_bytes`, details are removed from the largest results, one kind at a time
// and only as far as needed, in this order: the raw DNS replies (`raw_base64`), the HTTP
// headers, the certificate chains, the endpoints, the DNS answers. Each result lists in `cut`
// what it lost; results and verdicts are never removed, so a target list too long for the limit
// even in that bare form still gives a bigger report. Certificates never cost a result its
// details nor push the report over `max_bytes`: results are cut as if none were kept, and the
// certificates still listed then take the room left, the first ones first (`certificates_truncated`
// when some did not fit).
std::string serialize(const Report& report, std::size_t max_bytes = k_max_report_bytes);

// The least the results of `targets` measured over `paths` take in a report: each result bare (no
// observation on any path, a verdict without detail). Results and verdicts are never cut, so a
// list above k_max_report_bytes by this measure cannot be reported within the limit: a run refuses
// it before measuring. A lower bound (real results hold at least their DNS queries).
std::size_t minimum_results_bytes(const std::vector<Target>& targets, const std::vector<PathInfo>& paths);

// "<UTC yyyymmddThhmmssZ>_<run_id>.json", so names sort by start time.
std::string report_file_name(const Report& report);

// Writes the report atomically (mode 0600) into `folder`, creating it when missing; returns the
// path written. Throws UserError 73/74 (see write_file_atomically).
std::filesystem::path write_report(const Report& report, const std::filesystem::path& folder);

}  // namespace probe
