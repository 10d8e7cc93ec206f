#include "steps/tls_http.hpp"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <memory>
#include <string_view>

#include "core/digest.hpp"
#include "model/steps.hpp"
#include "net/classify.hpp"
#include "net/wire_bytes.hpp"

namespace probe {

namespace {

std::string hex(const unsigned char* bytes, unsigned length) {
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < length; ++i) {
    out += k_hex[bytes[i] >> 4];
    out += k_hex[bytes[i] & 0x0F];
  }
  return out;
}

std::string name_text(const X509_NAME* name) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, std::min(static_cast<std::size_t>(length), k_max_name_text));
}

CertificateInfo certificate_info(X509* cert) {
  CertificateInfo info;
  info.subject = name_text(X509_get_subject_name(cert));
  info.issuer = name_text(X509_get_issuer_name(cert));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned length = 0;
  X509_digest(cert, EVP_sha256(), digest, &length);
  info.sha256 = hex(digest, length);
  // The bytes themselves, for what the text above cannot show (OONI's peer_certificates).
  const int size = i2d_X509(cert, nullptr);
  if (size > 0) {
    std::string der(static_cast<std::size_t>(size), '\0');
    auto* out = reinterpret_cast<unsigned char*>(der.data());
    if (i2d_X509(cert, &out) == size) {
      info.der_base64 = base64_encode(der);
    }
  }
  return info;
}

// Everything one transfer owns; freed when curl hands the handle back.
struct Transfer {
  TransferRequest request;
  std::function<void(TransferResult)> done;
  CURL* easy = nullptr;
  curl_slist* connect_to = nullptr;
  curl_slist* headers_out = nullptr;
  char error_buffer[CURL_ERROR_SIZE] = {};
  MonoTime started;
  double t0_ms = 0;

  // TLS, filled from OpenSSL callbacks while the connection is alive.
  bool handshake_done = false;
  bool chain_seen = false;
  long verify_code = X509_V_OK;  // the first error OpenSSL found in the chain
  TlsObservation tls;

  // Through an HTTP proxy, curl hands the proxy's answer to CONNECT to the header callback before
  // the destination's response: that head is the proxy's, kept apart until a 2xx one has ended.
  bool in_connect = false;
  std::optional<HttpStatusLine> connect_status;  // the last CONNECT status line

  // HTTP, filled from curl's header and write callbacks.
  HttpObservation http;
  bool in_headers = false;
  bool headers_complete = false;
  std::uint64_t header_bytes = 0;
  std::size_t header_bytes_kept = 0;  // names and values in http.headers
  bool headers_full = false;  // a header did not fit: the ones after it are not kept either
  std::string body_head;  // the first bytes of the body, where a <title> would be
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> body_hash{EVP_MD_CTX_new(), &EVP_MD_CTX_free};
  bool body_truncated = false;
  std::optional<std::string> body_stop;  // set when we stopped the read: "window" or "cap"
  curl_socket_t socket = CURL_SOCKET_BAD;
  std::optional<WireBytes> wire;  // counted when curl closed the socket

  ~Transfer() {
    curl_slist_free_all(connect_to);
    curl_slist_free_all(headers_out);
    if (easy != nullptr) {
      curl_easy_cleanup(easy);
    }
  }
};

int transfer_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

Transfer* transfer_of(const SSL* ssl) {
  return static_cast<Transfer*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), transfer_index()));
}

void record_chain(Transfer* transfer, STACK_OF(X509) * chain) {
  if (transfer->chain_seen || chain == nullptr) {
    return;
  }
  transfer->chain_seen = true;
  const int count = sk_X509_num(chain);
  for (int i = 0; i < count && transfer->tls.chain.size() < transfer->request.chain_cap; ++i) {
    transfer->tls.chain.push_back(certificate_info(sk_X509_value(chain, i)));
  }
}

