#include "analyst/ooni_export.hpp"

#include <openssl/ssl.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <sstream>

#include "analyst/observations.hpp"
#include "analyst/summary.hpp"
#include "model/steps.hpp"

namespace probe {

namespace {

using nlohmann::json;

json value_or_null(const json& object, const char* key) {
  const auto found = object.find(key);
  return found != object.end() ? *found : json();
}

// Seconds since the measurement's start (OONI's t0 and t): a step's t0_ms plus `duration_ms`
// (0 for its start), relative to the run's start, less the measurement's offset.
double seconds_since(double t0_ms, double duration_ms, double offset_s) {
  return std::round((t0_ms / 1000.0 + duration_ms / 1000.0 - offset_s) * 1e6) / 1e6;
}

std::string resolver_address(const std::string& label) {
  // "system:ADDR:PORT", "tcp:ADDR:PORT", "injection:ADDR:PORT", "doh:URL" or "ADDR:PORT".
  for (const char* prefix : {"system:", "tcp:", "injection:"}) {
    if (label.starts_with(prefix)) {
      return label.substr(std::char_traits<char>::length(prefix));
    }
  }
  return label.starts_with("doh:") ? label.substr(4) : label;
}

// The address alone of a resolver label: "10.0.0.1" from "system:10.0.0.1:53", "2001:db8::1" from
// "[2001:db8::1]:53", the host of a DoH URL.
std::string resolver_ip(const std::string& label) {
  std::string address = resolver_address(label);
  if (const auto scheme = address.find("://"); scheme != std::string::npos) {
    address = address.substr(scheme + 3);
    address = address.substr(0, address.find('/'));
  }
  if (address.starts_with("[")) {
    return address.substr(1, address.find(']') - 1);
  }
  const auto colon = address.rfind(':');
  return colon != std::string::npos && address.find(':') == colon ? address.substr(0, colon) : address;
}

std::string engine_of(const std::string& label) {
  if (label.starts_with("tcp:")) {
    return "tcp";
  }
  if (label.starts_with("doh:")) {
    return "doh";
  }
  return "udp";
}

std::string host_port(const std::string& address, long long port) {
  return address.find(':') != std::string::npos ? "[" + address + "]:" + std::to_string(port)
                                                : address + ":" + std::to_string(port);
}

json failure_json(const std::optional<FailureInfo>& failure) { return failure ? json(failure->str()) : json(); }

// A failure that ended a connection before it was made: the connection has no TLS handshake.
bool connect_failure(const std::optional<FailureInfo>& failure) {
  return failure && (failure->code == Failure::connection_refused || failure->code == Failure::host_unreachable ||
                     failure->code == Failure::network_unreachable);
}

// What the measurement needs to know beyond one path's observations.
struct Context {
  const TargetResult& result;
  json url;                // the result's (null for targets without one)
  std::string user_agent;  // what the report's run sent
  double offset_s = 0;
};

// The headers the HTTP step sent (steps/tls_http.cpp): Host as curl writes it (the port only
// when it is not the scheme's own), User-Agent, then the step's fixed ones.
json request_headers(const Context& context) {
  const Target& target = context.result.target;
  std::string host = target.host.find(':') != std::string::npos ? "[" + target.host + "]" : target.host;
  const std::uint16_t usual = target.kind == Kind::http ? 80 : 443;
  if (target.port && *target.port != usual) {
    host += ":" + std::to_string(*target.port);
  }
  json list = json::array({json::array({"Host", host})});
  if (!context.user_agent.empty()) {
    list.push_back(json::array({"User-Agent", context.user_agent}));
  }
  for (const HeaderLine& header : k_request_headers) {
    list.push_back(json::array({header.name, header.value}));
  }
  return list;
}

json headers_object(const json& headers_list) {
  json headers = json::object();
  for (const json& pair : headers_list) {
    const std::string name = pair[0];
    if (!headers.contains(name)) {
      headers[name] = pair[1];
    }
  }
  return headers;
}

// df-001: a transfer, with its response when one came (`http`), else only its failure.
json request_entry(const Context& context, const HttpObservation* http, const std::optional<FailureInfo>& failure,
                   const std::string& address, double t0_ms, double end_ms, long long transaction, json tags) {
  const json sent = request_headers(context);
  json response = {{"body", nullptr}, {"body_is_truncated", false}, {"code", 0}, {"headers", json::object()},
                   {"headers_list", json::array()}};
  if (http != nullptr) {
    json received = json::array();
    for (const auto& [name, value] : http->headers) {
      received.push_back(json::array({name, value}));
    }
    // The body's length and digest are kept, not its bytes: `null`, as OONI writes a body it did
    // not keep (an empty string would say the server sent nothing).
    response = {{"body", nullptr},
                {"body_is_truncated", http->body_truncated},
                {"code", http->status.value_or(0)},
                {"headers", headers_object(received)},
                {"headers_list", received},
                {"x_body_length", http->body_length},
                {"x_body_sha256", http->body_sha256 ? json(*http->body_sha256) : json()}};
  }
  return {{"address", address},
          {"failure", failure_json(failure)},
          {"request", {{"body", ""},
                       {"body_is_truncated", false},
                       {"headers", headers_object(sent)},
                       {"headers_list", sent},
                       {"method", "GET"},
                       {"tor", {{"exit_ip", nullptr}, {"exit_name", nullptr}, {"is_tor", false}}},
                       {"x_transport", "tcp"},
                       {"url", context.url}}},
          {"response", response},
          {"t0", seconds_since(t0_ms, 0, context.offset_s)},
          {"t", seconds_since(end_ms, 0, context.offset_s)},
          {"tags", std::move(tags)},
          {"transaction_id", transaction}};
}

json tcp_entry(const Context& context, const std::string& ip, long long port, const std::optional<FailureInfo>& failure,
               double t0_ms, double duration_ms, long long transaction, json tags) {
  return {{"ip", ip},
          {"port", port},
          {"status", {{"blocked", nullptr}, {"failure", failure_json(failure)}, {"success", !failure}}},
          {"t0", seconds_since(t0_ms, 0, context.offset_s)},
          {"t", seconds_since(t0_ms, duration_ms, context.offset_s)},
          {"tags", std::move(tags)},
          {"transaction_id", transaction}};
}

json tls_entry(const Context& context, const std::string& address, const std::string& sni,
               const std::optional<FailureInfo>& failure, double t0_ms, double duration_ms, long long transaction,
               bool no_verify, json tags, const TlsObservation* tls) {
  json certificates = json::array();
  if (tls != nullptr) {
    for (const CertificateInfo& certificate : tls->chain) {
      if (!certificate.der_base64.empty()) {
        certificates.push_back({{"format", "base64"}, {"data", certificate.der_base64}});
      }
    }
  }
  return {{"address", address},
          {"cipher_suite", tls != nullptr ? iana_cipher_name(tls->cipher.value_or("")) : ""},
          {"failure", failure_json(failure)},
          {"negotiated_protocol", tls != nullptr ? tls->alpn.value_or("") : ""},
          {"no_tls_verify", no_verify},
          {"peer_certificates", certificates},
          {"server_name", sni},
          {"tags", std::move(tags)},
          {"t0", seconds_since(t0_ms, 0, context.offset_s)},
          {"t", seconds_since(t0_ms, duration_ms, context.offset_s)},
          {"tls_version", tls != nullptr ? tls->version.value_or("") : ""},
          {"transaction_id", transaction}};
}

// df-002, df-005, df-006 and df-001 lists for one path's observations. Every connection has its
// own transaction, with its own `tcp_connect`: the steps' connection (TCP, then the real
// handshake and the transfer), the decoy handshake's (listed after the real one) and the
// re-test's. A follow-up's TCP connect is not timed apart from its handshake or transfer: its
// entry starts and ends when the follow-up started, and fails only when the follow-up's failure
// is one of connecting (refused, unreachable). STUN exchanges (stunreachability) go to `stun`.
json network_keys(const Context& context, const std::string& path, json& stun) {
  json keys = {{"queries", json::array()}, {"tcp_connect", json::array()}, {"tls_handshakes", json::array()},
               {"requests", json::array()}};
  const TargetResult& result = context.result;
  const auto found = result.paths.find(path);
  if (found == result.paths.end()) {
    return keys;
  }
  const PathObservations& observed = found->second;
  const Target& target = result.target;
  const bool web = target.kind == Kind::http || target.kind == Kind::https;
  long long transaction = 0;
  for (const DnsQuery& query : observed.queries) {
    json answers = json::array();
    for (const DnsAnswer& answer : query.answers) {
      json out = {{"answer_type", answer.type}, {"ttl", answer.ttl}};
      out[answer.type == "A" ? "ipv4" : answer.type == "AAAA" ? "ipv6" : "hostname"] = answer.value;
      answers.push_back(std::move(out));
    }
    keys["queries"].push_back({{"answers", answers},
                               {"engine", engine_of(query.resolver)},
                               {"failure", failure_json(query.failure)},
                               {"hostname", target.host},
                               {"query_type", query.type},
                               {"raw_response", query.raw_base64},
                               {"rcode", query.rcode ? json(*query.rcode) : json()},
                               {"resolver_address", resolver_address(query.resolver)},
                               {"resolver_hostname", nullptr},
                               {"resolver_port", nullptr},
                               {"t0", seconds_since(query.t0_ms, 0, context.offset_s)},
                               {"t", seconds_since(query.t0_ms, query.duration_ms, context.offset_s)},
                               {"transaction_id", ++transaction}});
  }
  for (const EndpointObservation& endpoint : observed.endpoints) {
    const std::string& ip = endpoint.address;
    const long long port = endpoint.port;
    const std::string address = host_port(ip, port);
    const long long connection = ++transaction;
    if (endpoint.stun) {
      stun.push_back({{"address", address},
                      {"failure", failure_json(endpoint.stun->failure)},
                      {"t0", seconds_since(endpoint.stun->t0_ms, 0, context.offset_s)},
                      {"t", seconds_since(endpoint.stun->t0_ms, endpoint.stun->duration_ms, context.offset_s)},
                      {"transaction_id", connection}});
    }
    if (endpoint.tcp) {
      const TcpObservation& tcp = *endpoint.tcp;
      keys["tcp_connect"].push_back(
          tcp_entry(context, ip, port, tcp.failure, tcp.t0_ms, tcp.duration_ms, connection, json::array()));
    }
    if (endpoint.tls) {
      const TlsObservation& tls = *endpoint.tls;
      keys["tls_handshakes"].push_back(tls_entry(context, address, tls.sni, tls.failure, tls.t0_ms, tls.duration_ms,
                                                 connection, false, json::array(), &tls));
    }
    if (endpoint.http) {
      const HttpObservation& http = *endpoint.http;
      keys["requests"].push_back(request_entry(context, &http, http.failure, address, http.t0_ms,
                                               http.t0_ms + http.duration_ms, connection, json::array()));
    } else if (web && endpoint.tcp) {
      // A transfer that failed before its response: the step that ended it gives its failure.
      const std::vector<RecordedStep> steps = recorded_steps(endpoint);
      const RecordedStep& last = steps.back();
      keys["requests"].push_back(request_entry(context, nullptr, last.timing->failure, address, endpoint.tcp->t0_ms,
                                               last.timing->t0_ms + last.timing->duration_ms, connection,
                                               json::array()));
    }
    if (endpoint.decoy_tls) {
      const TlsObservation& decoy = *endpoint.decoy_tls;
      const long long id = ++transaction;
      const json tags = json::array({"decoy_sni"});
      const bool refused = connect_failure(decoy.failure);
      keys["tcp_connect"].push_back(tcp_entry(context, ip, port, refused ? decoy.failure : std::nullopt, decoy.t0_ms,
                                              refused ? decoy.duration_ms : 0, id, tags));
      if (!refused) {
        keys["tls_handshakes"].push_back(tls_entry(context, address, decoy.sni, decoy.failure, decoy.t0_ms,
                                                   decoy.duration_ms, id, true, tags, &decoy));
      }
    }
    if (endpoint.retest && endpoint.retest->step != "stun") {
      const RetestObservation& retest = *endpoint.retest;
      const long long id = ++transaction;
      const json tags = json::array({"retest"});
      const bool refused = retest.step == "tcp" || connect_failure(retest.failure);
      keys["tcp_connect"].push_back(tcp_entry(context, ip, port, refused ? retest.failure : std::nullopt,
                                              retest.t0_ms, refused ? retest.duration_ms : 0, id, tags));
      if (!refused && retest.step == "tls") {
        const std::string sni = endpoint.tls ? endpoint.tls->sni : target.host;
        keys["tls_handshakes"].push_back(tls_entry(context, address, sni, retest.failure, retest.t0_ms,
                                                   retest.duration_ms, id, false, tags, nullptr));
      }
      // A re-test that got through kept no response: its connection says it got through.
      if (!refused && retest.step == "http" && retest.failure) {
        keys["requests"].push_back(request_entry(context, nullptr, retest.failure, address, retest.t0_ms,
                                                 retest.t0_ms + retest.duration_ms, id, tags));
      }
    } else if (endpoint.retest) {
      const RetestObservation& retest = *endpoint.retest;
      stun.push_back({{"address", address},
                      {"failure", failure_json(retest.failure)},
                      {"tags", json::array({"retest"})},
                      {"t0", seconds_since(retest.t0_ms, 0, context.offset_s)},
                      {"t", seconds_since(retest.t0_ms, retest.duration_ms, context.offset_s)},
                      {"transaction_id", ++transaction}});
    }
  }
  return keys;
}

// Calls `visit(t0_ms, end_ms)` for every exchange of the result, on every path: queries, steps,
// the decoy, re-tests and the throughput phase's samples.
template <typename Visit>
void for_each_exchange(const TargetResult& result, Visit visit) {
  const auto step = [&](const auto& timing) { visit(timing.t0_ms, timing.t0_ms + timing.duration_ms); };
  for (const auto& [name, observed] : result.paths) {
    for (const DnsQuery& query : observed.queries) {
      step(query);
    }
    for (const EndpointObservation& endpoint : observed.endpoints) {
      for (const RecordedStep& recorded : recorded_steps(endpoint)) {
        step(*recorded.timing);
      }
      if (endpoint.decoy_tls) {
        step(*endpoint.decoy_tls);
      }
      if (endpoint.retest) {
        step(*endpoint.retest);
      }
      if (endpoint.throughput) {
        for (const auto* sample : {&endpoint.throughput->sample, &endpoint.throughput->handshake,
                                   &endpoint.throughput->decoy_handshake, &endpoint.throughput->decoy_sample}) {
          if (*sample) {
            step(**sample);
          }
        }
      }
    }
  }
}

// The measurement's start: the result's first exchange, in whole seconds since the run's start.
long long start_offset_s(const TargetResult& result) {
  double earliest = -1;
  for_each_exchange(result, [&](double t0_ms, double) { earliest = earliest < 0 ? t0_ms : std::min(earliest, t0_ms); });
  return earliest < 0 ? 0 : static_cast<long long>(earliest / 1000.0);
}

// Seconds from the measurement's start to the end of its last exchange, on every path.
double runtime_s(const TargetResult& result, double offset_s) {
  double last_ms = 0;
  for_each_exchange(result, [&](double, double end_ms) { last_ms = std::max(last_ms, end_ms); });
  return std::max(0.0, seconds_since(last_ms, 0, offset_s));
}

// The measurement's `failure` on direct: null when the target was reached (an answer for a dns
// target, every step of an endpoint's plan, or the re-test of the one that failed), else the first
// endpoint's failure, or the first query's when no endpoint was tried.
json overall_failure(const TargetResult& result) {
  const auto found = result.paths.find("direct");
  if (found == result.paths.end()) {
    return nullptr;
  }
  const PathObservations& observed = found->second;
  std::optional<FailureInfo> first;
  for (const DnsQuery& query : observed.queries) {
    if (!query.failure && result.target.kind == Kind::dns) {
      return nullptr;
    }
    if (query.failure && !first) {
      first = query.failure;
    }
  }
  std::optional<FailureInfo> endpoint_failure;
  for (const EndpointObservation& endpoint : observed.endpoints) {
    const Attempt attempt = read_attempt(endpoint, result.target.kind);
    if (attempt.outcome == Outcome::works) {
      return nullptr;
    }
    if (attempt.outcome == Outcome::failed && !endpoint_failure) {
      endpoint_failure = attempt.failure;
    }
  }
  return failure_json(endpoint_failure ? endpoint_failure : first);
}

std::string input_of(const TargetResult& result, const json& url) {
  const Target& target = result.target;
  const std::string port = target.port ? std::to_string(*target.port) : std::string("0");
  const std::string host = target.host.find(':') != std::string::npos ? "[" + target.host + "]" : target.host;
  switch (target.kind) {
    case Kind::http:
    case Kind::https:
      return url.is_string() ? url.get<std::string>() : target.url();
    case Kind::tls:
      return "tlshandshake://" + host + ":" + port;
    case Kind::tcp:
      return "tcpconnect://" + host + ":" + port;
    case Kind::stun:
      return "stun://" + host + ":" + port;
    case Kind::dns:
      break;
  }
  return "dnslookup://" + host;
}

std::string compact_time(const std::string& rfc3339) {
  std::string compact;
  for (char c : rfc3339) {
    if (c != '-' && c != ':') {
      compact += c;
    }
  }
  return compact;
}

// OONI's names of the machine the export runs on (its GOARCH words); reports do not record it.
std::string architecture() {
  utsname names{};
  if (uname(&names) != 0) {
    return "unknown";
  }
  const std::string machine = names.machine;
  if (machine == "x86_64") {
    return "amd64";
  }
  if (machine == "aarch64") {
    return "arm64";
  }
  if (machine == "i386" || machine == "i686") {
    return "386";
  }
  return machine.starts_with("arm") ? "arm" : machine;
}

std::string alnum(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c)) != 0) {
      out += c;
    }
  }
  return out.empty() ? "0" : out;
}

