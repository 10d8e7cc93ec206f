#include "dns/doh_resolver.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <map>
#include <stdexcept>
#include <string_view>

#include "dns/dns_message.hpp"
#include "net/classify.hpp"
#include "targets/host.hpp"

namespace probe {

namespace {

// No DNS message is longer; a reply that is has nothing to do with DNS.
constexpr std::size_t k_max_reply = 65535;
constexpr std::string_view k_dns_message = "application/dns-message";
// A reason phrase is a few words; a longer one is cut (it only feeds the classifier).
constexpr std::size_t k_max_connect_reason = 256;

struct SlistFree {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using Slist = std::unique_ptr<curl_slist, SlistFree>;

struct DohUrl {
  std::string host;  // as written in the URL: an IPv6 literal keeps its brackets
  std::string bare_host;
  std::string port;
};

DohUrl parse_doh_url(const std::string& url) {
  const std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> handle(curl_url(), &curl_url_cleanup);
  if (!handle || curl_url_set(handle.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
    throw std::invalid_argument("DoH URL '" + without_userinfo(url) + "' cannot be parsed");
  }
  const auto part = [&handle](CURLUPart which, unsigned flags) -> std::optional<std::string> {
    char* text = nullptr;
    if (curl_url_get(handle.get(), which, &text, flags) != CURLUE_OK || text == nullptr) {
      return std::nullopt;
    }
    std::string out(text);
    curl_free(text);
    return out;
  };
  if (lowercase(part(CURLUPART_SCHEME, 0).value_or("")) != "https") {
    throw std::invalid_argument("DoH URL '" + without_userinfo(url) + "' is not https://");
  }
  if (part(CURLUPART_USER, 0) || part(CURLUPART_PASSWORD, 0)) {
    throw std::invalid_argument("a DoH URL must not carry credentials");  // the URL is reported
  }
  DohUrl out;
  out.host = part(CURLUPART_HOST, 0).value_or("");
  out.port = part(CURLUPART_PORT, CURLU_DEFAULT_PORT).value_or("443");
  out.bare_host = out.host;
  if (out.bare_host.size() >= 2 && out.bare_host.front() == '[' && out.bare_host.back() == ']') {
    out.bare_host = out.bare_host.substr(1, out.bare_host.size() - 2);
  }
  if (out.bare_host.empty()) {
    throw std::invalid_argument("DoH URL '" + url + "' has no host");
  }
  return out;
}

// "application/dns-message; charset=x" -> "application/dns-message".
std::string media_type(const char* content_type) {
  std::string_view text = content_type != nullptr ? content_type : "";
  text = text.substr(0, text.find(';'));
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  return lowercase(text);
}

}  // namespace

FailureInfo classify_doh_failure(const CurlFailure& outcome) {
  CurlFailure failure = outcome;
  failure.via_proxy = !outcome.proxy_scheme.empty();
  return classify_curl_failure(failure).failure;
}

namespace {

// Carries tries as RFC 8484 POSTs on the run's CurlMulti: a fresh easy handle per try (OS_ERRNO
// would otherwise carry over from the last), the HTTP checks here, the DNS reply to the lifecycle.
class DohTransport : public DnsTransport {
public:
  DohTransport(CurlMulti& curl_multi, DohServer doh, int try_ms)
      : multi(curl_multi), server(std::move(doh)), timeout_ms(try_ms), scheme(proxy_scheme(server.path)) {
    const DohUrl url = parse_doh_url(server.url);
    if (const auto problem = proxy_problem(server.path)) {
      throw std::invalid_argument("DoH " + server.url + ": " + *problem);
    }
    if (server.address && !is_ip_literal(*server.address)) {
      throw std::invalid_argument("DoH " + server.url + ": address '" + *server.address + "' is not an IP address");
    }
    if (!is_ip_literal(url.bare_host) && !server.address && !proxy_resolves_names(server.path)) {
      throw std::invalid_argument("DoH " + server.url + ": '" + url.bare_host +
                                  "' is a name and curl must not resolve it: give its address, or reach it "
                                  "through a proxy that resolves names (socks5h, HTTP CONNECT)");
    }
    if (server.address) {
      const std::string address =
          server.address->find(':') != std::string::npos ? "[" + *server.address + "]" : *server.address;
      // CONNECT_TO, not RESOLVE: only CONNECT_TO holds through a proxy and across reused connections.
      const std::string entry = url.host + ":" + url.port + ":" + address + ":" + url.port;
      connect_to.reset(curl_slist_append(nullptr, entry.c_str()));
    }
    curl_slist* list = curl_slist_append(nullptr, "Content-Type: application/dns-message");
    list = curl_slist_append(list, "Accept: application/dns-message");
    list = curl_slist_append(list, "Expect:");  // never wait for a 100 Continue
    headers.reset(list);
  }

