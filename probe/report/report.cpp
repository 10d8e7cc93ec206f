#include "report/report.hpp"

#include "report/scrub.hpp"

#include <sys/random.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cerrno>
#include <iterator>
#include <queue>
#include <set>
#include <tuple>

#include "core/error.hpp"
#include "core/exit_codes.hpp"
#include "core/version.hpp"
#include "core/atomic_file.hpp"
#include "model/report_json.hpp"

namespace probe {

using nlohmann::json;

namespace {

template <typename T>
json optional_json(const std::optional<T>& value) {
  return value ? json(*value) : json(nullptr);
}

}  // namespace

std::string new_run_id() {
  unsigned char bytes[16];
  std::size_t filled = 0;
  while (filled < sizeof bytes) {
    const ssize_t n = getrandom(bytes + filled, sizeof bytes - filled, 0);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw UserError(exit_code::k_software, "cannot read random bytes for the run id");
    }
    filled += static_cast<std::size_t>(n);
  }
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char byte : bytes) {
    out += k_hex[byte >> 4];
    out += k_hex[byte & 0x0F];
  }
  return out;
}

json target_result_json(const TargetResult& result) { return result_to_json(result, result.verdict); }

json target_result_json(const TargetResult& result, const Verdict& verdict) { return result_to_json(result, verdict); }

json apps_of_results(const json& results) {
  json apps = json::object();
  std::map<std::string, std::set<std::string>> methods;
  for (const json& result : results) {
    const std::string name = result.at("app").get<std::string>();
    json& app = apps[name];
    if (app.is_null()) {
      app = {{"targets", 0}, {"unjudged", 0}};
      for (Status status : k_all_statuses) {
        app[std::string(to_string(status))] = 0;
      }
    }
    app["targets"] = app["targets"].get<int>() + 1;
    const json& verdict = result.at("verdict");
    const std::string key = verdict.is_object() ? verdict.at("status").get<std::string>() : "unjudged";
    app[key] = app[key].get<int>() + 1;
    auto& seen = methods[name];
    if (verdict.is_object()) {
      for (const json& method : verdict.at("methods")) {
        seen.insert(method.get<std::string>());
      }
    }
  }
  for (auto& [name, app] : apps.items()) {
    const auto& seen = methods[name];
    app["methods"] = std::vector<std::string>(seen.begin(), seen.end());
  }
  return apps;
}

namespace {

// What a chain entry's sha256 is when it can name a certificate: 64 lowercase hex digits (the
// text an entry takes is then known exactly: no character is escaped).
bool is_sha256(const std::string& text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool is_base64(const std::string& text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '+' || c == '/' || c == '=';
  });
}

}  // namespace

void CertificateSet::add(const std::string& sha256, const std::string& der_base64) {
  if (!is_sha256(sha256) || !is_base64(der_base64) || m_entries.contains(sha256)) {
    return;
  }
  // In the report's text an entry is a line `    "<sha256>": "<base64>",`; the first also turns
  // the empty object's "{}" into "{\n" ... "\n  }".
  const std::size_t text = sha256.size() + der_base64.size() + 12 + (m_entries.empty() ? 2 : 0);
  if (der_base64.size() > m_budget - m_bytes || text > m_text_room - m_text) {
    m_truncated = true;
    return;
  }
  m_entries[sha256] = der_base64;
  m_bytes += der_base64.size();
  m_text += text;
}

void CertificateSet::add(const TargetResult& result) {
  for (const auto& [name, path] : result.paths) {
    for (const EndpointObservation& endpoint : path.endpoints) {
      for (const std::optional<TlsObservation>* tls : {&endpoint.tls, &endpoint.decoy_tls}) {
        if (!*tls) {
          continue;
        }
        for (const CertificateInfo& cert : (*tls)->chain) {
          if (!cert.der_base64.empty()) {
            add(cert.sha256, cert.der_base64);
          }
        }
      }
    }
  }
}

