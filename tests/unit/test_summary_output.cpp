#include <catch2/catch.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli/summary_output.hpp"
#include "support/reports.hpp"
#include "support/run_command.hpp"
#include "support/temp_dir.hpp"
#include "support/skip.hpp"

using namespace probe;
using nlohmann::json;
using probe::test::only_report;
using probe::test::read_file;
using probe::test::run_probe;
using probe::test::TempDir;

namespace {

Target make_target(const std::string& app, const std::string& host, Kind kind,
                   std::optional<std::uint16_t> port = std::nullopt) {
  Target target;
  target.app = app;
  target.host = host;
  target.kind = kind;
  target.port = port ? port : default_port(kind);
  return target;
}

FailureInfo failure(Failure code) { return FailureInfo{code, ""}; }

DnsQuery answer(const std::string& type, const std::string& address) {
  DnsQuery query;
  query.resolver = "system";
  query.type = type;
  query.rcode = "NOERROR";
  query.answers = {DnsAnswer{type, address, 300, false}};
  return query;
}

DnsQuery failed_query(const std::string& type, Failure code) {
  DnsQuery query;
  query.resolver = "system";
  query.type = type;
  query.failure = failure(code);
  return query;
}

// An endpoint whose steps up to `through` ran ("tcp", "tls" or "http"), the last one failing
// with `last` when given.
EndpointObservation endpoint(const std::string& address, std::uint16_t port, const std::string& through,
                             std::optional<Failure> last = std::nullopt,
                             std::vector<std::string> sources = {"control", "direct"}) {
  EndpointObservation out;
  out.address = address;
  out.port = port;
  out.family = address.find(':') != std::string::npos ? 6 : 4;
  out.sources = std::move(sources);
  const auto step_failure = [&](const std::string& step) {
    return step == through && last ? std::optional<FailureInfo>(failure(*last)) : std::nullopt;
  };
  out.tcp = TcpObservation{};
  out.tcp->failure = step_failure("tcp");
  if (through == "tls" || through == "http") {
    out.tls = TlsObservation{};
    out.tls->failure = step_failure("tls");
  }
  if (through == "http") {
    out.http = HttpObservation{};
    out.http->failure = step_failure("http");
  }
  return out;
}

Verdict verdict(Status status, std::optional<std::string> method = std::nullopt, std::string detail = "",
                std::vector<std::string> evidence = {}) {
  Verdict out;
  out.status = status;
  out.method = method;
  if (method) {
    out.methods = {*method};
  }
  out.detail = std::move(detail);
  out.evidence = std::move(evidence);
  return out;
}

// A small report with a verdict of every status, two paths, and a target never judged.
Report small_report() {
  Report report;
  report.run_id = "0123456789abcdef0123456789abcdef";
  report.started_at = SystemTime(std::chrono::seconds(1764353446));
  report.finished_at = report.started_at + std::chrono::seconds(3);
  report.paths = {PathInfo{"direct", "direct", "unchecked", "eth0", "", std::nullopt, 5, {}},
                  PathInfo{"control", "socks5h", "healthy", "lo", "socks5h://127.0.0.1:9050", std::nullopt, 9, {}}};

  TargetResult chat;  // SNI filtering
  chat.target = make_target("signal", "chat.signal.org", Kind::tls, 443);
  chat.paths["direct"].queries = {answer("A", "198.51.100.7")};
  chat.paths["direct"].endpoints = {endpoint("198.51.100.7", 443, "tls", Failure::connection_reset)};
  chat.paths["control"].queries = {answer("A", "198.51.100.7")};
  chat.paths["control"].endpoints = {endpoint("198.51.100.7", 443, "tls")};
  chat.verdict = verdict(Status::blocked, "tls", "sni",
                         {"direct: TLS reset after the ClientHello; decoy SNI passed", "control: handshake ok"});
  chat.verdict->signatures = {Signature::tls_reset, Signature::sni};

  TargetResult storage;  // works everywhere
  storage.target = make_target("signal", "storage.signal.org", Kind::https);
  storage.paths["direct"].queries = {answer("A", "198.51.100.8")};
  storage.paths["direct"].endpoints = {endpoint("198.51.100.8", 443, "http")};
  storage.paths["control"].queries = {answer("A", "198.51.100.8")};
  storage.paths["control"].endpoints = {endpoint("198.51.100.8", 443, "http")};
  storage.verdict = verdict(Status::accessible);

  TargetResult name;  // a DNS-only target whose name the direct resolver denies
  name.target = make_target("twitter", "twitter.com", Kind::dns);
  name.paths["direct"].queries = {failed_query("A", Failure::dns_nxdomain_error),
                                  failed_query("AAAA", Failure::dns_nxdomain_error)};
  name.paths["control"].queries = {answer("A", "198.51.100.9")};
  name.verdict = verdict(Status::blocked, "dns", "", {"direct: NXDOMAIN", "control: 198.51.100.9"});

  TargetResult api;  // unreachable on every path
  api.target = make_target("twitter", "api.twitter.com", Kind::https);
  api.paths["direct"].queries = {answer("A", "198.51.100.10")};
  api.paths["direct"].endpoints = {endpoint("198.51.100.10", 443, "tcp", Failure::generic_timeout_error)};
  api.paths["control"].queries = {answer("A", "198.51.100.10")};
  api.paths["control"].endpoints = {endpoint("198.51.100.10", 443, "tcp", Failure::generic_timeout_error)};
  api.verdict = verdict(Status::down);

  TargetResult edge;  // a bogon answer, and a control path that never got to it
  edge.target = make_target("facebook", "edge-mqtt.facebook.com", Kind::tls, 443);
  edge.paths["direct"].queries = {failed_query("A", Failure::dns_bogon_error)};
  edge.paths["control"] = PathObservations{};
  edge.verdict = verdict(Status::anomaly, "dns", "bogon");
  edge.verdict->signatures = {Signature::bogon};

  TargetResult web;  // interrupted
  web.target = make_target("facebook", "www.facebook.com", Kind::https);
  web.paths["direct"].queries = {answer("A", "198.51.100.11")};
  web.paths["direct"].endpoints = {endpoint("198.51.100.11", 443, "http", Failure::interrupted)};
  web.verdict = verdict(Status::inconclusive, std::nullopt, "interrupted");
  web.verdict->signatures = {Signature::interrupted};

  TargetResult local;  // not judged, nothing measured
  local.target = make_target("adhoc", "127.0.0.1", Kind::tcp, 9);

  // Out of order on purpose: the summary sorts as the report does.
  report.results = {name, web, chat, local, storage, api, edge};
  return report;
}

std::string render(const Report& report, std::size_t width = 100, bool color = false) {
  OutputStyle style;
  style.color = color;
  style.width = width;
  return render_summary(report, style);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

// Sets an environment variable for one scope and puts the old value back.
class EnvVar {
public:
  EnvVar(const char* name, const char* value) : m_name(name) {
    if (const char* old = std::getenv(name)) {
      m_old = old;
    }
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~EnvVar() {
    if (m_old) {
      ::setenv(m_name.c_str(), m_old->c_str(), 1);
    } else {
      ::unsetenv(m_name.c_str());
    }
  }
  EnvVar(const EnvVar&) = delete;
  EnvVar& operator=(const EnvVar&) = delete;

private:
  std::string m_name;
  std::optional<std::string> m_old;
};

TargetList list_reviewed(const std::string& file, std::optional<std::string> reviewed) {
  TargetList list;
  list.file = file;
  list.format = "json";
  list.reviewed = std::move(reviewed);
  return list;
}

std::string iso_date(std::chrono::sys_days day) {
  const std::chrono::year_month_day date{day};
  char text[16];
  std::snprintf(text, sizeof text, "%04d-%02u-%02u", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()));
  return text;
}

std::size_t count_of(const std::string& text, const std::string& part) {
  std::size_t count = 0;
  for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + part.size())) {
    ++count;
  }
  return count;
}

}  // namespace

