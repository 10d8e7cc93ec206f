// The peer certificates' DER in reports: each distinct certificate once in the top-level
// `certificates`, by the sha256 chain entries carry; read back into each chain entry, within the
// report's caps, through the crash log, and never holding what the scrubber removes.
#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/digest.hpp"
#include "core/error.hpp"
#include "core/exit_codes.hpp"
#include "report/report.hpp"
#include "report/scrub.hpp"
#include "store/partial_log.hpp"
#include "store/report_reader.hpp"
#include "store/row_scanner.hpp"
#include "support/reports.hpp"
#include "support/temp_dir.hpp"

using namespace probe;
using nlohmann::json;
using probe::test::read_file;
using probe::test::TempDir;
using probe::test::validates;

namespace {

// A chain entry for `der` (any bytes: the report never parses them) with its bytes kept.
CertificateInfo certificate(const std::string& der, const std::string& subject = "CN=x.test") {
  return CertificateInfo{subject, "CN=Test CA", sha256_hex(der), base64_encode(der)};
}

TargetResult tls_result(const std::string& host, const std::vector<CertificateInfo>& chain) {
  TargetResult result;
  result.target.app = "test";
  result.target.host = host;
  result.target.kind = Kind::tls;
  result.target.port = 443;
  EndpointObservation endpoint;
  endpoint.address = "192.0.2.1";
  endpoint.port = 443;
  endpoint.sources = {"direct"};
  endpoint.tcp = TcpObservation{};
  TlsObservation tls;
  tls.sni = host;
  tls.version = "TLSv1.3";
  tls.chain = chain;
  endpoint.tls = tls;
  result.paths["direct"].endpoints.push_back(endpoint);
  result.verdict = Verdict{Status::accessible, "tls", {"tls"}, "", {}, {}};
  return result;
}

Report tls_report(std::vector<TargetResult> results) {
  Report report;
  report.run_id = "0123456789abcdef0123456789abcdef";
  report.started_at = SystemTime(std::chrono::seconds(1764353446));
  report.finished_at = report.started_at + std::chrono::seconds(3);
  report.paths = {PathInfo{"direct", "direct", "unchecked", "lo", "", std::nullopt, 1, {}}};
  report.results = std::move(results);
  return report;
}

const std::vector<CertificateInfo>& chain_of(const TargetResult& result) {
  return result.paths.at("direct").endpoints.at(0).tls->chain;
}

// The message of the UserError `read` throws, after checking it is exit 65; "accepted" if none.
template <typename Read>
std::string refusal(Read read) {
  try {
    read();
  } catch (const UserError& error) {
    CHECK(error.exit_code() == exit_code::k_data_error);
    return error.what();
  }
  return "accepted";
}

}  // namespace

TEST_CASE("a certificate two results share is stored once, and both read it back", "[certificates]") {
  const CertificateInfo shared = certificate("shared intermediate DER", "CN=Shared CA");
  const CertificateInfo a = certificate("leaf of a.test");
  const CertificateInfo b = certificate("leaf of b.test");
  const Report report = tls_report({tls_result("a.test", {a, shared}), tls_result("b.test", {b, shared})});
  TempDir dir;
  const auto path = write_report(report, dir.path());
  CHECK(validates({path.string()}));

  const json written = json::parse(read_file(path));
  CHECK(written["certificates"] == json({{a.sha256, a.der_base64}, {b.sha256, b.der_base64},
                                         {shared.sha256, shared.der_base64}}));
  CHECK(written["certificates_truncated"] == false);
  // Chain entries stay subject, issuer and the sha256 that refers to the bytes.
  const json& entry = written["results"][0]["paths"]["direct"]["endpoints"][0]["tls"]["chain"][1];
  CHECK(entry == json({{"subject", "CN=Shared CA"}, {"issuer", "CN=Test CA"}, {"sha256", shared.sha256}}));
  // The text holds the shared bytes once.
  const std::string text = read_file(path);
  CHECK(text.find(shared.der_base64) == text.rfind(shared.der_base64));

  const LoadedReport loaded = load_report(path);
  REQUIRE(loaded.results.size() == 2);
  CHECK(chain_of(loaded.results[0])[0].der_base64 == a.der_base64);
  CHECK(chain_of(loaded.results[0])[1].der_base64 == shared.der_base64);
  CHECK(chain_of(loaded.results[1])[0].der_base64 == b.der_base64);
  CHECK(chain_of(loaded.results[1])[1].der_base64 == shared.der_base64);

  // A certificate the map lacks reads without bytes; so does every one of a report written before
  // `certificates` existed.
  json partial = written;
  partial["certificates"].erase(a.sha256);
  const LoadedReport lacking = loaded_report(partial, "r.json");
  CHECK(chain_of(lacking.results[0])[0].der_base64.empty());
  CHECK(chain_of(lacking.results[0])[1].der_base64 == shared.der_base64);
  json older = written;
  older.erase("certificates");
  older.erase("certificates_truncated");
  const LoadedReport old = loaded_report(older, "r.json");
  CHECK(chain_of(old.results[1])[0].der_base64.empty());
  CHECK(chain_of(old.results[1])[0].sha256 == b.sha256);
}