namespace {

// Results in a stable order, so that two reports of the same lists diff cleanly.
std::vector<const TargetResult*> sorted_results(const Report& report) {
  std::vector<const TargetResult*> results;
  for (const auto& result : report.results) {
    results.push_back(&result);
  }
  std::stable_sort(results.begin(), results.end(), [](const TargetResult* a, const TargetResult* b) {
    const Target& x = a->target;
    const Target& y = b->target;
    return std::tie(x.app, x.host, x.port, x.kind, x.path) < std::tie(y.app, y.host, y.port, y.kind, y.path);
  });
  return results;
}

CertificateSet certificates_of(const std::vector<const TargetResult*>& results) {
  CertificateSet certificates;
  for (const TargetResult* result : results) {
    certificates.add(*result);
  }
  return certificates;
}

// Everything but the results, whose place holds an empty array; `apps` summarises them.
json frame_json(const Report& report, json apps, const CertificateSet& certificates) {
  json paths = json::array();
  for (const auto& path : report.paths) {
    paths.push_back({{"name", path.name}, {"kind", path.kind}, {"health", path.health},
                     {"egress", optional_json(path.egress)}, {"detail", path.detail},
                     {"check_failure", optional_json(path.check_failure)}, {"successes", path.successes},
                     {"congestion",
                      {{"steps", path.congestion.steps},
                       {"timeouts", path.congestion.timeouts},
                       {"overrun", path.congestion.overrun},
                       {"retested", path.congestion.retested},
                       {"recovered", path.congestion.recovered},
                       {"congested", path.congestion.congested}}}});
  }
  json lists = json::array();
  for (const auto& list : report.target_lists) {
    // The file name only: a full path could name the local user (/home/alice/...).
    const std::string file = list.format == "url" ? list.file : std::filesystem::path(list.file).filename().string();
    lists.push_back({{"file", file}, {"format", list.format},
                     {"sha256", list.sha256.empty() ? json(nullptr) : json(list.sha256)},
                     {"reviewed", optional_json(list.reviewed)},
                     {"targets", list.targets.size()}});
  }
  return {
      {"schema_version", k_schema_version},
      {"probe_version", k_probe_version},
      {"run_id", report.run_id},
      {"started_at", format_rfc3339_utc(report.started_at)},
      {"finished_at", format_rfc3339_utc(report.finished_at)},
      {"interrupted", report.interrupted},
      {"vantage", {{"id", optional_json(report.vantage.id)},
                   {"asn", optional_json(report.vantage.asn)},
                   {"cc", optional_json(report.vantage.cc)}}},
      {"paths", paths},
      {"options", report.options},
      {"target_lists", lists},
      {"apps", std::move(apps)},
      {"certificates", certificates.entries()},
      {"certificates_truncated", certificates.truncated()},
      {"results", json::array()},
  };
}

json document_json(const Report& report, const std::vector<const TargetResult*>& results,
                   const CertificateSet& certificates) {
  json results_json = json::array();
  for (const TargetResult* result : results) {
    results_json.push_back(result_to_json(*result, result->verdict));
  }
  json out = frame_json(report, apps_of_results(results_json), certificates);
  out["results"] = std::move(results_json);
  if (report.scrubber) {
    report.scrubber->scrub(out);
  }
  return out;
}

}  // namespace

json to_json(const Report& report) {
  const std::vector<const TargetResult*> results = sorted_results(report);
  return document_json(report, results, certificates_of(results));
}