std::string join(const std::vector<std::string>& values, const char* separator) {
  std::string text;
  for (const std::string& value : values) {
    text += (text.empty() ? "" : separator) + value;
  }
  return text;
}

}  // namespace

std::optional<std::string> normal_asn(const std::string& text) {
  if (text.size() < 3 || text.size() > 22 || !text.starts_with("AS") ||
      !std::all_of(text.begin() + 2, text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  const auto digits = text.find_first_not_of('0', 2);
  if (digits == std::string::npos) {
    return "AS0";
  }
  // AS numbers are 32-bit.
  if (text.size() - digits > 10 || std::stoull(text.substr(digits)) > 4294967295ULL) {
    return std::nullopt;
  }
  return "AS" + text.substr(digits);
}

std::optional<std::string> normal_cc(const std::string& text) {
  if (text.size() != 2 || !std::all_of(text.begin(), text.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
      })) {
    return std::nullopt;
  }
  std::string upper = text;
  for (char& c : upper) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return upper;
}

OoniVantage ooni_vantage(const LoadedReport& report, const OoniOptions& options) {
  const json vantage = report.json.value("vantage", json::object());
  OoniVantage out;
  const std::optional<std::string> asn = options.probe_asn ? options.probe_asn : optional_string(vantage, "asn");
  const std::optional<std::string> cc = options.probe_cc ? options.probe_cc : optional_string(vantage, "cc");
  const std::optional<std::string> good_asn = asn ? normal_asn(*asn) : std::nullopt;
  const std::optional<std::string> good_cc = cc ? normal_cc(*cc) : std::nullopt;
  out.asn = good_asn.value_or("AS0");
  out.cc = good_cc.value_or("ZZ");
  const std::string why = asn ? "the report's asn \"" + *asn + "\" is not AS followed by a number" : "no --probe-asn and no asn in the report";
  if (out.asn == "AS0") {
    out.warnings.push_back(report.file_name + ": probe_asn is AS0 (" + (good_asn ? "as given" : why) +
                           "): OONI's collector discards such measurements; give --probe-asn");
  }
  if (out.cc == "ZZ") {
    const std::string why_cc = cc ? (good_cc ? "as given" : "the report's cc \"" + *cc + "\" is not two letters")
                                  : "no --probe-cc and no cc in the report";
    out.warnings.push_back(report.file_name + ": probe_cc is ZZ (" + why_cc +
                           "): OONI's collector discards such measurements; give --probe-cc");
  }
  return out;
}

std::string ooni_time(const std::string& rfc3339, long long seconds) {
  std::tm parts{};
  if (rfc3339.size() < 19 || std::sscanf(rfc3339.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &parts.tm_year, &parts.tm_mon,
                                         &parts.tm_mday, &parts.tm_hour, &parts.tm_min, &parts.tm_sec) != 6) {
    return "1970-01-01 00:00:00";
  }
  parts.tm_year -= 1900;
  parts.tm_mon -= 1;
  const std::time_t time = timegm(&parts) + static_cast<std::time_t>(seconds);
  std::tm shifted{};
  gmtime_r(&time, &shifted);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S", &shifted);
  return buffer;
}

std::string iana_cipher_name(const std::string& openssl_name) {
  if (openssl_name.empty() || openssl_name.starts_with("TLS_")) {
    return openssl_name;
  }
  // Every suite this OpenSSL knows, by its own name (security level 0: old suites included).
  static const std::map<std::string, std::string> names = [] {
    std::map<std::string, std::string> table;
    SSL_CTX* context = SSL_CTX_new(TLS_method());
    if (context == nullptr) {
      return table;
    }
    if (SSL_CTX_set_cipher_list(context, "ALL:COMPLEMENTOFALL:@SECLEVEL=0") == 1) {
      const STACK_OF(SSL_CIPHER)* ciphers = SSL_CTX_get_ciphers(context);
      for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); ++i) {
        const SSL_CIPHER* cipher = sk_SSL_CIPHER_value(ciphers, i);
        if (const char* standard = SSL_CIPHER_standard_name(cipher)) {
          table.emplace(SSL_CIPHER_get_name(cipher), standard);
        }
      }
    }
    SSL_CTX_free(context);
    return table;
  }();
  const auto found = names.find(openssl_name);
  return found != names.end() ? found->second : std::string();
}

