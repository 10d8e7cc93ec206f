#include "model/report_json.hpp"

#include <cmath>
#include <limits>
#include <string_view>
#include <utility>

#include "core/error.hpp"
#include "core/exit_codes.hpp"
#include "model/signature.hpp"

namespace probe {

using nlohmann::json;

namespace {

json signature_names(const std::vector<Signature>& signatures) {
  json out = json::array();
  for (Signature signature : signatures) {
    out.push_back(to_string(signature));
  }
  return out;
}

template <typename T>
json optional_json(const std::optional<T>& value) {
  return value ? json(*value) : json(nullptr);
}

json failure_json(const std::optional<FailureInfo>& failure) {
  return failure ? json(failure->str()) : json(nullptr);
}

// Milliseconds with microsecond resolution: enough for timings, and stable across dumps.
double round_ms(double ms) { return static_cast<double>(static_cast<long long>(ms * 1000.0 + 0.5)) / 1000.0; }

void add_timing(json& out, const StepTiming& step) {
  out["failure"] = failure_json(step.failure);
  out["t0_ms"] = round_ms(step.t0_ms);
  out["duration_ms"] = round_ms(step.duration_ms);
}

json query_json(const DnsQuery& query) {
  json answers = json::array();
  for (const auto& answer : query.answers) {
    answers.push_back({{"type", answer.type}, {"value", answer.value}, {"ttl", answer.ttl},
                       {"bogon", answer.bogon}});
  }
  return {
      {"resolver", query.resolver},
      {"type", query.type},
      {"rcode", optional_json(query.rcode)},
      {"answers", answers},
      {"cname_chain", query.cname_chain},
      {"answers_truncated", query.answers_truncated},
      {"failure", failure_json(query.failure)},
      {"t0_ms", round_ms(query.t0_ms)},
      {"duration_ms", round_ms(query.duration_ms)},
      {"raw_base64", query.raw_base64},
      {"raw_truncated", query.raw_truncated},
  };
}

// What the connection carried on the wire and how long it then sat idle, on the step that ended
// it: TLS (a handshake-only step) and HTTP observations record the same fields.
template <typename Step>
void add_wire(json& out, const Step& step) {
  if (step.bytes_received) {
    out["bytes_received"] = *step.bytes_received;
    out["bytes_sent"] = step.bytes_sent.value_or(0);
  }
  if (step.idle_ms) {
    out["idle_ms"] = *step.idle_ms;
  }
}

json tls_json(const TlsObservation& tls) {
  json out;
  add_timing(out, tls);
  json chain = json::array();
  for (const auto& cert : tls.chain) {
    chain.push_back({{"subject", cert.subject}, {"issuer", cert.issuer}, {"sha256", cert.sha256}});
  }
  out["sni"] = tls.sni;
  out["decoy_sni"] = tls.decoy_sni;
  out["version"] = optional_json(tls.version);
  out["cipher"] = optional_json(tls.cipher);
  out["alpn"] = optional_json(tls.alpn);
  out["verified"] = tls.verified;
  out["verify_error"] = optional_json(tls.verify_error);
  out["chain"] = chain;
  out["root"] = optional_json(tls.root);
  add_wire(out, tls);
  return out;
}

json http_json(const HttpObservation& http) {
  json out;
  add_timing(out, http);
  json headers = json::array();
  for (const auto& [name, value] : http.headers) {
    headers.push_back(json::array({name, value}));
  }
  out["status"] = optional_json(http.status);
  out["headers"] = headers;
  out["headers_truncated"] = http.headers_truncated;
  out["title"] = optional_json(http.title);
  out["body_length"] = http.body_length;
  out["body_sha256"] = optional_json(http.body_sha256);
  out["body_truncated"] = http.body_truncated;
  out["bytes"] = http.bytes;
  out["location"] = optional_json(http.location);
  if (http.body_stop) {
    out["body_stop"] = *http.body_stop;
  }
  add_wire(out, http);
  return out;
}

json rate_json(const RateSample& sample) {
  json out;
  add_timing(out, sample);
  out["bytes"] = sample.bytes;
  out["rate"] = sample.rate ? json(std::round(*sample.rate)) : json(nullptr);
  if (sample.body_stop) {
    out["body_stop"] = *sample.body_stop;
  }
  return out;
}

json throughput_json(const ThroughputObservation& throughput) {
  json out = {{"not_tested", optional_json(throughput.not_tested)}};
  const std::pair<const char*, const std::optional<RateSample>*> parts[] = {
      {"sample", &throughput.sample},
      {"handshake", &throughput.handshake},
      {"decoy_handshake", &throughput.decoy_handshake},
      {"decoy_sample", &throughput.decoy_sample}};
  for (const auto& [name, part] : parts) {
    out[name] = *part ? rate_json(**part) : json(nullptr);
  }
  return out;
}

json endpoint_json(const EndpointObservation& endpoint) {
  json out = {
      {"address", endpoint.address},
      {"port", endpoint.port},
      {"family", endpoint.family},
      {"sources", endpoint.sources},
      {"not_tested", optional_json(endpoint.not_tested)},
      {"tcp", nullptr},
      {"tls", nullptr},
      {"http", nullptr},
      {"stun", nullptr},
      {"decoy_tls", nullptr},
      {"retest", nullptr},
      {"residual", endpoint.residual},
  };
  if (endpoint.decoy_tls) {
    out["decoy_tls"] = tls_json(*endpoint.decoy_tls);
  }
  if (endpoint.retest) {
    json retest;
    add_timing(retest, *endpoint.retest);
    retest["step"] = endpoint.retest->step;
    if (endpoint.retest->budget_ms) {
      retest["budget_ms"] = *endpoint.retest->budget_ms;
    }
    out["retest"] = retest;
  }
  if (endpoint.tcp) {
    json tcp;
    add_timing(tcp, *endpoint.tcp);
    out["tcp"] = tcp;
  }
  if (endpoint.tls) {
    out["tls"] = tls_json(*endpoint.tls);
  }
  if (endpoint.http) {
    out["http"] = http_json(*endpoint.http);
  }
  if (endpoint.throughput) {
    out["throughput"] = throughput_json(*endpoint.throughput);
  }
  if (endpoint.stun) {
    json stun;
    add_timing(stun, *endpoint.stun);
    out["stun"] = stun;
  }
  return out;
}

}  // namespace

json verdict_to_json(const std::optional<Verdict>& verdict) {
  if (!verdict) {
    return nullptr;
  }
  return {
      {"status", to_string(verdict->status)},
      {"method", optional_json(verdict->method)},
      {"methods", verdict->methods},
      {"signatures", signature_names(verdict->signatures)},
      {"detail", verdict->detail},
      {"evidence", verdict->evidence},
  };
}

json result_to_json(const TargetResult& result, const std::optional<Verdict>& verdict) {
  const Target& target = result.target;
  json paths = json::object();
  for (const auto& [name, observations] : result.paths) {
    json queries = json::array();
    for (const auto& query : observations.queries) {
      queries.push_back(query_json(query));
    }
    json endpoints = json::array();
    for (const auto& endpoint : observations.endpoints) {
      endpoints.push_back(endpoint_json(endpoint));
    }
    paths[name] = {{"queries", queries}, {"endpoints", endpoints}};
  }
  const std::string url = target.url();
  return {
      {"app", target.app},
      {"host", target.host},
      {"port", optional_json(target.port)},
      {"kind", to_string(target.kind)},
      {"url", url.empty() ? json(nullptr) : json(url)},
      {"paths", paths},
      {"verdict", verdict_to_json(verdict)},
      {"cut", json::array()},
  };
}


// --- Reading back.

namespace {

// Where a value is: the file and result (`where`), and the JSON path inside the result.
struct At {
  const std::string& where;
  std::string path;

