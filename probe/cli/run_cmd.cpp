#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>

#include <spdlog/spdlog.h>

#include "cli/commands.hpp"
#include "core/error.hpp"
#include "core/exit_codes.hpp"
#include "engine/engine.hpp"
#include "report/atomic_file.hpp"
#include "report/report.hpp"
#include "targets/loader.hpp"

namespace probe {

namespace {

struct RunOptions {
  TargetSelection selection;
  std::string out = "reports";
  double timeout_s = 5.0;
  int tries = 2;
  std::size_t concurrency = 256;
  std::vector<std::string> resolvers;
  std::string resolv_conf;
  bool no_system_resolver = false;
  std::vector<std::string> allow_bogon;
  std::vector<std::string> ca_files;
  std::string user_agent = k_default_user_agent;
  std::string vantage_id;
  std::string asn;
  std::string cc;
};

std::optional<std::string> non_empty(const std::string& text) {
  return text.empty() ? std::nullopt : std::optional<std::string>(text);
}

// Parses every value of a repeatable flag; the first bad one is a usage error naming flag and value.
template <typename Value>
std::vector<Value> parse_each(const std::vector<std::string>& texts, const std::string& flag,
                              std::optional<Value> (*parse)(std::string_view, std::string*)) {
  std::vector<Value> out;
  for (const std::string& text : texts) {
    std::string problem;
    auto value = parse(text, &problem);
    if (!value) {
      throw UserError(exit_code::k_usage, flag + " '" + text + "': " + problem);
    }
    out.push_back(std::move(*value));
  }
  return out;
}

// File names only: a full path could name the local user.
std::vector<std::string> ca_file_names(const std::vector<std::string>& files) {
  std::vector<std::string> names;
  for (const auto& file : files) {
    names.push_back(std::filesystem::path(file).filename().string());
  }
  return names;
}

int run(const RunOptions& options) {
  const auto started_at = std::chrono::system_clock::now();
  const MonoTime run_start = EventLoop::now();

  RunSettings settings;
  settings.timeout_ms = static_cast<int>(options.timeout_s * 1000.0);
  settings.tries = options.tries;
  settings.concurrency = options.concurrency;
  settings.ca_files = options.ca_files;
  settings.user_agent = options.user_agent;
  settings.allow_bogon = parse_each(options.allow_bogon, "--allow-bogon", &parse_cidr);
  if (!options.no_system_resolver) {
    settings.resolvers = system_resolvers(options.resolv_conf);
  }
  const auto given = parse_each(options.resolvers, "--resolver", &parse_resolver);
  settings.resolvers.insert(settings.resolvers.end(), given.begin(), given.end());
  if (settings.resolvers.empty()) {
    throw UserError(exit_code::k_usage, "no resolver to ask: give --resolver, or allow the system resolver");
  }
  const LoadedTargets loaded = load_targets(with_default_targets(options.selection));
  // Fail on an unusable output folder before measuring, not after.
  ensure_folder(options.out);

  spdlog::info("measuring {} targets with {} resolvers", loaded.targets.size(), settings.resolvers.size());
  Report report;
  report.run_id = new_run_id();
  report.started_at = started_at;
  report.vantage = Vantage{non_empty(options.vantage_id), non_empty(options.asn), non_empty(options.cc)};
  report.paths = {PathInfo{"direct", "direct", "unchecked", std::nullopt, ""}};
  report.target_lists = loaded.lists;
  nlohmann::json resolver_labels = nlohmann::json::array();
  for (const auto& spec : settings.resolvers) {
    resolver_labels.push_back(spec.label());
  }
  report.options = {{"timeout_ms", settings.timeout_ms},
                    {"tries", settings.tries},
                    {"concurrency", settings.concurrency},
                    {"resolvers", resolver_labels},
                    {"allow_bogon", options.allow_bogon},
                    {"ca_files", ca_file_names(options.ca_files)},
                    {"user_agent", settings.user_agent},
                    {"body_cap", settings.body_cap},
                    {"apps", options.selection.apps}};
  report.results = measure(loaded.targets, settings, run_start);
  report.finished_at = std::chrono::system_clock::now();

  const auto path = write_report(report, options.out);
  std::size_t queries = 0;
  std::size_t failed = 0;
  std::size_t endpoints = 0;
  for (const auto& result : report.results) {
    for (const auto& [name, observations] : result.paths) {
      endpoints += observations.endpoints.size();
      for (const auto& query : observations.queries) {
        ++queries;
        failed += query.failure ? 1 : 0;
      }
    }
  }
  const double seconds = std::chrono::duration<double>(EventLoop::now() - run_start).count();
  spdlog::info("{} targets, {} DNS queries ({} failed), {} endpoints in {:.1f} s", report.results.size(), queries,
               failed, endpoints, seconds);
  std::cout << path.string() << "\n";
  return exit_code::k_ok;
}

}  // namespace

void add_run_command(CLI::App& app, std::vector<Command>& commands) {
  auto options = std::make_shared<RunOptions>();
  CLI::App* run_app = app.add_subcommand(
      "run", "Measure the targets and write a JSON report (exit 0 whatever it finds)");
  add_selection_options(*run_app, options->selection);
  run_app->add_option("--out", options->out, "Folder for the report (created if missing)")
      ->capture_default_str();
  run_app->add_option("--timeout", options->timeout_s, "Seconds to wait for each step (per try)")
      ->check(CLI::Range(0.05, 300.0))
      ->capture_default_str();
  run_app->add_option("--tries", options->tries, "DNS tries per resolver")
      ->check(CLI::Range(1, 10))
      ->capture_default_str();
  run_app->add_option("--concurrency", options->concurrency, "Operations in flight at once")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  run_app->add_option("--resolver", options->resolvers,
                      "Also ask this DNS server, ADDR[:PORT] or [V6]:PORT; repeatable");
  run_app->add_option("--resolv-conf", options->resolv_conf,
                      "Read the system resolvers from this file instead of /etc/resolv.conf");
  run_app->add_flag("--no-system-resolver", options->no_system_resolver,
                    "Ask only the --resolver servers (labs and tests)");
  run_app->add_option("--allow-bogon", options->allow_bogon,
                      "Do not treat answers in this CIDR as bogons (labs); repeatable");
  run_app->add_option("--ca-file", options->ca_files,
                      "Also trust the CA certificates in this PEM file; repeatable");
  run_app->add_option("--user-agent", options->user_agent,
                      "User-Agent of HTTP requests (default: a common browser's, so volunteers do not stand out)");
  run_app->add_option("--vantage", options->vantage_id, "A label for this vantage point, written in the report");
  run_app->add_option("--asn", options->asn, "The network's AS number, e.g. AS64500")
      ->check(CLI::Validator(
          [](std::string& value) {
            const bool ok = value.size() > 2 && value.size() <= 12 && value.rfind("AS", 0) == 0 &&
                            std::all_of(value.begin() + 2, value.end(), [](char c) { return c >= '0' && c <= '9'; });
            return ok ? std::string() : std::string("expected AS followed by digits");
          },
          "ASN"));
  run_app->add_option("--cc", options->cc, "The country code, ISO 3166-1 alpha-2, e.g. ZZ")
      ->check(CLI::Validator(
          [](std::string& value) {
            const bool ok = value.size() == 2 && std::all_of(value.begin(), value.end(), [](char c) {
                              return c >= 'A' && c <= 'Z';
                            });
            return ok ? std::string() : std::string("expected two capital letters");
          },
          "CC"));
  commands.push_back({run_app, [options]() { return run(*options); }});
}

}  // namespace probe