TEST_CASE("the summary: a table per app, then a line per app", "[output]") {
  const std::string expected =
      "adhoc\n"
      "  target           direct      control     verdict\n"
      "  127.0.0.1:9 tcp  not tested  not tested  not judged\n"
      "\n"
      "facebook\n"
      "  target                          direct               control     verdict\n"
      "  edge-mqtt.facebook.com:443 tls  dns dns_bogon_error  not tested  anomaly dns/bogon\n"
      "  https://www.facebook.com/       http interrupted     not tested  inconclusive interrupted\n"
      "\n"
      "signal\n"
      "  target                       direct                control  verdict\n"
      "  chat.signal.org:443 tls      tls connection_reset  ok       blocked tls/sni\n"
      "  https://storage.signal.org/  ok                    ok       accessible\n"
      "\n"
      "twitter\n"
      "  target                    direct                     control                    verdict\n"
      "  https://api.twitter.com/  tcp generic_timeout_error  tcp generic_timeout_error  down\n"
      "  twitter.com dns           dns dns_nxdomain_error     ok                         blocked dns\n"
      "\n"
      "adhoc: not judged (1 of 1 target)\n"
      "facebook: anomaly (dns/bogon) on 1 of 2 targets; 1 inconclusive\n"
      "signal: blocked (tls/sni) on 1 of 2 targets; 1 accessible\n"
      "twitter: blocked (dns) on 1 of 2 targets; 1 down\n";
  const std::string rendered = render(small_report());
  CHECK(rendered == expected);
  INFO(rendered);
  CHECK(rendered.find('\033') == std::string::npos);
  for (const std::string& line : lines_of(rendered)) {
    CHECK(line.size() <= 100);
    CHECK((line.empty() || line.back() != ' '));
  }
}