  ~DohTransport() override {
    while (!active.empty()) {
      cancel(active.begin()->first);
    }
  }

  void on_done(TryDone callback) override { done = std::move(callback); }

  void send(std::uint64_t key, const std::string& wire, int) override {
    auto transfer = std::make_unique<Transfer>();
    transfer->wire = wire;
    transfer->easy = make_easy(*transfer);
    if (transfer->easy == nullptr) {
      done(key, TryOutcome::failed(FailureInfo{Failure::unknown_failure, "curl_easy_init failed"}, false));
      return;
    }
    CURL* easy = transfer->easy;
    active.emplace(key, std::move(transfer));
    multi.add(easy, [this, key](CURL*, int code) { on_transfer_done(key, code); });
  }

  void cancel(std::uint64_t key) override {
    const auto found = active.find(key);
    if (found != active.end()) {
      multi.cancel(found->second->easy);
      active.erase(found);
    }
  }

  std::uint16_t query_id() override { return 0; }  // RFC 8484 section 4.1: better for HTTP caches

private:
  struct Transfer {
    std::string wire;
    CURL* easy = nullptr;
    std::string reply;
    bool reply_too_long = false;
    // The last status line curl handed the header callback: when the CONNECT failed, its answer
    // (curl passes the proxy's CONNECT head to it; the server never answered after a failed one).
    std::optional<HttpStatusLine> last_status;
    char error_buffer[CURL_ERROR_SIZE] = {};

    Transfer() = default;
    Transfer(const Transfer&) = delete;
    Transfer& operator=(const Transfer&) = delete;
    ~Transfer() {
      if (easy != nullptr) {
        curl_easy_cleanup(easy);
      }
    }
  };

  CurlMulti& multi;
  DohServer server;
  int timeout_ms;
  std::string scheme;  // the proxy's, empty without one
  Slist headers;
  Slist connect_to;
  TryDone done;
  std::map<std::uint64_t, std::unique_ptr<Transfer>> active;

  Millis try_timeout() const { return Millis(std::max(timeout_ms, 1)); }

  static std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto* transfer = static_cast<Transfer*>(user);
    const std::size_t length = size * count;
    if (transfer->reply.size() + length > k_max_reply) {
      transfer->reply_too_long = true;
      return 0;  // stops the transfer with CURLE_WRITE_ERROR
    }
    transfer->reply.append(data, length);
    return length;
  }

  static std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto* transfer = static_cast<Transfer*>(user);
    const std::size_t length = size * count;
    const std::string_view line(data, length);
    if (line.starts_with("HTTP/")) {
      // "HTTP/2 200" (the server's, over HTTP/2) is not an HTTP/1.x line: it clears the last one.
      transfer->last_status = parse_status_line(line);
      if (transfer->last_status && transfer->last_status->reason.size() > k_max_connect_reason) {
        transfer->last_status->reason.resize(k_max_connect_reason);
      }
    }
    return length;
  }

