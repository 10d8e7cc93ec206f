#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/target.hpp"
#include "net/curl_multi.hpp"
#include "net/curl_path.hpp"
#include "report/report.hpp"

namespace probe {

// The TLS and HTTP steps of one endpoint: one curl transfer pinned to `address` with
// CURLOPT_CONNECT_TO (curl never resolves anything itself), on a fresh connection that is never
// reused, redirects recorded and not followed. TCP was checked by our own connect first, so what
// fails here is TLS or HTTP.
struct TransferRequest {
  Kind kind = Kind::https;  // tls: handshake only; https: handshake + GET; http: GET
  std::string host;         // the name in the URL: SNI and Host header
  std::string address;      // IP literal to connect to
  std::uint16_t port = 443;
  std::string path = "/";
  bool decoy = false;       // a handshake with an unrelated SNI: does TLS complete at all? (not verified)
  Millis connect_timeout{5000};  // TCP + TLS handshake
  Millis total_timeout{15000};   // the whole transfer, body included
  std::string ca_bundle;    // CA file for verification; empty keeps curl's default (never in a run)
  std::string user_agent;
  std::size_t body_cap = 1u << 20;  // bytes of body read before stopping (recorded as truncated)
  std::size_t header_cap = 100;     // headers kept
  std::size_t header_value_cap = 1024;
  std::size_t chain_cap = 5;        // certificates kept from the peer's chain
  CurlPath carrier;                 // the path's proxy or interface; empty for the direct path
};

struct TransferResult {
  std::optional<TlsObservation> tls;    // null for http://
  std::optional<HttpObservation> http;  // null when TLS failed or the kind stops after it
};

// Starts the transfer; `done` runs once from the loop.
void start_transfer(CurlMulti& multi, const TransferRequest& request, MonoTime run_start,
                    std::function<void(TransferResult)> done);

// What curl said about a finished transfer, gathered so classification can be a pure function.
struct CurlOutcome {
  int code = 0;              // CURLcode
  long os_errno = 0;         // CURLINFO_OS_ERRNO of this (fresh) handle
  long verify_result = 0;    // X509_V_* of the chain check (0: the chain was fine)
  bool handshake_done = false;  // our TLS info callback saw the handshake complete
  bool headers_received = false;  // a status line and headers arrived
  std::string error_text;    // CURLOPT_ERRORBUFFER: read last, only when codes say nothing
  bool via_proxy = false;    // the transfer went through a control path's proxy
  long proxy_code = 0;       // CURLINFO_PROXY_ERROR (CURLproxycode) when code is CURLE_PROXY
  long connect_code = 0;     // CURLINFO_HTTP_CONNECTCODE: an HTTP proxy's answer to CONNECT
};

enum class FailedStep { none, tls, http };

struct Classification {
  FailedStep step = FailedStep::none;
  std::optional<FailureInfo> failure;
  bool truncated = false;  // success, but the body was cut (our cap, a timeout, a reset)
};

// Whether an X509 verify result means the chain did not lead to a trusted root (self-signed,
// unknown issuer), as opposed to a bad certificate (expired, wrong purpose, ...).
bool is_untrusted_issuer(long verify_result);

// Maps a transfer's outcome to the step that failed and OONI's failure string: library codes and
// errno first, the X509 verify result for certificates, the error text only as a last resort.
Classification classify_transfer(const CurlOutcome& outcome, Kind kind);

// The text of the first <title> element in `html` (case-insensitive, whitespace collapsed,
// at most 256 bytes), or nullopt.
std::optional<std::string> extract_title(const std::string& html);

}  // namespace probe