std::vector<json> ooni_measurements(const LoadedReport& report, const OoniOptions& options) {
  const json& top = report.json;
  const OoniVantage vantage = ooni_vantage(report, options);
  const std::string asn_number = vantage.asn.substr(2);
  const std::string started = optional_string(top, "started_at").value_or("");
  const std::string random = alnum(optional_string(top, "run_id").value_or(""));
  const json report_options = top.value("options", json::object());
  const std::string user_agent = optional_string(report_options, "user_agent").value_or("");
  const std::string engine_version = optional_string(top, "probe_version").value_or("");
  json helpers = json::object();
  if (const auto paths = top.find("paths"); paths != top.end() && paths->is_array()) {
    for (const json& path : *paths) {
      const std::string name = optional_string(path, "name").value_or("");
      if (!name.empty() && name != "direct") {
        helpers[name] = {{"type", optional_string(path, "kind").value_or("")},
                         {"health", optional_string(path, "health").value_or("")}};
      }
    }
  }
  std::string resolver;
  if (const auto resolvers = report_options.find("resolvers");
      resolvers != report_options.end() && resolvers->is_array() && !resolvers->empty() && (*resolvers)[0].is_string()) {
    resolver = resolver_ip((*resolvers)[0].get<std::string>());
  }
  const std::string arch = architecture();
  std::vector<json> out;
  for (std::size_t index = 0; index < report.results.size(); ++index) {
    const json& result = top["results"][index];
    const TargetResult& typed = report.results[index];
    const bool stun_target = typed.target.kind == Kind::stun;
    const std::string test_name = stun_target ? "stunreachability" : "urlgetter";
    const long long offset = start_offset_s(typed);
    const Context context{typed, value_or_null(result, "url"), user_agent, static_cast<double>(offset)};
    json stun = json::array();
    json keys = network_keys(context, "direct", stun);
    json controls = json::object();
    for (const std::string& path : path_names(typed)) {
      if (path != "direct") {
        json control_stun = json::array();
        controls[path] = network_keys(context, path, control_stun);
        if (stun_target) {
          controls[path]["x_stun"] = control_stun;
        }
      }
    }
    keys["failure"] = overall_failure(typed);
    keys["x_control_paths"] = controls;
    keys["x_probe_verdict"] = value_or_null(result, "verdict");
    json extensions = {{"dnst", 0}};
    if (stun_target) {
      const std::string host = typed.target.host.find(':') != std::string::npos ? "[" + typed.target.host + "]"
                                                                                 : typed.target.host;
      keys["endpoint"] = host + ":" + std::to_string(typed.target.port.value_or(0));
      keys["x_stun"] = stun;
      // stunreachability has no lists of connections: the STUN exchanges are under x_stun.
      for (const char* list : {"tcp_connect", "tls_handshakes", "requests"}) {
        keys.erase(list);
      }
    } else {
      keys["agent"] = "agent";  // redirects are recorded, never followed
      extensions.update({{"httpt", 0}, {"tcpconnect", 0}, {"tlshandshake", 0}});
    }
    json annotations = {{"app", typed.target.app},
                        {"architecture", arch},
                        {"engine_name", "probe"},
                        {"engine_version", engine_version},
                        {"platform", "linux"},
                        {"target_kind", std::string(to_string(typed.target.kind))},
                        {"report_file", report.file_name},
                        {"interrupted", top.value("interrupted", false) ? "true" : "false"}};
    if (const auto id = optional_string(top.value("vantage", json::object()), "id")) {
      annotations["vantage"] = *id;
    }
    std::string short_name = test_name;
    std::erase(short_name, '_');
    out.push_back({{"annotations", annotations},
                   {"data_format_version", "0.2.0"},
                   {"extensions", extensions},
                   {"input", input_of(typed, context.url)},
                   {"measurement_start_time", ooni_time(started, offset)},
                   {"probe_asn", vantage.asn},
                   {"probe_cc", vantage.cc},
                   {"probe_ip", "127.0.0.1"},
                   {"report_id", compact_time(started) + "_" + short_name + "_" + vantage.cc + "_" + asn_number +
                                     "_n0_" + random},
                   {"resolver_ip", resolver},
                   {"software_name", "probe"},
                   {"software_version", engine_version},
                   {"test_helpers", helpers},
                   {"test_keys", keys},
                   {"test_name", test_name},
                   {"test_runtime", runtime_s(typed, context.offset_s)},
                   {"test_start_time", ooni_time(started)},
                   {"test_version", k_ooni_test_version}});
  }
  return out;
}