TEST_CASE("the summary names a verdict's signatures after its status", "[output]") {
  Report report = small_report();
  const auto api = std::find_if(report.results.begin(), report.results.end(),
                                [](const TargetResult& result) { return result.target.host == "api.twitter.com"; });
  REQUIRE(api != report.results.end());
  api->verdict = verdict(Status::inconclusive, std::nullopt,
                         "fails over every path, but only by timeouts on a congested path (direct, control)");
  api->verdict->signatures = {Signature::congested};
  const std::string rendered = render(report, 200);
  CHECK(rendered.find("  https://api.twitter.com/  tcp generic_timeout_error  tcp generic_timeout_error  "
                      "inconclusive congested\n") != std::string::npos);
  CHECK(rendered.find("twitter: blocked (dns) on 1 of 2 targets; 1 inconclusive\n") != std::string::npos);

  // A qualifier that only repeats the method gives way to the signatures.
  api->verdict = verdict(Status::blocked, "http", "http: stalled: the response head never comes after 900 bytes");
  api->verdict->signatures = {Signature::stalled};
  CHECK(render(report, 200).find("tcp generic_timeout_error  blocked http/stalled\n") != std::string::npos);
  api->verdict = verdict(Status::restricted, std::nullopt, "stalled: the response head comes on direct, then ...");
  api->verdict->signatures = {Signature::stalled};
  const std::string restricted = render(report, 200);
  CHECK(restricted.find("tcp generic_timeout_error  restricted stalled\n") != std::string::npos);
  CHECK(restricted.find("twitter: blocked (dns) on 1 of 2 targets; 1 restricted\n") != std::string::npos);
  // A throttle keyed on the name reads as the table promises.
  api->verdict = verdict(Status::restricted, "tls",
                         "throttled: direct reads the body at 29.3 KiB/s, control at 2929.7 KiB/s; the throttle keys "
                         "on the name (tls)");
  api->verdict->signatures = {Signature::throttled};
  CHECK(render(report, 200).find("tcp generic_timeout_error  restricted tls/throttled\n") != std::string::npos);
  api->verdict->method = "tcp_ip";
  api->verdict->detail = "stalled: the response head comes on direct, then ...; the decoy name's body stalls too";
  api->verdict->signatures = {Signature::stalled};
  CHECK(render(report, 200).find("tcp generic_timeout_error  restricted tcp_ip/stalled\n") != std::string::npos);
}