  CURL* make_easy(Transfer& transfer) const {
    CURL* easy = curl_easy_init();
    if (easy == nullptr) {
      return nullptr;
    }
    const long timeout = static_cast<long>(try_timeout().count());
    curl_easy_setopt(easy, CURLOPT_URL, server.url.c_str());
    apply_path(easy, server.path);
    if (connect_to) {
      curl_easy_setopt(easy, CURLOPT_CONNECT_TO, connect_to.get());
    }
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    // Wait for a connection that is being set up rather than open another: HTTP/2 multiplexes.
    curl_easy_setopt(easy, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, transfer.error_buffer);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, timeout);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(transfer.wire.size()));
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, transfer.wire.data());
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &DohTransport::on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &transfer);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &DohTransport::on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, &transfer);
    // As for the TLS steps: one CA file, no CApath (see tls_http.cpp).
    curl_easy_setopt(easy, CURLOPT_CAPATH, nullptr);
    if (!server.ca_bundle.empty()) {
      curl_easy_setopt(easy, CURLOPT_CAINFO, server.ca_bundle.c_str());
    }
    return easy;
  }

  void on_transfer_done(std::uint64_t key, int code) {
    const auto found = active.find(key);
    if (found == active.end()) {
      return;
    }
    const std::unique_ptr<Transfer> transfer = std::move(found->second);
    active.erase(found);
    done(key, outcome_of(*transfer, code));
  }

  TryOutcome outcome_of(const Transfer& transfer, int code) const {
    if (code == CURLE_ABORTED_BY_CALLBACK) {
      return TryOutcome::failed(FailureInfo{Failure::interrupted, ""}, false);  // the multi went away
    }
    if (code == CURLE_OK || (code == CURLE_WRITE_ERROR && transfer.reply_too_long)) {
      return read_reply(transfer);
    }
    CurlFailure outcome;
    outcome.code = code;
    curl_easy_getinfo(transfer.easy, CURLINFO_OS_ERRNO, &outcome.os_errno);
    curl_easy_getinfo(transfer.easy, CURLINFO_PROXY_ERROR, &outcome.proxy_code);
    curl_easy_getinfo(transfer.easy, CURLINFO_HTTP_CONNECTCODE, &outcome.connect_code);
    curl_easy_getinfo(transfer.easy, CURLINFO_SSL_VERIFYRESULT, &outcome.verify_result);
    if (transfer.last_status && transfer.last_status->status == outcome.connect_code) {
      outcome.connect_reason = transfer.last_status->reason;
    }
    outcome.proxy_scheme = scheme;
    outcome.error_text = redact_credentials(transfer.error_buffer, server.path);
    FailureInfo failure = classify_doh_failure(outcome);
    const bool retryable = failure.code == Failure::generic_timeout_error || failure.code == Failure::eof_error;
    return TryOutcome::failed(std::move(failure), retryable);
  }

  // A reply counts only with status 200, the DNS media type and the question asked.
  TryOutcome read_reply(const Transfer& transfer) const {
    long status = 0;
    curl_easy_getinfo(transfer.easy, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
      return TryOutcome::failed(FailureInfo{Failure::unknown_failure, "DoH HTTP status " + std::to_string(status)},
                                false);
    }
    if (transfer.reply_too_long) {
      return TryOutcome::failed(
          FailureInfo{Failure::unknown_failure, "DoH reply longer than " + std::to_string(k_max_reply) + " bytes"},
          false);
    }
    const char* content_type = nullptr;
    curl_easy_getinfo(transfer.easy, CURLINFO_CONTENT_TYPE, &content_type);
    const std::string type = media_type(content_type);
    if (type != k_dns_message) {
      // The value comes from the network: kept short, and the report's writer escapes it.
      return TryOutcome::failed(FailureInfo{Failure::unknown_failure, "DoH reply Content-Type '" + type.substr(0, 64) +
                                                                          "', not " + std::string(k_dns_message)},
                                false);
    }
    if (match_reply(transfer.reply, transfer.wire) == ReplyMatch::mismatched) {
      return TryOutcome::other_question(transfer.reply);
    }
    return TryOutcome::replied(transfer.reply);
  }
};

}  // namespace

DohResolver::DohResolver(EventLoop& loop, CurlMulti& multi, DohServer server, const DnsSettings& settings,
                         const BogonTable& bogons, MonoTime run_start)
    : TransportResolver(loop, std::make_unique<DohTransport>(multi, server, settings.timeout_ms), "doh:" + server.url,
                        settings, bogons, run_start, settings.tries > 1 ? 2 : 1) {}

}  // namespace probe
