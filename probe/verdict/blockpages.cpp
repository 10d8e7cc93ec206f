#include "verdict/blockpages.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace probe {

namespace {

constexpr std::string_view k_ooni_csv = "https://github.com/ooni/blocking-fingerprints (fingerprints_http.csv)";

using F = BlockpageField;
using M = BlockpageMatch;

// A few well-known national and ISP blockpages, chosen for what the report records: the title
// and the header values. OONI writes title fingerprints as a body match on "<title>...</title>";
// here they are title matches on the text between the tags.
constexpr std::array k_fingerprints{
    // Iran: the national filter answers with a page that frames 10.10.34.34/35.
    BlockpageFingerprint{"ooni.ir_0", "IR", "nat", F::body, "", M::contains, "iframe src=\"http://10.10", k_ooni_csv},
    // Russia: Roskomnadzor's register, served by ISPs or by redirects to their own pages.
    BlockpageFingerprint{"ooni.ru_0", "RU", "nat", F::body, "", M::contains,
                         "Доступ к сайту ограничен в соответствии с Федеральными законами", k_ooni_csv},
    BlockpageFingerprint{"ooni.ru_6", "RU", "nat", F::header, "location", M::prefix, "http://warning.rt.ru",
                         k_ooni_csv},
    BlockpageFingerprint{"ooni.ru_25", "RU", "isp", F::header, "location", M::prefix, "http://block.rt.ru", k_ooni_csv},
    // Turkey: the former telecommunications authority (TIB), and Türk Telekom's opt-in filter.
    BlockpageFingerprint{"ooni.tr_0", "TR", "nat", F::title, "", M::full, "Telekomünikasyon İletişim Başkanlığı",
                         k_ooni_csv},
    BlockpageFingerprint{"ooni.tr_5", "TR", "isp", F::title, "", M::full, "Güvenli İnternet Uyarı", k_ooni_csv},
    // Indonesia: Internet Positif, the regulator's list.
    BlockpageFingerprint{"ooni.id_0", "ID", "nat", F::header, "location", M::prefix, "http://internet-positif.org",
                         k_ooni_csv},
    BlockpageFingerprint{"ooni.id_1", "ID", "nat", F::header, "location", M::prefix, "http://internetpositif.uzone.id",
                         k_ooni_csv},
    // South Korea: the KCSC warning page.
    BlockpageFingerprint{"ooni.kr_2", "KR", "nat", F::header, "location", M::full, "http://www.warning.or.kr",
                         k_ooni_csv},
    // United Arab Emirates and Saudi Arabia: the WireFilter appliance names itself.
    BlockpageFingerprint{"ooni.ae_0", "AE", "nat", F::header, "server", M::prefix, "Protected by WireFilter",
                         k_ooni_csv},
    // Thailand: the national blockpage's address.
    BlockpageFingerprint{"ooni.th_2", "TH", "nat", F::header, "location", M::prefix, "http://103.208.24.21",
                         k_ooni_csv},
    // Spain: the court-ordered "domain not available" page.
    BlockpageFingerprint{"ooni.es_0", "ES", "vbw", F::title, "", M::full, "Dominio-No-Disponible", k_ooni_csv},
    // Portugal: blocked by court order.
    BlockpageFingerprint{"ooni.pt_0", "PT", "isp", F::title, "", M::full, "Bloqueado por ordem judicial", k_ooni_csv},
    // United Kingdom: Sky's filter.
    BlockpageFingerprint{"ooni.gb_3", "GB", "isp", F::header, "location", M::prefix, "http://block.cf.sky.com",
                         k_ooni_csv},
    // Cisco Web Security Appliance (seen in AU, DE, DK, FR), Forcepoint (US): institutional filters.
    BlockpageFingerprint{"ooni.au_0", "AU", "inst", F::title, "", M::full, "Notification: Policy: URL Filtering",
                         k_ooni_csv},
    BlockpageFingerprint{"ooni.us_9", "US", "inst", F::title, "", M::full, "Access to this site is blocked",
                         k_ooni_csv},
};

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

// ASCII case-insensitive: censors' pages differ in case between deployments, and bytes outside
// ASCII (Cyrillic, Turkish) are compared as they are.
bool same(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

bool matches(std::string_view text, BlockpageMatch match, std::string_view pattern) {
  switch (match) {
    case BlockpageMatch::full:
      return same(text, pattern);
    case BlockpageMatch::prefix:
      return text.size() >= pattern.size() && same(text.substr(0, pattern.size()), pattern);
    case BlockpageMatch::contains:
      return std::search(text.begin(), text.end(), pattern.begin(), pattern.end(),
                         [](char x, char y) { return lower(x) == lower(y); }) != text.end();
  }
  return false;
}

std::string_view trimmed(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    return {};
  }
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

bool matches(const BlockpageFingerprint& fingerprint, const HttpObservation& http,
             std::optional<std::string_view> body) {
  switch (fingerprint.field) {
    case BlockpageField::title:
      return http.title && matches(trimmed(*http.title), fingerprint.match, fingerprint.pattern);
    case BlockpageField::header:
      for (const auto& [name, value] : http.headers) {
        if (same(name, fingerprint.header) && matches(trimmed(value), fingerprint.match, fingerprint.pattern)) {
          return true;
        }
      }
      // The redirect target is also kept on its own, in case the header list was capped.
      return same(fingerprint.header, "location") && http.location &&
             matches(trimmed(*http.location), fingerprint.match, fingerprint.pattern);
    case BlockpageField::body:
      return body && matches(*body, fingerprint.match, fingerprint.pattern);
  }
  return false;
}

}  // namespace

std::span<const BlockpageFingerprint> blockpage_fingerprints() { return k_fingerprints; }

std::optional<BlockpageFingerprint> find_blockpage(const HttpObservation& http, std::optional<std::string_view> body) {
  for (const BlockpageFingerprint& fingerprint : k_fingerprints) {
    if (matches(fingerprint, http, body)) {
      return fingerprint;
    }
  }
  return std::nullopt;
}

}  // namespace probe