TEST_CASE("the summary's columns: every control path, each path's first failure", "[output]") {
  Report report = small_report();
  report.paths.push_back(PathInfo{"control-2", "interface", "healthy", "wg0", "iface:wg0", std::nullopt, 1, {}});
  TargetResult& chat = report.results[2];
  REQUIRE(chat.target.host == "chat.signal.org");
  chat.paths["control-2"].queries = {failed_query("A", Failure::generic_timeout_error)};
  const std::string rendered = render(report, 200);
  CHECK(lines_of(rendered)[10] == "  target                       direct                control  control-2                  verdict");
  CHECK(lines_of(rendered)[11] ==
        "  chat.signal.org:443 tls      tls connection_reset  ok       dns generic_timeout_error  blocked tls/sni");
  CHECK(lines_of(rendered)[12] ==
        "  https://storage.signal.org/  ok                    ok       not tested                 accessible");

  SECTION("IPv4 before IPv6, the path's own addresses before the others'") {
    TargetResult target;
    target.target = make_target("x", "x.example", Kind::tls, 443);
    target.paths["direct"].queries = {answer("A", "198.51.100.1"), answer("AAAA", "2001:db8::1")};
    target.paths["direct"].endpoints = {
        endpoint("198.51.100.2", 443, "tls", std::nullopt, {"control"}),  // works, but not direct's own
        endpoint("2001:db8::1", 443, "tcp", Failure::network_unreachable, {"direct"}),
        endpoint("198.51.100.1", 443, "tcp", Failure::connection_refused, {"direct"}),
    };
    Report one;
    one.paths = {PathInfo{"direct", "direct", "unchecked", "eth0", "", std::nullopt, 0, {}}};
    one.results = {target};
    CHECK(lines_of(render(one))[2] == "  x.example:443 tls  tcp connection_refused  not judged");

    // An address of the target's own (no DNS source) that works is "ok".
    one.results[0].target.host = "198.51.100.2";
    one.results[0].paths["direct"].queries.clear();
    one.results[0].paths["direct"].endpoints = {endpoint("198.51.100.2", 443, "tls", std::nullopt, {})};
    CHECK(lines_of(render(one))[2] == "  198.51.100.2:443 tls  ok      not judged");
  }
  SECTION("DNS failures count only when no query was answered") {
    TargetResult target;
    target.target = make_target("x", "x.example", Kind::https);
    target.paths["direct"].queries = {answer("A", "198.51.100.1"), failed_query("AAAA", Failure::dns_no_answer)};
    target.paths["direct"].endpoints = {endpoint("198.51.100.1", 443, "http", Failure::eof_error, {"direct"})};
    Report one;
    one.results = {target};
    CHECK(lines_of(render(one))[2] == "  https://x.example/  http eof_error  not judged");
  }
}