std::string export_csv_header() {
  return "report,run_id,started_at,app,host,port,kind,path,dns_answers,dns_failure,tcp_failure,tls_failure,"
         "http_failure,http_status,verdict_status,method\r\n";
}

std::string export_csv_rows(const LoadedReport& report) {
  std::ostringstream out;
  const std::string run_id = optional_string(report.json, "run_id").value_or("");
  const std::string started = optional_string(report.json, "started_at").value_or("");
  for (std::size_t index = 0; index < report.results.size(); ++index) {
    const json& result = report.json["results"][index];
    const TargetResult& typed = report.results[index];
    const TargetKey key = target_key(result);
    const json verdict = value_or_null(result, "verdict");
    for (const std::string& path : path_names(typed)) {
      std::vector<std::string> statuses;
      for (long long status : http_statuses(typed, path)) {
        statuses.push_back(std::to_string(status));
      }
      out << csv_field(report.file_name) << "," << run_id << "," << started << "," << csv_field(key.app) << ","
          << csv_field(key.host) << "," << (key.port ? std::to_string(*key.port) : std::string()) << ","
          << csv_field(key.kind) << "," << csv_field(path) << "," << csv_field(join(dns_answers(typed, path), " "))
          << "," << csv_field(join(query_failures(typed, path), ";")) << ","
          << csv_field(join(step_failures(typed, path, Step::tcp), ";")) << ","
          << csv_field(join(step_failures(typed, path, Step::tls), ";")) << ","
          << csv_field(join(step_failures(typed, path, Step::http), ";")) << "," << csv_field(join(statuses, " ")) << ","
          << (verdict.is_object() ? optional_string(verdict, "status").value_or("") : std::string()) << ","
          << (verdict.is_object() ? optional_string(verdict, "method").value_or("") : std::string()) << "\r\n";
    }
  }
  return out.str();
}

}  // namespace probe
