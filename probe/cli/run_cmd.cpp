#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <csignal>
#include <cerrno>
#include <cstring>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include <spdlog/spdlog.h>

#include "cli/commands.hpp"
#include "cli/jitter.hpp"
#include "cli/option_checks.hpp"
#include "cli/summary_output.hpp"
#include "core/error.hpp"
#include "core/exit_codes.hpp"
#include "engine/engine.hpp"
#include "steps/ca_bundle.hpp"
#include "steps/transfer_workers.hpp"
#include "net/curl_path.hpp"
#include "path/path.hpp"
#include "targets/host.hpp"
#include "store/retention.hpp"
#include "run/pipeline.hpp"
#include "targets/loader.hpp"

namespace probe {

namespace {

struct RunOptions {
  TargetSelection selection;
  std::string out = "reports";
  double timeout_s = 5.0;
  int tries = 2;
  std::size_t concurrency = 256;
  std::optional<std::size_t> tls_threads;
  std::size_t resolver_inflight = k_default_resolver_inflight;
  std::vector<std::string> resolvers;
  std::string resolv_conf;
  bool no_system_resolver = false;
  std::vector<std::string> allow_bogon;
  std::vector<std::string> ca_files;
  std::string user_agent = k_default_user_agent;
  std::vector<std::string> controls;
  std::vector<std::string> control_resolvers;
  std::string control_doh;
  std::string control_doh_address;
  double control_timeout_s = 10.0;
  std::size_t control_concurrency = 64;
  std::string control_auth_file;
  std::size_t per_address = 16;
  std::optional<std::size_t> keep;
  std::optional<int> keep_days;
  int compress_after_days = 7;
  bool no_compress = false;
  bool no_throughput = false;
  std::vector<std::string> injection_probes;
  std::string vantage_id;
  std::string asn;
  std::string cc;
  bool json = false;  // the report on stdout instead of its path
  std::string jitter = "0";  // a random wait before the run, see cli/jitter.hpp
};

std::optional<std::string> non_empty(const std::string& text) {
  return text.empty() ? std::nullopt : std::optional<std::string>(text);
}

// Parses every value of a repeatable flag; the first bad one is a usage error naming flag and value
// (any credentials in it left out: a message never carries one).
template <typename Value>
std::vector<Value> parse_each(const std::vector<std::string>& texts, const std::string& flag,
                              std::optional<Value> (*parse)(std::string_view, std::string*)) {
  std::vector<Value> out;
  for (const std::string& text : texts) {
    std::string problem;
    auto value = parse(text, &problem);
    if (!value) {
      throw UserError(exit_code::k_usage, flag + " '" + without_userinfo(text) + "': " + problem);
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

// The control resolver when none is given: a public resolver, reached through the control path.
constexpr const char* k_default_control_resolver = "1.1.1.1:53";

std::vector<ControlSettings> control_settings(const RunOptions& options) {
  std::vector<PathSpec> specs = parse_each(options.controls, "--control", &parse_control);
  apply_credentials(specs, std::getenv("PROBE_CONTROL_AUTH"), options.control_auth_file);
  auto resolvers = parse_each(options.control_resolvers, "--control-resolver", &parse_resolver);
  if (resolvers.empty()) {
    resolvers.push_back(*parse_resolver(k_default_control_resolver, nullptr));
  }
  if (without_userinfo(options.control_doh) != options.control_doh) {
    // The URL goes into the report's options: refused before anything is written.
    throw UserError(exit_code::k_usage, "--control-doh '" + without_userinfo(options.control_doh) +
                                            "': a DoH URL must not carry credentials");
  }
  if (!options.control_doh.empty() && options.control_doh.rfind("https://", 0) != 0) {
    throw UserError(exit_code::k_usage,
                    "--control-doh '" + without_userinfo(options.control_doh) + "': expected an https:// URL");
  }
  if (!options.control_doh_address.empty() && !is_ip_literal(options.control_doh_address)) {
    throw UserError(exit_code::k_usage,
                    "--control-doh-address '" + options.control_doh_address + "': expected an IP address");
  }
  std::vector<ControlSettings> controls;
  for (std::size_t k = 0; k < specs.size(); ++k) {
    ControlSettings control;
    control.spec = specs[k];
    control.spec.name = k == 0 ? "control" : "control-" + std::to_string(k + 1);
    control.timeout_ms = static_cast<int>(options.control_timeout_s * 1000.0);
    control.concurrency = options.control_concurrency;
    control.resolvers = resolvers;
    control.doh_url = options.control_doh;
    control.doh_address = options.control_doh_address;
    controls.push_back(std::move(control));
  }
  return controls;
}

// SIGINT and SIGTERM, blocked for the whole run and read through a signalfd that the engine
// watches: the run stops starting work, marks what was in flight `interrupted`, writes its report
// and exits 130 or 143. (A handler would have to do all that from a signal context.)
class StopSignals {
public:
  // SIGHUP (a closed terminal, an ssh session that ended) stops a run as SIGTERM does, unless the
  // probe was started with it ignored (nohup): then it stays ignored.
  StopSignals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    struct sigaction hangup {};
    if (sigaction(SIGHUP, nullptr, &hangup) == 0 && hangup.sa_handler != SIG_IGN) {
      sigaddset(&set, SIGHUP);
    }
    if (sigprocmask(SIG_BLOCK, &set, &m_previous) != 0) {
      throw std::runtime_error(std::string("sigprocmask: ") + std::strerror(errno));
    }
    m_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (m_fd < 0) {
      throw std::runtime_error(std::string("signalfd: ") + std::strerror(errno));
    }
  }
  ~StopSignals() {
    ::close(m_fd);
    sigprocmask(SIG_SETMASK, &m_previous, nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  int fd() const { return m_fd; }
  // The signal that stopped the run (0 if none is queued).
  int received() const {
    signalfd_siginfo info{};
    return ::read(m_fd, &info, sizeof(info)) == static_cast<ssize_t>(sizeof(info)) ? static_cast<int>(info.ssi_signo)
                                                                                    : 0;
  }

private:
  int m_fd = -1;
  sigset_t m_previous;
};

// Every operation in flight holds a descriptor (its socket), so the soft RLIMIT_NOFILE (1024 on many
// systems) is raised to the hard limit, as servers and Go programs do. Where even that is too low for
// the concurrency asked, the concurrency is lowered with a warning: an EMFILE mid-run would turn into
// failures that look like blocking.
std::size_t fit_descriptor_limit(std::size_t wanted, std::size_t controls_in_flight) {
  constexpr rlim_t k_reserve = 64;  // logs, the report, c-ares' and curl's own descriptors
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return wanted;
  }
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      limit = raised;
    }
  }
  if (limit.rlim_cur == RLIM_INFINITY) {
    return wanted;
  }
  const rlim_t kept = k_reserve + controls_in_flight;
  const rlim_t usable = limit.rlim_cur > kept ? limit.rlim_cur - kept : 1;
  if (wanted <= usable) {
    return wanted;
  }
  spdlog::warn("--concurrency {} needs more open files than this process may have ({}); measuring {} at once",
               wanted, static_cast<unsigned long long>(limit.rlim_cur), static_cast<unsigned long long>(usable));
  return static_cast<std::size_t>(usable);
}

// What the engine is asked to do, from the command line and config file.
RunSettings run_settings(const RunOptions& options) {
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
  settings.controls = control_settings(options);
  settings.concurrency =
      fit_descriptor_limit(options.concurrency, options.control_concurrency * settings.controls.size());
  settings.per_address = options.per_address;
  settings.transfer_threads = options.tls_threads.value_or(TransferWorkers::default_threads());
  settings.resolver_inflight = options.resolver_inflight;
  settings.throughput = !options.no_throughput;
  settings.injection_probes = parse_each(options.injection_probes, "--injection-probe", &parse_resolver);
  return settings;
}

// The report's `options`: what the run was asked, as settings made it.
nlohmann::json options_json(const RunSettings& settings, const RunOptions& options) {
  nlohmann::json resolver_labels = nlohmann::json::array();
  for (const auto& spec : settings.resolvers) {
    resolver_labels.push_back(spec.label());
  }
  nlohmann::json control_resolvers = nlohmann::json::array();
  if (!settings.controls.empty()) {
    if (!options.control_doh.empty()) {
      control_resolvers.push_back("doh:" + options.control_doh);
    } else {
      for (const auto& spec : settings.controls.front().resolvers) {
        control_resolvers.push_back(spec.label());
      }
    }
  }
  return {{"timeout_ms", settings.timeout_ms},
          {"tries", settings.tries},
          {"concurrency", settings.concurrency},
          {"tls_threads", settings.transfer_threads},
          {"resolver_inflight", settings.resolver_inflight},
          {"throughput", settings.throughput},
          {"resolvers", resolver_labels},
          {"allow_bogon", options.allow_bogon},
          {"ca_files", ca_file_names(options.ca_files)},
          {"user_agent", settings.user_agent},
          {"body_cap", settings.body_cap},
          {"apps", options.selection.apps},
          {"control_timeout_ms", static_cast<int>(options.control_timeout_s * 1000.0)},
          {"control_concurrency", options.control_concurrency},
          {"control_resolvers", control_resolvers},
          {"per_address", options.per_address},
          {"injection_probes", options.injection_probes}};
}

// The folder's retention: --keep, --keep-days, and --compress-after unless --no-compress.
RetentionPolicy retention_policy(const RunOptions& options) {
  RetentionPolicy retention{options.keep, options.keep_days, std::nullopt};
  if (!options.no_compress) {
    retention.compress_after_days = options.compress_after_days;
  }
  return retention;
}

// Every CA file the run will trust besides the roots (--ca-file, the lists' ca_files), checked as
// the engine will read them, before anything is written: a bad one leaves no crash log behind.
void check_ca_files(const RunOptions& options, const LoadedTargets& targets) {
  std::set<std::string> files(options.ca_files.begin(), options.ca_files.end());
  for (const Target& target : targets.targets) {
    files.insert(target.ca_files.begin(), target.ca_files.end());
  }
  for (const std::string& file : files) {
    check_ca_file(file);
  }
}

// Everything `run` checks of its options before it measures: resolvers, control paths and their
// credentials, the DoH URL, networks, the targets (lists and URLs) and the CA files.
void check_run(const RunOptions& options) {
  run_settings(options);
  check_ca_files(options, load_targets(with_default_targets(options.selection)));
}

int run(const RunOptions& options) {
  const StopSignals signals;
  RunRequest request;
  request.started_at = std::chrono::system_clock::now();
  request.run_start = EventLoop::now();

  request.settings = run_settings(options);
  request.paths = describe_paths(request.settings.controls);
  request.targets = load_targets(with_default_targets(options.selection));
  check_ca_files(options, request.targets);
  request.vantage = Vantage{non_empty(options.vantage_id), non_empty(options.asn), non_empty(options.cc)};
  request.options = options_json(request.settings, options);
  request.folder = options.out;
  request.retention = retention_policy(options);
  request.settings.stop_fd = signals.fd();
  // A progress line only on a terminal, and not with -q: logs and cron mail stay clean.
  ProgressLine progress(std::cerr, ::isatty(STDERR_FILENO) != 0 && spdlog::get_level() <= spdlog::level::info);
  request.settings.on_progress = [&progress](std::size_t done, std::size_t total) { progress.update(done, total); };
  request.on_measured = [&progress]() { progress.finish(); };
  const RunOutcome outcome = run_pipeline(request);  // the folder stays locked until `outcome` goes

  // Human output (stderr) and stdout: see cli/summary_output.hpp.
  print_run_end(outcome.report, outcome.path, options.json);
  if (outcome.report.interrupted) {
    const int signal = signals.received();
    spdlog::warn("stopped by {}: the report holds what was measured until then",
                 signal == SIGINT ? "SIGINT" : signal == SIGHUP ? "SIGHUP" : "SIGTERM");
    return signal == SIGINT ? exit_code::k_interrupted : signal == SIGHUP ? exit_code::k_hangup : exit_code::k_terminated;
  }
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
      ->check(finite_number())
      ->capture_default_str();
  run_app->add_option("--tries", options->tries, "DNS tries per resolver")
      ->check(CLI::Range(1, 10))
      ->capture_default_str();
  run_app->add_option("--concurrency", options->concurrency, "Operations in flight at once")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  run_app->add_option("--tls-threads", options->tls_threads,
                      "Threads for the TLS and HTTP steps besides the main loop (default: one per core, at "
                      "most 4; 0: one thread in all)")
      ->check(CLI::Range(std::size_t{0}, std::size_t{16}));
  run_app->add_option("--resolver-inflight", options->resolver_inflight,
                      "DNS queries in flight to one server at most, backing off on loss, whatever "
                      "--concurrency says (a home router's dnsmasq forwards 150 at once)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1000}))
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
                      "User-Agent of HTTP requests (default: a common browser's, so volunteers do not stand out)")
      ->check(no_control_characters());
  run_app->add_option("--control", options->controls,
                      "A control path: socks5h://HOST:PORT, socks5://HOST:PORT, http://HOST:PORT (CONNECT "
                      "proxy) or iface:NAME (a VPN interface); repeatable");
  run_app->add_option("--control-resolver", options->control_resolvers,
                      std::string("DNS server asked over the control paths, ADDR[:PORT] (over TCP through a proxy, "
                                  "UDP by an interface); repeatable; default ") +
                          k_default_control_resolver);
  run_app->add_option("--control-doh", options->control_doh,
                      "DNS over HTTPS URL used over the control paths instead (HTTP proxies often refuse "
                      "CONNECT to port 53)");
  run_app->add_option("--control-doh-address", options->control_doh_address,
                      "Address of the --control-doh server when its URL names it and no SOCKS proxy resolves it");
  run_app->add_option("--control-timeout", options->control_timeout_s, "Seconds per step on control paths")
      ->check(CLI::Range(0.05, 300.0))
      ->check(finite_number())
      ->capture_default_str();
  run_app->add_option("--control-concurrency", options->control_concurrency,
                      "Operations in flight at once on each control path")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  run_app->add_option("--control-auth-file", options->control_auth_file,
                      "File (mode 600) whose first line is USER:PASSWORD for the proxies (or set "
                      "PROBE_CONTROL_AUTH); keeps credentials out of ps and crontabs");
  run_app->add_option("--keep", options->keep,
                      "Keep the N newest reports in --out (this one included); remove older ones")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1000000}));
  run_app->add_option("--keep-days", options->keep_days, "Remove reports in --out started more than D days ago")
      ->check(CLI::Range(1, 100000));
  run_app->add_option("--compress-after", options->compress_after_days,
                      "Compress reports in --out older than D days to .json.gz (0: every earlier one)")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  run_app->add_flag("--no-compress", options->no_compress, "Leave earlier reports uncompressed");
  run_app->add_flag("--no-throughput", options->no_throughput,
                    "Skip the throughput phase (samples of up to 64 KiB of a suspect's body on each path, for "
                    "metered lines): throttling then goes unnamed");
  run_app->add_option("--per-address", options->per_address,
                      "Connections at once to one destination address, per path")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  run_app->add_option("--injection-probe", options->injection_probes,
                      "Also send every query to this address, ADDR[:PORT], which must run no DNS server: an "
                      "answer proves that port 53 is intercepted on the direct path; repeatable");
  run_app->add_option("--vantage", options->vantage_id, "A label for this vantage point, written in the report");
  run_app->add_option("--asn", options->asn, "The network's AS number, e.g. AS64500")->check(asn_option());
  run_app->add_option("--cc", options->cc, "The country code, ISO 3166-1 alpha-2, e.g. ZZ")->check(cc_option());
  run_app->add_flag("--json", options->json,
                    "Print the report's JSON on stdout instead of its path (it is written to --out all the same)");
  add_jitter_option(*run_app, options->jitter);
  commands.push_back({run_app,
                      [options]() {
                        wait_jitter(options->jitter);
                        return run(*options);
                      },
                      [options]() { check_run(*options); }});
}

}  // namespace probe