TEST_CASE("summary lines count targets, name methods and the SNI detail", "[output]") {
  Report report;
  for (int k = 0; k < 4; ++k) {
    TargetResult result;
    result.target = make_target("signal", "host" + std::to_string(k) + ".signal.org", Kind::tls, 443);
    result.verdict = verdict(Status::blocked, "tls", "sni");
    result.verdict->signatures = {Signature::tls_reset, Signature::sni};
    report.results.push_back(result);
  }
  for (int k = 0; k < 9; ++k) {
    TargetResult result;
    result.target = make_target("twitter", "host" + std::to_string(k) + ".twitter.com", Kind::https);
    result.verdict = verdict(Status::accessible);
    report.results.push_back(result);
  }
  for (int k = 0; k < 12; ++k) {
    TargetResult result;
    result.target = make_target("facebook", "host" + std::to_string(k) + ".facebook.com", Kind::https);
    if (k < 3) {
      result.verdict = verdict(Status::blocked, "dns");
      result.verdict->methods = {"tcp_ip", "dns"};  // DNS and IP blocking together
    } else if (k < 5) {
      result.verdict = verdict(Status::blocked, "tcp_ip", "residual");
      result.verdict->methods = {"tcp_ip"};
      result.verdict->signatures = {Signature::timeout, Signature::residual};
    } else {
      result.verdict = verdict(Status::accessible);
    }
    report.results.push_back(result);
  }
  for (Status status : {Status::down, Status::down, Status::inconclusive, Status::accessible}) {
    TargetResult result;
    result.target = make_target("clubhouse", "h" + std::to_string(report.results.size()) + ".clubhouse.com", Kind::https);
    result.verdict = verdict(status);
    report.results.push_back(result);
  }
  TargetResult unjudged;
  unjudged.target = make_target("clubhouse", "z.clubhouse.com", Kind::https);
  report.results.push_back(unjudged);

  const auto lines = lines_of(render(report));
  const std::vector<std::string> summary(lines.end() - 4, lines.end());
  CHECK(summary == std::vector<std::string>{
                       "clubhouse: down on 2 of 5 targets; 1 accessible, 1 inconclusive, 1 not judged",
                       "facebook: blocked (dns, tcp_ip, tcp_ip/residual) on 5 of 12 targets; 7 accessible",
                       "signal: blocked (tls/sni) on 4 of 4 targets",
                       "twitter: accessible (9 of 9 targets)",
                   });
}

TEST_CASE("long targets are cut to the width, by code points", "[output]") {
  Report report;
  TargetResult result;
  result.target = make_target("signal", std::string(150, 'a') + ".signal.org", Kind::tls, 443);
  result.verdict = verdict(Status::accessible);
  report.results = {result};
  for (const std::size_t width : {std::size_t{60}, std::size_t{80}, std::size_t{100}}) {
    INFO(width);
    const auto lines = lines_of(render(report, width));
    REQUIRE(lines.size() == 5);
    CHECK(lines[2].size() == width);
    CHECK(lines[2].find("...  not tested  accessible") != std::string::npos);
    CHECK(lines[1].find("  direct      verdict") != std::string::npos);
  }
  // So narrow that nothing fits: the target keeps a readable minimum.
  CHECK(lines_of(render(report, 10))[2] == "  aaaaaaaaaaaaa...  not tested  accessible");

  // Non-ASCII text counts one column per code point, and is never cut inside a character.
  Report unicode;
  result.target.host = std::string("b\xC3\xBC") + std::string(40, 'c') + ".example";  // a width test only
  unicode.results = {result};
  const auto lines = lines_of(render(unicode, 45));
  CHECK(lines[2] == std::string("  b\xC3\xBC") + std::string(14, 'c') + "...  not tested  accessible");
  CHECK(lines[1] == "  target" + std::string(15, ' ') + "direct      verdict");
}

TEST_CASE("colours only when asked, one per status", "[output]") {
  const Report report = small_report();
  CHECK(render(report, 100, false).find('\033') == std::string::npos);
  const std::string coloured = render(report, 100, true);
  CHECK(coloured.find("\033[31mblocked tls/sni\033[0m\n") != std::string::npos);
  CHECK(coloured.find("\033[31mblocked dns\033[0m\n") != std::string::npos);
  CHECK(coloured.find("\033[33manomaly dns/bogon\033[0m\n") != std::string::npos);
  CHECK(coloured.find("\033[2mdown\033[0m\n") != std::string::npos);
  CHECK(coloured.find("\033[2minconclusive interrupted\033[0m\n") != std::string::npos);
  CHECK(coloured.find("\033[32maccessible\033[0m\n") != std::string::npos);
  CHECK(coloured.find("signal: \033[31mblocked\033[0m (tls/sni) on 1 of 2 targets") != std::string::npos);
  CHECK(coloured.find("  not judged\n") != std::string::npos);  // no verdict, no colour
  // Colours do not move the columns: without the escapes, the text is the same.
  std::string plain = coloured;
  for (const std::string code : {"\033[31m", "\033[32m", "\033[33m", "\033[2m", "\033[0m"}) {
    for (std::size_t at = plain.find(code); at != std::string::npos; at = plain.find(code)) {
      plain.erase(at, code.size());
    }
  }
  CHECK(plain == render(report, 100, false));
}