  At operator/(std::string_view key) const { return At{where, path + "/" + std::string(key)}; }
  At operator/(std::size_t index) const { return At{where, path + "/" + std::to_string(index)}; }

  [[noreturn]] void wrong(std::string_view expected, const json& got) const {
    throw UserError(exit_code::k_data_error,
                    where + path + ": expected " + std::string(expected) + ", got " + shown_json(got));
  }
};

// The member `key` of `object`, or nullptr when it is missing or null.
const json* member(const json& object, const char* key) {
  const auto found = object.find(key);
  return found == object.end() || found->is_null() ? nullptr : &*found;
}

const json& object_at(const json& value, const At& at) {
  if (!value.is_object()) {
    at.wrong("an object", value);
  }
  return value;
}

std::optional<std::string> read_optional_string(const json& object, const char* key, const At& at) {
  const json* value = member(object, key);
  if (value == nullptr) {
    return std::nullopt;
  }
  if (!value->is_string()) {
    (at / key).wrong("a string", *value);
  }
  return value->get<std::string>();
}

std::string read_string(const json& object, const char* key, const At& at) {
  return read_optional_string(object, key, at).value_or("");
}

bool read_bool(const json& object, const char* key, const At& at) {
  const json* value = member(object, key);
  if (value == nullptr) {
    return false;
  }
  if (!value->is_boolean()) {
    (at / key).wrong("true or false", *value);
  }
  return value->get<bool>();
}

std::optional<double> read_optional_number(const json& object, const char* key, const At& at) {
  const json* value = member(object, key);
  if (value == nullptr) {
    return std::nullopt;
  }
  if (!value->is_number() || !std::isfinite(value->get<double>())) {
    (at / key).wrong("a number", *value);
  }
  return value->get<double>();
}

// A whole number in [low, high].
std::optional<std::uint64_t> read_optional_count(const json& object, const char* key, const At& at,
                                                 std::uint64_t high = std::numeric_limits<std::uint64_t>::max()) {
  const json* value = member(object, key);
  if (value == nullptr) {
    return std::nullopt;
  }
  if (value->is_number_unsigned() && value->get<std::uint64_t>() <= high) {
    return value->get<std::uint64_t>();
  }
  if (value->is_number_integer() && value->get<std::int64_t>() >= 0 &&
      static_cast<std::uint64_t>(value->get<std::int64_t>()) <= high) {
    return static_cast<std::uint64_t>(value->get<std::int64_t>());
  }
  (at / key).wrong("a whole number from 0 to " + std::to_string(high), *value);
}

std::vector<std::string> read_strings(const json& object, const char* key, const At& at) {
  std::vector<std::string> out;
  const json* value = member(object, key);
  if (value == nullptr) {
    return out;
  }
  if (!value->is_array()) {
    (at / key).wrong("an array of strings", *value);
  }
  for (std::size_t i = 0; i < value->size(); ++i) {
    if (!(*value)[i].is_string()) {
      (at / key / i).wrong("a string", (*value)[i]);
    }
    out.push_back((*value)[i].get<std::string>());
  }
  return out;
}

// The array `key` of `object` (empty when missing or null), each element read by `read`.
template <typename Read>
auto read_array(const json& object, const char* key, const At& at, Read read) {
  std::vector<decltype(read(json(), at))> out;
  const json* value = member(object, key);
  if (value == nullptr) {
    return out;
  }
  if (!value->is_array()) {
    (at / key).wrong("an array", *value);
  }
  for (std::size_t i = 0; i < value->size(); ++i) {
    out.push_back(read((*value)[i], at / key / i));
  }
  return out;
}

std::optional<FailureInfo> read_failure(const json& object, const At& at) {
  const std::optional<std::string> text = read_optional_string(object, "failure", at);
  if (!text) {
    return std::nullopt;
  }
  const std::string_view unknown = "unknown_failure: ";
  if (text->starts_with(unknown)) {
    return FailureInfo{Failure::unknown_failure, text->substr(unknown.size())};
  }
  if (const auto code = failure_from_string(*text); code && *code != Failure::unknown_failure) {
    return FailureInfo{*code, ""};
  }
  (at / "failure").wrong("a failure string (reports/README.md, \"Failure strings\")", json(*text));
}

void read_timing(const json& object, const At& at, StepTiming& out) {
  out.failure = read_failure(object, at);
  out.t0_ms = read_optional_number(object, "t0_ms", at).value_or(0);
  out.duration_ms = read_optional_number(object, "duration_ms", at).value_or(0);
}

DnsQuery read_query(const json& value, const At& at) {
  const json& object = object_at(value, at);
  DnsQuery query;
  query.resolver = read_string(object, "resolver", at);
  query.type = read_string(object, "type", at);
  query.rcode = read_optional_string(object, "rcode", at);
  query.answers = read_array(object, "answers", at, [](const json& item, const At& here) {
    const json& answer = object_at(item, here);
    DnsAnswer out;
    out.type = read_string(answer, "type", here);
    out.value = read_string(answer, "value", here);
    out.ttl = static_cast<std::uint32_t>(
        read_optional_count(answer, "ttl", here, std::numeric_limits<std::uint32_t>::max()).value_or(0));
    out.bogon = read_bool(answer, "bogon", here);
    return out;
  });
  query.cname_chain = read_strings(object, "cname_chain", at);
  query.answers_truncated = read_bool(object, "answers_truncated", at);
  query.failure = read_failure(object, at);
  query.t0_ms = read_optional_number(object, "t0_ms", at).value_or(0);
  query.duration_ms = read_optional_number(object, "duration_ms", at).value_or(0);
  query.raw_base64 = read_string(object, "raw_base64", at);
  query.raw_truncated = read_bool(object, "raw_truncated", at);
  return query;
}

// add_wire's fields read back.
template <typename Step>
void read_wire(const json& object, const At& at, Step& step) {
  step.bytes_received = read_optional_count(object, "bytes_received", at);
  if (step.bytes_received) {
    step.bytes_sent = read_optional_count(object, "bytes_sent", at).value_or(0);
  }
  step.idle_ms = read_optional_number(object, "idle_ms", at);
}

TlsObservation read_tls(const json& value, const At& at) {
  const json& object = object_at(value, at);
  TlsObservation tls;
  read_timing(object, at, tls);
  tls.sni = read_string(object, "sni", at);
  tls.decoy_sni = read_bool(object, "decoy_sni", at);
  tls.version = read_optional_string(object, "version", at);
  tls.cipher = read_optional_string(object, "cipher", at);
  tls.alpn = read_optional_string(object, "alpn", at);
  tls.verified = read_bool(object, "verified", at);
  tls.verify_error = read_optional_string(object, "verify_error", at);
  tls.chain = read_array(object, "chain", at, [](const json& item, const At& here) {
    const json& cert = object_at(item, here);
    return CertificateInfo{read_string(cert, "subject", here), read_string(cert, "issuer", here),
                           read_string(cert, "sha256", here), ""};
  });
  tls.root = read_optional_string(object, "root", at);
  read_wire(object, at, tls);
  return tls;
}

HttpObservation read_http(const json& value, const At& at) {
  const json& object = object_at(value, at);
  HttpObservation http;
  read_timing(object, at, http);
  if (const auto status = read_optional_count(object, "status", at, 999)) {
    http.status = static_cast<int>(*status);
  }
  http.headers = read_array(object, "headers", at, [](const json& item, const At& here) {
    if (!item.is_array() || item.size() != 2 || !item[0].is_string() || !item[1].is_string()) {
      here.wrong("a [name, value] pair of strings", item);
    }
    return std::make_pair(item[0].get<std::string>(), item[1].get<std::string>());
  });
  http.headers_truncated = read_bool(object, "headers_truncated", at);
  http.title = read_optional_string(object, "title", at);
  http.body_length = read_optional_count(object, "body_length", at).value_or(0);
  http.body_sha256 = read_optional_string(object, "body_sha256", at);
  http.body_truncated = read_bool(object, "body_truncated", at);
  http.body_stop = read_optional_string(object, "body_stop", at);
  http.bytes = read_optional_count(object, "bytes", at).value_or(0);
  read_wire(object, at, http);
  http.location = read_optional_string(object, "location", at);
  return http;
}

std::optional<RateSample> read_rate(const json& object, const char* key, const At& at) {
  const json* value = member(object, key);
  if (value == nullptr) {
    return std::nullopt;
  }
  const At here = at / key;
  const json& sample = object_at(*value, here);
  RateSample out;
  read_timing(sample, here, out);
  out.bytes = read_optional_count(sample, "bytes", here).value_or(0);
  out.rate = read_optional_number(sample, "rate", here);
  out.body_stop = read_optional_string(sample, "body_stop", here);
  return out;
}

EndpointObservation read_endpoint(const json& value, const At& at) {
  const json& object = object_at(value, at);
  EndpointObservation endpoint;
  endpoint.address = read_string(object, "address", at);
  endpoint.port = static_cast<std::uint16_t>(read_optional_count(object, "port", at, 65535).value_or(0));
  endpoint.family = static_cast<int>(read_optional_count(object, "family", at, 6).value_or(4));
  endpoint.sources = read_strings(object, "sources", at);
  endpoint.not_tested = read_optional_string(object, "not_tested", at);
  if (const json* tcp = member(object, "tcp")) {
    endpoint.tcp = TcpObservation{};
    read_timing(object_at(*tcp, at / "tcp"), at / "tcp", *endpoint.tcp);
  }
  if (const json* tls = member(object, "tls")) {
    endpoint.tls = read_tls(*tls, at / "tls");
  }
  if (const json* http = member(object, "http")) {
    endpoint.http = read_http(*http, at / "http");
  }
  if (const json* stun = member(object, "stun")) {
    endpoint.stun = StepTiming{};
    read_timing(object_at(*stun, at / "stun"), at / "stun", *endpoint.stun);
  }
  if (const json* decoy = member(object, "decoy_tls")) {
    endpoint.decoy_tls = read_tls(*decoy, at / "decoy_tls");
  }
  if (const json* retest = member(object, "retest")) {
    const At here = at / "retest";
    endpoint.retest = RetestObservation{};
    read_timing(object_at(*retest, here), here, *endpoint.retest);
    endpoint.retest->step = read_string(*retest, "step", here);
    endpoint.retest->budget_ms = read_optional_number(*retest, "budget_ms", here);
  }
  if (const json* throughput = member(object, "throughput")) {
    const At here = at / "throughput";
    object_at(*throughput, here);
    ThroughputObservation out;
    out.not_tested = read_optional_string(*throughput, "not_tested", here);
    out.sample = read_rate(*throughput, "sample", here);
    out.handshake = read_rate(*throughput, "handshake", here);
    out.decoy_handshake = read_rate(*throughput, "decoy_handshake", here);
    out.decoy_sample = read_rate(*throughput, "decoy_sample", here);
    endpoint.throughput = std::move(out);
  }
  endpoint.residual = read_bool(object, "residual", at);
  return endpoint;
}

// The path of an http(s) URL as Target::url() writes it ("https://host[:port]/path").
std::string url_path(const std::string& url) {
  const std::size_t authority = url.find("://");
  const std::size_t slash = authority == std::string::npos ? std::string::npos : url.find('/', authority + 3);
  return slash == std::string::npos ? "/" : url.substr(slash);
}

// Each chain entry's bytes from the report's `certificates`, when it holds them.
void fill_certificates(TargetResult& result, const json& certificates) {
  for (auto& [name, path] : result.paths) {
    for (EndpointObservation& endpoint : path.endpoints) {
      for (std::optional<TlsObservation>* tls : {&endpoint.tls, &endpoint.decoy_tls}) {
        if (!*tls) {
          continue;
        }
        for (CertificateInfo& cert : (*tls)->chain) {
          const auto der = certificates.find(cert.sha256);
          if (der != certificates.end() && der->is_string()) {
            cert.der_base64 = der->get<std::string>();
          }
        }
      }
    }
  }
}

}  // namespace

std::string shown_json(const json& value) {
  if (value.is_object()) {
    return "an object";
  }
  if (value.is_array()) {
    return "an array";
  }
  std::string shown = value.dump(-1, ' ', false, json::error_handler_t::replace);
  return shown.size() > 40 ? shown.substr(0, 37) + "..." : shown;
}

std::optional<Verdict> verdict_from_json(const json& value, const std::string& where) {
  const At at{where, "/verdict"};
  if (value.is_null()) {
    return std::nullopt;
  }
  const json& object = object_at(value, at);
  Verdict verdict;
  const std::optional<std::string> status = read_optional_string(object, "status", at);
  const auto known = std::find_if(std::begin(k_all_statuses), std::end(k_all_statuses),
                                  [&](Status candidate) { return status && to_string(candidate) == *status; });
  if (known == std::end(k_all_statuses)) {
    (at / "status").wrong("a status (accessible, blocked, restricted, anomaly, down, inconclusive)",
                          object.value("status", json(nullptr)));
  }
  verdict.status = *known;
  verdict.method = read_optional_string(object, "method", at);
  verdict.methods = read_strings(object, "methods", at);
  verdict.detail = read_string(object, "detail", at);
  verdict.evidence = read_strings(object, "evidence", at);
  const std::vector<std::string> signatures = read_strings(object, "signatures", at);
  for (std::size_t i = 0; i < signatures.size(); ++i) {
    const std::optional<Signature> signature = signature_from_string(signatures[i]);
    if (!signature) {
      (at / "signatures" / i).wrong("a signature (reports/README.md, \"Signatures\")", json(signatures[i]));
    }
    verdict.signatures.push_back(*signature);
  }
  return verdict;
}

TargetResult result_from_json(const json& value, const std::string& where, const json& certificates) {
  const At at{where, ""};
  const json& object = object_at(value, at);
  TargetResult result;
  Target& target = result.target;
  target.app = read_string(object, "app", at);
  target.host = read_string(object, "host", at);
  if (const auto port = read_optional_count(object, "port", at, 65535)) {
    target.port = static_cast<std::uint16_t>(*port);
  }
  const std::optional<std::string> kind_name = read_optional_string(object, "kind", at);
  const std::optional<Kind> kind = kind_name ? kind_from_string(*kind_name) : std::nullopt;
  if (!kind) {
    (at / "kind").wrong("a kind (dns, tcp, tls, http, https, stun)", object.value("kind", json(nullptr)));
  }
  target.kind = *kind;
  if (const auto url = read_optional_string(object, "url", at); url && (*kind == Kind::http || *kind == Kind::https)) {
    target.path = url_path(*url);
  }
  if (const json* paths = member(object, "paths")) {
    object_at(*paths, at / "paths");
    for (const auto& [name, path] : paths->items()) {
      const At here = at / "paths" / name;
      object_at(path, here);
      PathObservations& observed = result.paths[name];
      observed.queries = read_array(path, "queries", here, read_query);
      observed.endpoints = read_array(path, "endpoints", here, read_endpoint);
    }
  }
  const json* verdict = member(object, "verdict");
  result.verdict = verdict_from_json(verdict != nullptr ? *verdict : json(nullptr), where);
  fill_certificates(result, certificates);
  return result;
}

}  // namespace probe
