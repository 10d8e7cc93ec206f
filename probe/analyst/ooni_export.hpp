#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/report_reader.hpp"

// `probe export`: a report as OONI measurements, one per target, shaped so that OONI's pipeline
// (ooni/data) builds observations from them: test name `urlgetter` (inputs `https://...`,
// `http://...`, `tlshandshake://host:port`, `tcpconnect://host:port`, `dnslookup://host`) or
// `stunreachability` (`stun://host:port`), base data format df-000 with test keys in the shapes of
// df-002 DNS, df-005 TCP connect, df-006 TLS handshake and df-001 HTTP, failures in df-007's
// words. The top-level lists hold the direct path's observations only (the pipeline takes them as
// the vantage's own); control paths and our verdict go under `x_` keys. Or as CSV rows, one per
// target and path.
namespace probe {

inline constexpr const char* k_ooni_test_version = "0.2.0";

struct OoniOptions {
  std::optional<std::string> probe_asn;  // overrides the report's vantage asn ("AS0" when neither)
  std::optional<std::string> probe_cc;   // overrides the report's vantage cc ("ZZ" when neither)
};

// "AS64500" from "AS64500" or "AS064500"; nullopt for anything but AS and digits.
std::optional<std::string> normal_asn(const std::string& text);
// "IT" from "it" or "IT"; nullopt for anything but two ASCII letters.
std::optional<std::string> normal_cc(const std::string& text);

// What a report's measurements say of the vantage: the options' or the report's ASN and country,
// normalised, "AS0" and "ZZ" when unknown; `warnings` says when the collector would discard them.
struct OoniVantage {
  std::string asn;
  std::string cc;
  std::vector<std::string> warnings;
};
OoniVantage ooni_vantage(const LoadedReport& report, const OoniOptions& options);

// One measurement per result of the report.
std::vector<nlohmann::json> ooni_measurements(const LoadedReport& report, const OoniOptions& options);

// "2026-11-29 01:15:44" from "2026-11-29T01:15:44Z", shifted by `seconds`.
std::string ooni_time(const std::string& rfc3339, long long seconds = 0);

// "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" (IANA) from OpenSSL's "ECDHE-RSA-AES128-GCM-SHA256";
// TLS 1.3 suites are named the same by both; "" for a name OpenSSL does not know.
std::string iana_cipher_name(const std::string& openssl_name);

// CSV of a report: the header row, then one row per target per path.
std::string export_csv_header();
std::string export_csv_rows(const LoadedReport& report);

}  // namespace probe