namespace {

std::string dump(const json& document) {
  return document.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

// What serialize() removes from a result to fit the limit, bulkiest and least needed first.
constexpr std::string_view k_cuts[] = {"raw_base64", "headers", "chain", "endpoints", "answers"};

void cut_result(json& result, std::string_view cut) {
  for (auto& [name, path] : result["paths"].items()) {
    if (cut == "endpoints") {
      path["endpoints"] = json::array();
      continue;
    }
    for (json& query : path["queries"]) {
      if (cut == "raw_base64") {
        query["raw_base64"] = "";
        query["raw_truncated"] = true;
      } else if (cut == "answers") {
        query["answers"] = json::array();
        query["cname_chain"] = json::array();
        query["answers_truncated"] = true;
      }
    }
    for (json& endpoint : path["endpoints"]) {
      if (cut == "headers" && endpoint["http"].is_object()) {
        endpoint["http"]["headers"] = json::array();
        endpoint["http"]["headers_truncated"] = true;
      } else if (cut == "chain") {
        for (const char* step : {"tls", "decoy_tls"}) {
          if (endpoint[step].is_object()) {
            endpoint[step]["chain"] = json::array();
          }
        }
      }
    }
  }
  result["cut"].push_back(cut);
}

// The text dump(to_json(report)) gives, made one result at a time: the JSON tree of a whole report
// is several times its text (a thousand targets: 8.6 MB of text, the run's peak memory while the
// tree was built). The frame is dumped with an empty results array, which each result, dumped
// alone and indented two levels deeper, then replaces.
std::string streamed_text(const Report& report, const std::vector<const TargetResult*>& results,
                          const CertificateSet& certificates) {
  json summaries = json::array();  // what apps_of_results reads of each result
  for (const TargetResult* result : results) {
    summaries.push_back({{"app", result->target.app}, {"verdict", verdict_to_json(result->verdict)}});
  }
  json frame = frame_json(report, apps_of_results(summaries), certificates);
  summaries = json();
  if (report.scrubber) {
    report.scrubber->scrub(frame);
  }
  std::string text = dump(frame);
  // Top-level keys are indented by two spaces and appear once; deeper ones by four or more.
  const std::string empty_results = "\n  \"results\": []";
  const std::size_t at = text.find(empty_results);
  if (at == std::string::npos || results.empty()) {
    return text;
  }
  std::string array = "[";
  for (std::size_t i = 0; i < results.size(); ++i) {
    json one = result_to_json(*results[i], results[i]->verdict);
    if (report.scrubber) {
      report.scrubber->scrub(one);
    }
    // A newline in the dump is always between tokens (inside strings it is escaped).
    const std::string alone = one.dump(2, ' ', false, json::error_handler_t::replace);
    array += i == 0 ? "\n    " : ",\n    ";
    for (const char c : alone) {
      array += c;
      if (c == '\n') {
        array += "    ";
      }
    }
  }
  array += "\n  ]";
  text.replace(at + empty_results.size() - 2, 2, array);
  return text;
}

// The certificates the chains of `results` (a report's JSON) still list, in order, taken from
// `all` (sha256 -> base64) as far as `certificates` lets them in.
void add_listed(const json& results, const json& all, CertificateSet& certificates) {
  for (const json& result : results) {
    for (const auto& [name, path] : result.at("paths").items()) {
      for (const json& endpoint : path.at("endpoints")) {
        for (const char* step : {"tls", "decoy_tls"}) {
          const auto tls = endpoint.find(step);
          if (tls == endpoint.end() || !tls->is_object()) {
            continue;
          }
          for (const json& cert : tls->at("chain")) {
            const std::string& sha256 = cert.at("sha256").get_ref<const std::string&>();
            if (const auto der = all.find(sha256); der != all.end()) {
              certificates.add(sha256, der->get<std::string>());
            }
          }
        }
      }
    }
  }
}

}  // namespace

std::string serialize(const Report& report, std::size_t max_bytes) {
  const std::vector<const TargetResult*> sorted = sorted_results(report);
  const CertificateSet certificates = certificates_of(sorted);
  std::string text = streamed_text(report, sorted, certificates);
  if (text.size() <= max_bytes) {
    return text;
  }
  // Too big: cut on the whole document (reports this large are what hostile peers make), as if
  // no certificate were kept; the certificates take the room left at the end.
  json kept = {{"certificates", certificates.entries()}};
  if (report.scrubber) {
    report.scrubber->scrub(kept);
  }
  const std::size_t kept_text = dump(kept).size() - dump(json{{"certificates", json::object()}}).size();
  std::size_t estimate = text.size() - kept_text;
  text = std::string();
  json document = document_json(report, sorted, CertificateSet(0));
  document["certificates_truncated"] = certificates.truncated();  // as in `text`, so the estimate holds
  // The largest result loses its next kind of detail, until the report fits or nothing is left
  // to cut: what peers sent in bulk goes first, and ordinary results stay whole.
  json& results = document["results"];
  std::vector<std::size_t> next_cut(results.size(), 0);
  std::priority_queue<std::pair<std::size_t, std::size_t>> largest;  // (dumped size, index)
  for (std::size_t i = 0; i < results.size(); ++i) {
    largest.emplace(dump(results[i]).size(), i);
  }
  // Sizes dumped alone understate what a cut saves (inside the document every line is indented
  // deeper), so the estimate never falls below the real size.
  while (estimate > max_bytes && !largest.empty()) {
    const auto [size, index] = largest.top();
    largest.pop();
    json& result = results[index];
    cut_result(result, k_cuts[next_cut[index]++]);
    const std::size_t now = dump(result).size();
    if (now >= size) {
      result["cut"].erase(result["cut"].size() - 1);  // there was nothing of that kind to cut
    }
    estimate -= size - std::min(size, now);
    if (next_cut[index] < std::size(k_cuts)) {
      largest.emplace(std::min(size, now), index);
    }
  }
  // The certificates the remaining chains list, the first ones first, in the room the results
  // left (a certificate whose chain was cut is listed nowhere and would only take room).
  const std::size_t bare = dump(document).size();
  CertificateSet fitting(k_max_certificates_bytes, max_bytes - std::min(max_bytes, bare));
  add_listed(results, kept["certificates"], fitting);
  document["certificates"] = fitting.entries();
  document["certificates_truncated"] = certificates.truncated() || fitting.truncated();
  return dump(document);
}

std::size_t minimum_results_bytes(const std::vector<Target>& targets, const std::vector<PathInfo>& paths) {
  std::size_t total = 0;
  const Verdict verdict;
  for (const Target& target : targets) {
    TargetResult bare{target, {}, std::nullopt};
    for (const PathInfo& path : paths) {
      bare.paths[path.name];
    }
    total += target_result_json(bare, verdict).dump(2, ' ', false, nlohmann::json::error_handler_t::replace).size();
  }
  return total;
}

std::string report_file_name(const Report& report) {
  return format_compact_utc(report.started_at) + "_" + report.run_id + ".json";
}

std::filesystem::path write_report(const Report& report, const std::filesystem::path& folder) {
  ensure_folder(folder);
  const std::filesystem::path path = folder / report_file_name(report);
  write_file_atomically(path, serialize(report), 0600);
  return path;
}

}  // namespace probe
