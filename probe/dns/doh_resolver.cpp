#include "dns/doh_resolver.hpp"

#include <ares.h>
#include <curl/curl.h>

#include <algorithm>
#include <map>
#include <stdexcept>
#include <string_view>

#include "core/digest.hpp"
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
    throw std::invalid_argument("DoH URL '" + url + "' cannot be parsed");
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
    throw std::invalid_argument("DoH URL '" + url + "' is not https://");
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

FailureInfo classify_doh_failure(const DohCurlOutcome& outcome) {
  CurlFailure failure;
  failure.code = outcome.code;
  failure.os_errno = outcome.os_errno;
  failure.verify_result = outcome.verify_result;
  failure.error_text = outcome.error_text;
  failure.via_proxy = !outcome.proxy_scheme.empty();
  failure.proxy_scheme = outcome.proxy_scheme;
  failure.proxy_code = outcome.proxy_code;
  failure.connect_code = outcome.connect_code;
  failure.connect_reason = outcome.connect_reason;
  return classify_curl_failure(failure).failure;
}

struct DohResolver::Impl {
  // One query: a fresh easy handle per try (OS_ERRNO would otherwise carry over from the last).
  struct Pending {
    std::uint64_t key = 0;
    DnsQuery query;
    std::uint16_t type = 0;
    bool bogon_expected = false;
    Callback callback;
    MonoTime started;
    std::string wire;  // the query message, ID 0 (RFC 8484 section 4.1: better for HTTP caches)
    CURL* easy = nullptr;
    bool in_multi = false;
    bool done = false;
    int attempt = 0;
    std::string reply;
    bool reply_too_long = false;
    // The last status line curl handed the header callback: when the CONNECT failed, its answer
    // (curl passes the proxy's CONNECT head to it; the server never answered after a failed one).
    std::optional<HttpStatusLine> last_status;
    char error_buffer[CURL_ERROR_SIZE] = {};
    std::optional<EventLoop::TimerId> timer;

    Pending() = default;
    Pending(const Pending&) = delete;
    Pending& operator=(const Pending&) = delete;
    ~Pending() { release_easy(); }
    void release_easy() {
      if (easy != nullptr) {
        curl_easy_cleanup(easy);
        easy = nullptr;
      }
    }
  };
  using PendingPtr = std::shared_ptr<Pending>;
  using WeakPending = std::weak_ptr<Pending>;

  EventLoop& loop;
  CurlMulti& multi;
  DohServer server;
  DnsSettings settings;
  const BogonTable& bogons;
  MonoTime run_start;
  std::string label;
  std::string proxy_scheme;
  Slist headers;
  Slist connect_to;
  std::uint64_t next_key = 1;
  std::map<std::uint64_t, PendingPtr> active;

  Impl(EventLoop& event_loop, CurlMulti& curl_multi, DohServer doh, const DnsSettings& dns_settings,
       const BogonTable& table, MonoTime start)
      : loop(event_loop),
        multi(curl_multi),
        server(std::move(doh)),
        settings(dns_settings),
        bogons(table),
        run_start(start),
        label("doh:" + server.url),
        proxy_scheme(probe::proxy_scheme(server.path)) {
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

  Millis try_timeout() const { return Millis(std::max(settings.timeout_ms, 1)); }
  int max_attempts() const { return settings.tries > 1 ? 2 : 1; }

  // Callbacks held by the loop or the multi run only while their query is in flight, which also
  // means the resolver still exists: the destructor completes every query before it returns.
  static PendingPtr live(const WeakPending& weak) {
    PendingPtr pending = weak.lock();
    return pending && !pending->done ? pending : nullptr;
  }

  void set_timer(const PendingPtr& pending, void (Impl::*action)(const PendingPtr&)) {
    cancel_timer(pending);
    pending->timer = loop.add_timer(Millis(0), [this, weak = WeakPending(pending), action]() {
      if (PendingPtr current = live(weak)) {
        current->timer.reset();
        (this->*action)(current);
      }
    });
  }

  void cancel_timer(const PendingPtr& pending) {
    if (pending->timer) {
      loop.cancel_timer(*pending->timer);
      pending->timer.reset();
    }
  }

  static std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto* pending = static_cast<Pending*>(user);
    const std::size_t length = size * count;
    if (pending->reply.size() + length > k_max_reply) {
      pending->reply_too_long = true;
      return 0;  // stops the transfer with CURLE_WRITE_ERROR
    }
    pending->reply.append(data, length);
    return length;
  }