// Sees the peer's chain even when verification fails (curl then aborts the handshake), without
// changing the verdict OpenSSL reached.
int on_verify(int preverify_ok, X509_STORE_CTX* store) {
  auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (Transfer* transfer = ssl != nullptr ? transfer_of(ssl) : nullptr) {
    record_chain(transfer, X509_STORE_CTX_get0_untrusted(store));
    if (!preverify_ok && transfer->verify_code == X509_V_OK) {
      transfer->verify_code = X509_STORE_CTX_get_error(store);
    }
  }
  return preverify_ok;
}

void on_tls_info(const SSL* ssl, int where, int) {
  if ((where & SSL_CB_HANDSHAKE_DONE) == 0) {
    return;
  }
  Transfer* transfer = transfer_of(ssl);
  if (transfer == nullptr || transfer->handshake_done) {
    return;
  }
  transfer->handshake_done = true;
  TlsObservation& tls = transfer->tls;
  tls.version = SSL_get_version(ssl);
  if (const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl)) {
    tls.cipher = SSL_CIPHER_get_name(cipher);
  }
  const unsigned char* alpn = nullptr;
  unsigned alpn_length = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpn_length);
  if (alpn_length > 0) {
    tls.alpn = std::string(reinterpret_cast<const char*>(alpn), alpn_length);
  }
  record_chain(transfer, SSL_get_peer_cert_chain(ssl));
  if (SSL_get_verify_result(ssl) == X509_V_OK) {
    if (STACK_OF(X509)* verified = SSL_get0_verified_chain(ssl); verified != nullptr && sk_X509_num(verified) > 0) {
      // The trust anchor tells the real site's root from a locally installed interceptor's.
      tls.root = name_text(X509_get_subject_name(sk_X509_value(verified, sk_X509_num(verified) - 1)));
    }
  }
}

// In place of chain verification, for a decoy handshake: OpenSSL verifies the chain even when told
// not to act on the result, and that verification was a sixth of a run's CPU time (perf, 1000
// lab targets). A decoy is never verified; its chain is still recorded.
int skip_verification(X509_STORE_CTX* store, void*) {
  auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (Transfer* transfer = ssl != nullptr ? transfer_of(ssl) : nullptr) {
    record_chain(transfer, X509_STORE_CTX_get0_untrusted(store));
  }
  return 1;
}

CURLcode on_ssl_ctx(CURL*, void* ssl_ctx, void* user) {
  auto* ctx = static_cast<SSL_CTX*>(ssl_ctx);
  SSL_CTX_set_ex_data(ctx, transfer_index(), user);
  SSL_CTX_set_info_callback(ctx, &on_tls_info);
  SSL_CTX_set_verify(ctx, SSL_CTX_get_verify_mode(ctx), &on_verify);
  if (static_cast<const Transfer*>(user)->request.decoy) {
    SSL_CTX_set_cert_verify_callback(ctx, &skip_verification, nullptr);
  }
  return CURLE_OK;
}