TEST_CASE("certificates of the wrong type are refused with 65 naming the field", "[certificates]") {
  TempDir dir;
  json report = json::parse(serialize(tls_report({tls_result("a.test", {certificate("leaf")})})));
  const std::string sha256 = sha256_hex("leaf");
  const auto check = [&](const json& certificates, const std::string& expected) {
    json bad = report;
    bad["certificates"] = certificates;
    const auto path = dir.write("r.json", bad.dump());
    CHECK(refusal([&] { load_report(path); }) == path.string() + ": " + expected);
    // The history index and the summary scan reports without building them: the same refusal.
    CHECK(refusal([&] { scan_report_rows(bad.dump(), "r.json", "r.json", false); }) == "r.json: " + expected);
  };
  check(5, "certificates: expected an object, got 5");
  check(json::array({"x"}), "certificates: expected an object, got an array");
  check({{sha256, 7}}, "certificates/" + sha256 + ": expected a string (base64 DER), got 7");
  check({{sha256, nullptr}}, "certificates/" + sha256 + ": expected a string (base64 DER), got null");

  json flag = report;
  flag["certificates_truncated"] = "yes";
  CHECK(refusal([&] { loaded_report(flag, "r.json"); }) ==
        "r.json: certificates_truncated: expected true or false, got \"yes\"");
}

TEST_CASE("certificates over their cap are left out, flagged, and never push a report over its limit",
          "[certificates]") {
  // Nine distinct certificates of 1 MiB of base64 each: the 8 MiB cap keeps the first eight seen.
  std::vector<TargetResult> results;
  std::vector<CertificateInfo> certificates;
  for (int i = 0; i < 9; ++i) {
    const std::string der = std::string(768 * 1024 - 1, 'd') + static_cast<char>('0' + i);
    certificates.push_back(certificate(der));
    REQUIRE(certificates.back().der_base64.size() == 1024 * 1024);
    results.push_back(tls_result("host" + std::to_string(i) + ".test", {certificates.back()}));
  }
  const Report report = tls_report(results);
  const json whole = json::parse(serialize(report));
  CHECK(whole["certificates_truncated"] == true);
  REQUIRE(whole["certificates"].size() == 8);
  for (int i = 0; i < 8; ++i) {
    CHECK(whole["certificates"][certificates[i].sha256] == certificates[i].der_base64);
  }
  CHECK_FALSE(whole["certificates"].contains(certificates[8].sha256));
  // Left out of the map, still listed in its chain.
  CHECK(whole["results"][8]["paths"]["direct"]["endpoints"][0]["tls"]["chain"][0]["sha256"] == certificates[8].sha256);

  // A report limit the results meet but not with all the certificates: no result loses a detail
  // for them; those that fit in the room left are kept, the first ones first.
  Report bare = report;
  for (TargetResult& result : bare.results) {
    result.paths["direct"].endpoints[0].tls->chain[0].der_base64.clear();
  }
  const std::size_t limit = serialize(bare).size() + 2 * 1024 * 1024 + 1024;
  const std::string text = serialize(report, limit);
  CHECK(text.size() <= limit);
  const json cut = json::parse(text);
  for (const json& result : cut["results"]) {
    CHECK(result["cut"].empty());
  }
  CHECK(cut["certificates_truncated"] == true);
  CHECK(cut["certificates"] == json({{certificates[0].sha256, certificates[0].der_base64},
                                     {certificates[1].sha256, certificates[1].der_base64}}));
  TempDir dir;
  CHECK(validates({dir.write("cut.json", text).string()}));

  // A limit the bare results alone exceed: no certificate at all, the results cut as before.
  const json tight = json::parse(serialize(report, 1024));
  CHECK(tight["certificates"].empty());
  CHECK(tight["certificates_truncated"] == true);
  CHECK(tight["results"].size() == 9);
}

TEST_CASE("certificates survive the crash log and probe recover, each once", "[certificates][recover]") {
  const CertificateInfo shared = certificate("shared intermediate DER", "CN=Shared CA");
  const CertificateInfo a = certificate("leaf of a.test");
  const std::vector<TargetResult> results = {tls_result("a.test", {a, shared}), tls_result("b.test", {shared})};
  Report report = tls_report({});
  TempDir dir;
  const auto log_path = dir.path() / "x.jsonl";
  {
    PartialLog log(log_path, report, {results[0].target, results[1].target});
    log.append(0, results[0]);
    log.append(1, results[1]);
  }
  const json recovered = recover_report(log_path);
  CHECK(recovered["certificates"] == json({{a.sha256, a.der_base64}, {shared.sha256, shared.der_base64}}));
  CHECK(recovered["certificates_truncated"] == false);
  const auto path = dir.write("x.json", recovered.dump(2));
  CHECK(validates({path.string()}));
  const LoadedReport loaded = load_report(path);
  REQUIRE(loaded.results.size() == 2);
  CHECK(chain_of(loaded.results[0])[0].der_base64 == a.der_base64);
  CHECK(chain_of(loaded.results[0])[1].der_base64 == shared.der_base64);
  CHECK(chain_of(loaded.results[1])[0].der_base64 == shared.der_base64);
}

TEST_CASE("a certificate holding this machine's address or user name is left out of the report",
          "[certificates][scrub]") {
  auto scrubber = std::make_shared<Scrubber>();
  scrubber->add_address("10.77.1.2");
  scrubber->add_word("alice");
  const CertificateInfo with_address = certificate(std::string("SAN IP \x0a\x4d\x01\x02 end", 15));
  const CertificateInfo with_name = certificate("CN=alice laptop");
  const CertificateInfo clean = certificate("CN=server.test");
  Report report = tls_report({tls_result("a.test", {with_address, with_name, clean})});
  report.scrubber = scrubber;
  const json written = json::parse(serialize(report));
  CHECK(written["certificates"] == json({{clean.sha256, clean.der_base64}}));
  // The chain still lists each of them.
  CHECK(written["results"][0]["paths"]["direct"]["endpoints"][0]["tls"]["chain"].size() == 3);
}