  static std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto* pending = static_cast<Pending*>(user);
    const std::size_t length = size * count;
    const std::string_view line(data, length);
    if (line.starts_with("HTTP/")) {
      // "HTTP/2 200" (the server's, over HTTP/2) is not an HTTP/1.x line: it clears the last one.
      pending->last_status = parse_status_line(line);
      if (pending->last_status && pending->last_status->reason.size() > k_max_connect_reason) {
        pending->last_status->reason.resize(k_max_connect_reason);
      }
    }
    return length;
  }

  CURL* make_easy(Pending& pending) const {
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
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, pending.error_buffer);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, timeout);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(pending.wire.size()));
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, pending.wire.data());
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Impl::on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &pending);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &Impl::on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, &pending);
    // As for the TLS steps: one CA file, no CApath (see tls_http.cpp).
    curl_easy_setopt(easy, CURLOPT_CAPATH, nullptr);
    if (!server.ca_bundle.empty()) {
      curl_easy_setopt(easy, CURLOPT_CAINFO, server.ca_bundle.c_str());
    }
    return easy;
  }

  void start_try(const PendingPtr& pending) {
    ++pending->attempt;
    pending->release_easy();
    pending->reply.clear();
    pending->reply_too_long = false;
    pending->last_status.reset();
    pending->error_buffer[0] = '\0';
    pending->easy = make_easy(*pending);
    if (pending->easy == nullptr) {
      pending->query.failure = FailureInfo{Failure::unknown_failure, "curl_easy_init failed"};
      set_timer(pending, &Impl::fail_at_start);  // this may be inside query()
      return;
    }
    pending->in_multi = true;
    multi.add(pending->easy, [this, weak = WeakPending(pending)](CURL*, int code) {
      if (PendingPtr current = live(weak)) {
        current->in_multi = false;
        on_done(current, code);
      }
    });
  }

  void on_done(const PendingPtr& pending, int code) {
    CURL* easy = pending->easy;
    if (code == CURLE_ABORTED_BY_CALLBACK) {
      pending->query.failure = FailureInfo{Failure::interrupted, ""};  // the multi went away
      deliver(pending);
      return;
    }
    if (code == CURLE_OK || (code == CURLE_WRITE_ERROR && pending->reply_too_long)) {
      read_reply(pending);
      deliver(pending);
      return;
    }
    DohCurlOutcome outcome;
    outcome.code = code;
    curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &outcome.os_errno);
    curl_easy_getinfo(easy, CURLINFO_PROXY_ERROR, &outcome.proxy_code);
    curl_easy_getinfo(easy, CURLINFO_HTTP_CONNECTCODE, &outcome.connect_code);
    curl_easy_getinfo(easy, CURLINFO_SSL_VERIFYRESULT, &outcome.verify_result);
    if (pending->last_status && pending->last_status->status == outcome.connect_code) {
      outcome.connect_reason = pending->last_status->reason;
    }
    outcome.proxy_scheme = proxy_scheme;
    outcome.error_text = redact_credentials(pending->error_buffer, server.path);
    const FailureInfo failure = classify_doh_failure(outcome);
    const bool retryable = failure.code == Failure::generic_timeout_error || failure.code == Failure::eof_error;
    if (retryable && pending->attempt < max_attempts()) {
      // From the loop, not from inside the multi's completion handling.
      set_timer(pending, &Impl::start_try);
      return;
    }
    pending->query.failure = failure;
    deliver(pending);
  }

  void read_reply(const PendingPtr& pending) {
    DnsQuery& query = pending->query;
    long status = 0;
    curl_easy_getinfo(pending->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
      query.failure = FailureInfo{Failure::unknown_failure, "DoH HTTP status " + std::to_string(status)};
      return;
    }
    if (pending->reply_too_long) {
      query.failure = FailureInfo{Failure::unknown_failure,
                                  "DoH reply longer than " + std::to_string(k_max_reply) + " bytes"};
      return;
    }
    const char* content_type = nullptr;
    curl_easy_getinfo(pending->easy, CURLINFO_CONTENT_TYPE, &content_type);
    const std::string type = media_type(content_type);
    if (type != k_dns_message) {
      // The value comes from the network: kept short, and the report's writer escapes it.
      query.failure = FailureInfo{Failure::unknown_failure,
                                  "DoH reply Content-Type '" + type.substr(0, 64) + "', not " +
                                      std::string(k_dns_message)};
      return;
    }
    if (match_reply(pending->reply, pending->wire) == ReplyMatch::mismatched) {
      query.raw_truncated = pending->reply.size() > settings.raw_cap;
      query.raw_base64 = base64_encode(std::string_view(pending->reply).substr(0, settings.raw_cap));
      query.failure = FailureInfo{Failure::unknown_failure, "mismatched DNS reply"};
      return;
    }
    fill_from_reply(query, pending->reply, pending->type, bogons, settings.raw_cap, pending->bogon_expected);
  }

  void fail_at_start(const PendingPtr& pending) { deliver(pending); }

  // Hands the observation over. The callback may destroy the resolver, so nothing here touches
  // `this` after it.
  void deliver(const PendingPtr& pending) {
    const PendingPtr keep = pending;
    cancel_timer(keep);
    if (keep->in_multi) {
      multi.cancel(keep->easy);
      keep->in_multi = false;
    }
    keep->release_easy();
    keep->done = true;
    keep->query.duration_ms = ms_between(keep->started, EventLoop::now());
    active.erase(keep->key);
    Callback callback = std::move(keep->callback);
    callback(std::move(keep->query));
  }
};