std::string trim(std::string_view text) {
  std::size_t start = 0;
  std::size_t end = text.size();
  while (start < end && (text[start] == ' ' || text[start] == '\t')) {
    ++start;
  }
  while (end > start && (text[end - 1] == ' ' || text[end - 1] == '\t' || text[end - 1] == '\r' ||
                         text[end - 1] == '\n')) {
    --end;
  }
  return std::string(text.substr(start, end - start));
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const std::size_t length = size * count;
  const std::string_view line(data, length);
  if (transfer->in_connect) {
    if (line.starts_with("HTTP/")) {
      transfer->connect_status = parse_status_line(line);
      if (transfer->connect_status && transfer->connect_status->reason.size() > k_max_header_value) {
        transfer->connect_status->reason.resize(k_max_header_value);
      }
    } else if (trim(line).empty() && transfer->connect_status && transfer->connect_status->status >= 200 &&
               transfer->connect_status->status <= 299) {
      transfer->in_connect = false;  // the tunnel stands: what comes next is the destination's
    }
    return length;
  }
  transfer->header_bytes += length;
  if (line.rfind("HTTP/", 0) == 0) {
    // A new response head (after a 100 Continue, say): only the last one counts.
    transfer->http.headers.clear();
    transfer->http.headers_truncated = false;
    transfer->header_bytes_kept = 0;
    transfer->headers_full = false;
    transfer->http.location.reset();
    transfer->in_headers = true;
    transfer->headers_complete = false;
    return length;
  }
  if (trim(line).empty()) {
    if (transfer->in_headers) {
      transfer->headers_complete = true;
      transfer->in_headers = false;
    }
    return length;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) {
    return length;
  }
  std::string name = trim(line.substr(0, colon));
  std::string value = trim(line.substr(colon + 1));
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "location") {
    transfer->http.location = value.substr(0, transfer->request.header_value_cap);
  }
  const TransferRequest& request = transfer->request;
  HttpObservation& http = transfer->http;
  if (name.size() > k_max_header_name || value.size() > request.header_value_cap) {
    http.headers_truncated = true;
    name.resize(std::min(name.size(), k_max_header_name));
    value.resize(std::min(value.size(), request.header_value_cap));
  }
  const std::size_t room = request.header_bytes_cap - std::min(transfer->header_bytes_kept, request.header_bytes_cap);
  if (transfer->headers_full || http.headers.size() >= request.header_cap || name.size() + value.size() > room) {
    transfer->headers_full = true;  // the kept headers stay the first ones received, in order
    http.headers_truncated = true;
    return length;
  }
  transfer->header_bytes_kept += name.size() + value.size();
  http.headers.emplace_back(std::move(name), std::move(value));
  return length;
}

// The end of a <title> element, in any case: what an HTTPS body is read for.
bool contains_title_end(const std::string& html) {
  static constexpr std::string_view k_end = "</title";
  return std::search(html.begin(), html.end(), k_end.begin(), k_end.end(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         }) != html.end();
}

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const std::size_t length = size * count;
  const std::uint64_t room = transfer->request.body_cap - std::min<std::uint64_t>(transfer->http.body_length,
                                                                                   transfer->request.body_cap);
  const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(length, room));
  EVP_DigestUpdate(transfer->body_hash.get(), data, take);
  transfer->http.body_length += take;
  if (transfer->body_head.size() < k_title_window) {
    transfer->body_head.append(data, std::min(take, k_title_window - transfer->body_head.size()));
  }
  if (take < length) {
    transfer->body_truncated = true;  // stopping here makes curl end with CURLE_WRITE_ERROR
    transfer->body_stop = "cap";
    return take;
  }
  if (transfer->request.kind == Kind::https && transfer->request.https_body_window > 0) {
    const std::size_t window = std::min(transfer->request.https_body_window, k_title_window);
    curl_off_t announced = -1;  // Content-Length, when the server gave one
    curl_easy_getinfo(transfer->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &announced);
    const bool whole = announced >= 0 && transfer->http.body_length >= static_cast<std::uint64_t>(announced);
    if (!whole && (contains_title_end(transfer->body_head) || transfer->http.body_length >= window)) {
      transfer->body_truncated = true;
      transfer->body_stop = "window";
      return take == 0 ? 1 : 0;  // anything but `length` ends the transfer (CURLE_WRITE_ERROR)
    }
  }
  return take;
}

// Counts the connection's bytes as curl lets it go (it never reuses one: FORBID_REUSE).
int on_close_socket(void* user, curl_socket_t socket) {
  auto* transfer = static_cast<Transfer*>(user);
  if (socket == transfer->socket) {
    transfer->wire = wire_bytes(socket);
  }
  return ::close(socket);
}