TEST_CASE("use_color: a terminal, TERM not dumb, NO_COLOR unset", "[output]") {
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  {
    EnvVar term("TERM", "xterm-256color");
    EnvVar no_color("NO_COLOR", nullptr);
    CHECK_FALSE(use_color(pipe_fds[1]));  // not a terminal
  }
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);

  const int master = ::posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0 || ::grantpt(master) != 0 || ::unlockpt(master) != 0) {
    if (master >= 0) {
      ::close(master);
    }
    PROBE_SKIP("the terminal cases need a pseudo-terminal, and none can be opened here");
  }
  const int tty = ::open(::ptsname(master), O_RDWR | O_NOCTTY);
  REQUIRE(tty >= 0);
  {
    EnvVar term("TERM", "xterm-256color");
    EnvVar no_color("NO_COLOR", nullptr);
    CHECK(use_color(tty));
  }
  {
    EnvVar term("TERM", "xterm-256color");
    EnvVar no_color("NO_COLOR", "1");
    CHECK_FALSE(use_color(tty));
  }
  {
    EnvVar term("TERM", "xterm-256color");
    EnvVar no_color("NO_COLOR", "");  // https://no-color.org: only a non-empty value disables colour
    CHECK(use_color(tty));
  }
  {
    EnvVar term("TERM", "dumb");
    EnvVar no_color("NO_COLOR", nullptr);
    CHECK_FALSE(use_color(tty));
  }
  CHECK(terminal_width(pipe_fds[1], 77) == 77);  // closed, so not a terminal
  ::close(tty);
  ::close(master);
}

TEST_CASE("input warnings: lists reviewed more than 90 days ago, or never", "[output]") {
  const std::chrono::sys_days today = std::chrono::year{2026} / std::chrono::November / 28;
  Report report;
  report.target_lists = {list_reviewed("/home/someone/lists/signal.json", iso_date(today - std::chrono::days(91))),
                         list_reviewed("twitter.json", iso_date(today - std::chrono::days(89))),
                         list_reviewed("facebook.json", iso_date(today - std::chrono::days(90))),
                         list_reviewed("clubhouse.json", std::nullopt)};
  TargetList adhoc;
  adhoc.file = "--url";
  adhoc.format = "url";
  report.target_lists.push_back(adhoc);
  CHECK(input_warnings(report, today) ==
        std::vector<std::string>{
            "signal.json was last reviewed 2026-08-29 (91 days ago): stale lists are the known source of false "
            "positives; review it",
            "clubhouse.json has no review date: stale lists are the known source of false positives; check its "
            "targets before trusting a blocked verdict",
        });
  report.target_lists = {list_reviewed("signal.json", "2026-01-02")};
  CHECK(input_warnings(report, today) ==
        std::vector<std::string>{"signal.json was last reviewed 2026-01-02 (330 days ago): stale lists are the known "
                                 "source of false positives; review it"});
  report.target_lists = {list_reviewed("signal.json", iso_date(today))};
  CHECK(input_warnings(report, today).empty());
}

TEST_CASE("the verdict's evidence, indented under its target", "[output]") {
  const Report report = small_report();
  const TargetResult& chat = report.results[2];
  REQUIRE(chat.target.host == "chat.signal.org");
  CHECK(render_verdict_evidence(chat) ==
        "  chat.signal.org:443 tls: blocked tls/sni\n"
        "    direct: TLS reset after the ClientHello; decoy SNI passed\n"
        "    control: handshake ok\n");
  CHECK(render_verdict_evidence(report.results[3]).empty());  // not judged
  CHECK(render_verdict_evidence(report.results[4]).empty());  // judged, no evidence

  TargetResult page;
  page.target = make_target("x", "x.example", Kind::http);
  page.verdict = verdict(Status::blocked, "http", "blockpage", {"title \"Zugriff verw\xC3\xA4hrt\x1B[2J\xC2\x9B\"\n"});
  page.verdict->signatures = {Signature::blockpage};
  CHECK(render_verdict_evidence(page) ==
        "  http://x.example/: blocked http/blockpage\n"
        "    title \"Zugriff verw\xC3\xA4hrt?[2J?\"?\n");
}