DohResolver::DohResolver(EventLoop& loop, CurlMulti& multi, DohServer server, const DnsSettings& settings,
                         const BogonTable& bogons, MonoTime run_start)
    : m_impl(std::make_unique<Impl>(loop, multi, std::move(server), settings, bogons, run_start)) {}

DohResolver::~DohResolver() {
  // A callback could ask again while we finish; those are interrupted too.
  while (!m_impl->active.empty()) {
    const Impl::PendingPtr pending = m_impl->active.begin()->second;
    pending->query.failure = FailureInfo{Failure::interrupted, ""};
    m_impl->deliver(pending);
  }
}

std::string DohResolver::label() const { return m_impl->label; }

void DohResolver::query(const std::string& name, std::uint16_t type, bool bogon_expected, Callback callback) {
  auto pending = std::make_shared<Impl::Pending>();
  pending->key = m_impl->next_key++;
  pending->type = type;
  pending->bogon_expected = bogon_expected;
  pending->callback = std::move(callback);
  pending->started = EventLoop::now();
  pending->query.resolver = m_impl->label;
  pending->query.type = type_name(type);
  pending->query.t0_ms = ms_between(m_impl->run_start, pending->started);
  m_impl->active.emplace(pending->key, pending);

  unsigned char* packet = nullptr;
  int length = 0;
  const int rc = ares_create_query(name.c_str(), 1 /* IN */, type, 0, 1, &packet, &length, 0);
  if (rc != ARES_SUCCESS) {
    pending->query.failure = failure_from_ares(rc);
    // Never from inside query(): the caller may not be ready for its callback yet.
    m_impl->set_timer(pending, &Impl::fail_at_start);
    return;
  }
  pending->wire.assign(reinterpret_cast<const char*>(packet), static_cast<std::size_t>(length));
  ares_free_string(packet);
  // curl completes transfers from the loop only, so starting here keeps the promise above.
  m_impl->start_try(pending);
}

}  // namespace probe
