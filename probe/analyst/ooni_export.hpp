#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/report_reader.hpp"

// `probe export`: a report as OONI measurements (one per target, base data format df-000 with
// test_keys in the shapes of df-002 DNS, df-005 TCP connect, df-006 TLS handshake and df-001
// HTTP, failures already in df-007's words), or as CSV rows, one per target and path. The test
// is our own ("probe_reachability"): it is not OONI's web_connectivity and does not claim to be.
namespace probe {

inline constexpr const char* k_ooni_test_name = "probe_reachability";
inline constexpr const char* k_ooni_test_version = "0.1.0";

struct OoniOptions {
  std::optional<std::string> probe_asn;  // overrides the report's vantage asn ("AS0" when neither)
  std::optional<std::string> probe_cc;   // overrides the report's vantage cc ("ZZ" when neither)
};

// One measurement per result of the report. The direct path's observations fill `queries`,
// `tcp_connect`, `tls_handshakes` and `requests`; control paths' go under `control_paths` in the
// same shapes; our verdict is `probe_verdict`.
std::vector<nlohmann::json> ooni_measurements(const LoadedReport& report, const OoniOptions& options);

// "2026-11-29 01:15:44" from "2026-11-29T01:15:44Z", shifted by `seconds`.
std::string ooni_time(const std::string& rfc3339, long long seconds = 0);

// CSV of a report: the header row, then one row per target per path.
std::string export_csv_header();
std::string export_csv_rows(const LoadedReport& report);

}  // namespace probe