TEST_CASE("the progress line: nothing when disabled, rate-limited when enabled", "[output]") {
  std::ostringstream disabled_out;
  {
    ProgressLine progress(disabled_out, false);
    for (std::size_t k = 0; k <= 41; ++k) {
      progress.update(k, 41);
    }
    progress.finish();
  }
  CHECK(disabled_out.str().empty());

  std::ostringstream out;
  ProgressLine progress(out, true);
  const auto start = std::chrono::steady_clock::now();
  progress.update(12, 41);
  CHECK(out.str() == "\r[12/41] measuring...");
  for (std::size_t k = 0; k < 1000; ++k) {
    progress.update(k % 40, 41);
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  const auto allowed = 1 + static_cast<std::size_t>(elapsed / std::chrono::milliseconds(100));
  CHECK(count_of(out.str(), "\r") <= allowed);  // about ten a second at most, however often it is called

  std::this_thread::sleep_for(std::chrono::milliseconds(120));
  const std::size_t before = count_of(out.str(), "\r");
  progress.update(3, 41);
  CHECK(count_of(out.str(), "\r") == before + 1);
  CHECK(out.str().substr(out.str().rfind('\r')) == "\r[ 3/41] measuring...");
  progress.update(41, 41);  // the last one always shows
  CHECK(out.str().substr(out.str().rfind('\r')) == "\r[41/41] measuring...");

  progress.finish();
  CHECK(out.str().substr(out.str().size() - 22) == "\r" + std::string(20, ' ') + "\r");
  const std::size_t finished = out.str().size();
  progress.finish();  // once is enough
  CHECK(out.str().size() == finished);
}

TEST_CASE("probe run --json prints the report on stdout, the summary on stderr", "[output][cli]") {
  // A loopback port that accepts connections: the kernel completes them without accept().
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(listener >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(::listen(listener, 16) == 0);
  REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  const std::string url = "tcp://127.0.0.1:" + std::to_string(ntohs(address.sin_port));

  TempDir dir;
  const std::string out = (dir.path() / "reports").string();
  const std::vector<std::string> args = {"run", "--url", url, "--no-system-resolver", "--resolver", "127.0.0.1:9",
                                         "--allow-bogon", "127.0.0.0/8", "--timeout", "1", "--out", out};
  std::vector<std::string> with_json = args;
  with_json.push_back("--json");
  const auto result = run_probe(with_json);
  ::close(listener);
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  const json report = json::parse(result.out);  // nothing but the JSON on stdout
  CHECK(report["schema_version"] == 2);
  REQUIRE(report["results"].size() == 1);
  CHECK(report["results"][0]["paths"]["direct"]["endpoints"][0]["tcp"]["failure"] == nullptr);
  CHECK(result.out == read_file(only_report(out)));  // the same text as the file written
  // The summary went to stderr, without colours (not a terminal).
  const std::string label = url.substr(6) + " tcp";
  CHECK(result.err.find("adhoc\n  " + std::string("target").append(label.size() - 6, ' ') + "  direct  verdict\n  " +
                        label + "  ok      accessible\n") != std::string::npos);
  CHECK(result.err.find("adhoc: accessible (1 of 1 target)\n") != std::string::npos);
  CHECK(result.err.find('\033') == std::string::npos);

  // Quiet: no summary; without --json, the path of the report.
  std::vector<std::string> quiet = {"-q"};
  quiet.insert(quiet.end(), args.begin(), args.end());
  quiet.back() = (dir.path() / "quiet").string();
  const auto quiet_result = run_probe(quiet);
  REQUIRE(quiet_result.exit_code == 0);
  CHECK(quiet_result.out == only_report(dir.path() / "quiet").string() + "\n");
  CHECK(quiet_result.err.find("not judged") == std::string::npos);
}