int on_socket_options(void* user, curl_socket_t socket, curlsocktype purpose) {
  if (purpose == CURLSOCKTYPE_IPCXN) {
    auto* transfer = static_cast<Transfer*>(user);
    transfer->socket = socket;
    int size = transfer->request.receive_buffer;
    if (transfer->request.kind == Kind::https && transfer->request.https_body_window > 0 && !transfer->request.decoy) {
      size = k_https_receive_buffer;
    }
    if (size > 0) {
      // Before connect, so the window the server is offered is small from the first segment.
      ::setsockopt(socket, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
  }
  return CURL_SOCKOPT_OK;
}

}  // namespace

Classification classify_transfer(const CurlOutcome& outcome, Kind kind) {
  Classification out;
  if (outcome.code == CURLE_OK) {
    return out;
  }
  const bool uses_tls = kind == Kind::tls || kind == Kind::https;
  // HTTP is judged by the response head: a body cut short after it (our cap, a timeout, a reset,
  // a short read) is a success, marked truncated. Throttling is a finding, not a failure.
  if (outcome.headers_received &&
      (outcome.code == CURLE_WRITE_ERROR || outcome.code == CURLE_PARTIAL_FILE ||
       outcome.code == CURLE_OPERATION_TIMEDOUT || outcome.code == CURLE_RECV_ERROR)) {
    out.truncated = true;
    return out;
  }
  CurlFailureClass found = classify_curl_failure(outcome);
  if (found.at_proxy) {
    // The tunnel was not set up, so nothing of TLS or HTTP happened: the first step curl runs.
    out.step = uses_tls ? FailedStep::tls : FailedStep::http;
  } else if (outcome.code == CURLE_PEER_FAILED_VERIFICATION) {
    out.step = FailedStep::tls;
  } else {
    out.step = (uses_tls && !outcome.handshake_done) ? FailedStep::tls : FailedStep::http;
  }
  out.failure = std::move(found.failure);
  return out;
}

std::optional<std::string> extract_title(const std::string& html) {
  std::string lower = html;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  const auto open = lower.find("<title");
  if (open == std::string::npos) {
    return std::nullopt;
  }
  const auto start = lower.find('>', open);
  if (start == std::string::npos) {
    return std::nullopt;
  }
  const auto end = lower.find("</title", start);
  const std::string raw = html.substr(start + 1, (end == std::string::npos ? html.size() : end) - start - 1);
  std::string out;
  bool space = false;
  for (char c : raw) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) {
      out += ' ';
      space = false;
    }
    out += c;
    if (out.size() >= k_max_title) {
      break;
    }
  }
  return out;
}

void start_transfer(CurlMulti& multi, const TransferRequest& request, MonoTime run_start,
                    std::function<void(TransferResult)> done) {
  auto transfer = std::make_unique<Transfer>();
  transfer->request = request;
  transfer->done = std::move(done);
  transfer->started = EventLoop::now();
  transfer->t0_ms = ms_between(run_start, transfer->started);
  EVP_DigestInit_ex(transfer->body_hash.get(), EVP_sha256(), nullptr);
  transfer->easy = curl_easy_init();
  CURL* easy = transfer->easy;

  const bool web = request.kind == Kind::http || request.kind == Kind::https;
  const std::string scheme = request.kind == Kind::http ? "http" : "https";
  const bool v6_host = request.host.find(':') != std::string::npos;
  const std::string url_host = v6_host ? "[" + request.host + "]" : request.host;
  const std::string url = scheme + "://" + url_host + ":" + std::to_string(request.port) + (web ? request.path : "/");
  const std::string address = request.address.find(':') != std::string::npos ? "[" + request.address + "]"
                                                                               : request.address;
  // CONNECT_TO pins the connection to this address, through a proxy too (the tunnel is asked for
  // the address); RESOLVE would only seed curl's name cache, which a proxy that resolves names
  // itself never consults.
  const std::string pin = url_host + ":" + std::to_string(request.port) + ":" + address + ":" +
                          std::to_string(request.port);
  transfer->connect_to = curl_slist_append(nullptr, pin.c_str());
  for (const HeaderLine& header : k_request_headers) {
    const std::string line = std::string(header.name) + ": " + header.value;
    transfer->headers_out = curl_slist_append(transfer->headers_out, line.c_str());
  }

  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_CONNECT_TO, transfer->connect_to);
  apply_path(easy, request.carrier);  // also: never an http_proxy from the environment
  curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
  curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L);
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, transfer->error_buffer);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.connect_timeout.count()));
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(request.total_timeout.count()));
  curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  curl_easy_setopt(easy, CURLOPT_USERAGENT, request.user_agent.c_str());
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, transfer->headers_out);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &on_header);
  // The proxy's CONNECT head comes to on_header too (curl's default, said here because
  // classification reads its reason phrase): on_header keeps it apart from the response.
  curl_easy_setopt(easy, CURLOPT_SUPPRESS_CONNECT_HEADERS, 0L);
  const std::string carrier_scheme = proxy_scheme(request.carrier);
  transfer->in_connect = carrier_scheme == "http" || carrier_scheme == "https";  // always a CONNECT tunnel
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, transfer.get());
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, transfer.get());
  curl_easy_setopt(easy, CURLOPT_SOCKOPTFUNCTION, &on_socket_options);
  curl_easy_setopt(easy, CURLOPT_SOCKOPTDATA, transfer.get());
  curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, &on_close_socket);
  curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, transfer.get());
  if (request.kind != Kind::http) {
    // One CA file, parsed once per run and cached by curl; no CApath (it would defeat the cache
    // and bring in /etc/ssl/certs, where a middlebox's root may have been added).
    curl_easy_setopt(easy, CURLOPT_CAPATH, nullptr);
    if (!request.ca_bundle.empty()) {
      curl_easy_setopt(easy, CURLOPT_CAINFO, request.ca_bundle.c_str());
    }
    curl_easy_setopt(easy, CURLOPT_SSL_CTX_FUNCTION, &on_ssl_ctx);
    curl_easy_setopt(easy, CURLOPT_SSL_CTX_DATA, transfer.get());
    transfer->tls.sni = request.host;
    transfer->tls.decoy_sni = request.decoy;
    if (request.decoy) {
      curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
    }
  }
  if (request.kind == Kind::tls || request.decoy) {
    curl_easy_setopt(easy, CURLOPT_CONNECT_ONLY, 1L);  // completes the TLS handshake, then stops
  }

  Transfer* raw = transfer.release();
  multi.add(easy, [raw](CURL* handle, int code) {
    std::unique_ptr<Transfer> owned(raw);
    const MonoTime finished = EventLoop::now();
    CurlOutcome outcome;
    outcome.code = code;
    curl_easy_getinfo(handle, CURLINFO_OS_ERRNO, &outcome.os_errno);
    // Our own record of the chain check, not CURLINFO_SSL_VERIFYRESULT: curl 7.88 checks the name
    // first and, when that fails, leaves its verify result at a placeholder (1).
    outcome.verify_result = owned->verify_code;
    outcome.handshake_done = owned->handshake_done;
    outcome.headers_received = owned->headers_complete;
    outcome.error_text = owned->error_buffer;
    outcome.via_proxy = !owned->request.carrier.proxy.empty();
    outcome.proxy_scheme = proxy_scheme(owned->request.carrier);
    if (outcome.via_proxy) {
      long proxy_code = 0;
      curl_easy_getinfo(handle, CURLINFO_PROXY_ERROR, &proxy_code);
      outcome.proxy_code = proxy_code;
      curl_easy_getinfo(handle, CURLINFO_HTTP_CONNECTCODE, &outcome.connect_code);
      if (owned->connect_status && owned->connect_status->status == outcome.connect_code) {
        outcome.connect_reason = owned->connect_status->reason;
      }
    }
    const Kind kind = owned->request.decoy ? Kind::tls : owned->request.kind;
    const Classification verdict = classify_transfer(outcome, kind);

    curl_off_t appconnect_us = 0;
    curl_easy_getinfo(handle, CURLINFO_APPCONNECT_TIME_T, &appconnect_us);
    const double elapsed_ms = ms_between(owned->started, finished);

    // Still open (a handshake-only transfer keeps its connection until cleanup): counted now.
    std::optional<WireBytes> wire = owned->wire;
    if (!wire) {
      curl_socket_t active = CURL_SOCKET_BAD;
      if (curl_easy_getinfo(handle, CURLINFO_ACTIVESOCKET, &active) == CURLE_OK && active == owned->socket) {
        wire = wire_bytes(active);
      }
    }

    TransferResult result;
    double http_t0 = owned->t0_ms;
    if (kind != Kind::http) {
      TlsObservation tls = std::move(owned->tls);
      tls.t0_ms = owned->t0_ms;
      tls.duration_ms = owned->handshake_done && appconnect_us > 0 ? static_cast<double>(appconnect_us) / 1000.0
                                                                   : elapsed_ms;
      // Verified means: the chain validated, the name matched, and nothing after that failed
      // the TLS step. A decoy handshake is never verified: it exists to see whether TLS completes.
      const bool tls_failed = verdict.step == FailedStep::tls;
      tls.verified = owned->handshake_done && !owned->request.decoy && !tls_failed &&
                     outcome.verify_result == X509_V_OK;
      // A verify result means something only once the peer's chain was seen.
      const bool chain_checked = owned->chain_seen || outcome.code == CURLE_PEER_FAILED_VERIFICATION;
      if (!owned->request.decoy && chain_checked && outcome.verify_result != X509_V_OK) {
        tls.verify_error = X509_verify_cert_error_string(outcome.verify_result);
      } else if (outcome.code == CURLE_PEER_FAILED_VERIFICATION) {
        tls.verify_error = owned->error_buffer;  // the name check is curl's own: its text says why
      }
      if (tls_failed) {
        tls.failure = verdict.failure;
      }
      http_t0 = tls.t0_ms + tls.duration_ms;
      result.tls = std::move(tls);
    }
    const bool http_attempted = (kind == Kind::http || kind == Kind::https) && verdict.step != FailedStep::tls;
    if (http_attempted) {
      HttpObservation http = std::move(owned->http);
      long status = 0;
      curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
      if (status > 0 && owned->headers_complete) {
        http.status = static_cast<int>(status);
      }
      http.t0_ms = http_t0;
      http.duration_ms = std::max(0.0, owned->t0_ms + elapsed_ms - http_t0);
      http.failure = verdict.step == FailedStep::http ? verdict.failure : std::nullopt;
      http.body_truncated = owned->body_truncated || verdict.truncated;
      unsigned char digest[EVP_MAX_MD_SIZE];
      unsigned length = 0;
      EVP_DigestFinal_ex(owned->body_hash.get(), digest, &length);
      if (owned->headers_complete) {
        http.body_sha256 = hex(digest, length);
        http.title = extract_title(owned->body_head);
      }
      http.bytes = owned->header_bytes + http.body_length;
      if (wire) {
        http.bytes_received = wire->received;
        http.bytes_sent = wire->sent;
        if (code == CURLE_OPERATION_TIMEDOUT) {
          http.idle_ms = wire->idle_ms;
        }
      }
      if (owned->headers_complete) {
        curl_off_t first_byte_us = 0;
        if (curl_easy_getinfo(handle, CURLINFO_STARTTRANSFER_TIME_T, &first_byte_us) == CURLE_OK && first_byte_us > 0) {
          result.first_byte_ms = owned->t0_ms + static_cast<double>(first_byte_us) / 1000.0;
        }
        if (owned->body_stop) {
          http.body_stop = owned->body_stop;
        } else if (code == CURLE_OK) {
          http.body_stop = "complete";
        } else if (code == CURLE_OPERATION_TIMEDOUT) {
          http.body_stop = stalled(http, http.idle_ms) ? "stalled" : "timeout";
        } else {
          http.body_stop = "error";
        }
      }
      result.http = std::move(http);
    } else if (result.tls && wire) {
      result.tls->bytes_received = wire->received;
      result.tls->bytes_sent = wire->sent;
      if (code == CURLE_OPERATION_TIMEDOUT) {
        result.tls->idle_ms = wire->idle_ms;
      }
    }
    auto callback = std::move(owned->done);
    owned.reset();  // closes the connection before anyone looks at the result
    callback(std::move(result));
  });
}

}  // namespace probe
