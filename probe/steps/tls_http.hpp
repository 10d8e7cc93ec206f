#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/target.hpp"
#include "net/classify.hpp"
#include "net/curl_multi.hpp"
#include "net/curl_path.hpp"
#include "model/observations.hpp"

namespace probe {

// What one response may put in the report and in memory. A peer chooses every byte of its
// response head and certificate chain, and each endpoint of each path keeps its own copy, so each
// part is cut to a size that holds real responses whole:
// - headers: curl refuses heads over 300 KiB (and a single line over 100 KiB), which would still
//   be 300 KiB per endpoint. Real heads have a few dozen headers and a few KiB; blockpage
//   fingerprints need names and the start of values (Server, Location, Set-Cookie).
inline constexpr std::size_t k_max_headers = 100;
inline constexpr std::size_t k_max_header_name = 256;
inline constexpr std::size_t k_max_header_value = 1024;  // also the Location kept
inline constexpr std::size_t k_max_header_bytes = 16 * 1024;  // names and values kept, all headers together
// - certificates: a chain is at most 100 KiB (OpenSSL's default limit for a client); the leaf,
//   its issuers and the root are what the verdict and an analyst look at, and a distinguished
//   name is a few hundred bytes unless someone stuffs it.
inline constexpr std::size_t k_max_chain = 5;
inline constexpr std::size_t k_max_name_text = 1024;  // subject, issuer and root, each
// - body: read up to the cap and hashed, never stored. 1 MiB tells a page from a truncated one
//   without letting an endless body run until the timeout. A <title> is looked for in the first
//   64 KiB (it sits in the head of a page; a blockpage is small) and kept to 256 bytes, more
//   than any real title and enough to match a blockpage's.
inline constexpr std::size_t k_max_body = std::size_t{1} << 20;
inline constexpr std::size_t k_title_window = 64 * 1024;
// - an HTTPS body is compared with nothing (only plain HTTP's is, against control's): it is read
//   as far as its </title>, or this far at most, and the read stops there (body_stop "window"). A
//   page's head is in its first few KiB; with the handshake (a few KiB of certificates) and the
//   decoy's, a target-path then moves well under 64 KiB, and a slow link is not filled by pages
//   nobody looks at.
inline constexpr std::size_t k_https_body_window = 16 * 1024;
// - and its socket's receive buffer is kept small (the kernel doubles it for its own accounting),
//   so the server cannot push far past the window before the read stops: what it sent beyond is
//   on the wire all the same, and on a slow link it queues ahead of every other step.
inline constexpr int k_https_receive_buffer = 16 * 1024;
inline constexpr std::size_t k_max_title = 256;

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
  std::size_t body_cap = k_max_body;  // bytes of body read before stopping (recorded as truncated)
  std::size_t https_body_window = k_https_body_window;  // https: stop after </title> or this many bytes
  // SO_RCVBUF before connect (0: the kernel's default); an https read with a window uses
  // k_https_receive_buffer whatever this says.
  int receive_buffer = 0;
  std::size_t header_cap = k_max_headers;  // headers kept
  std::size_t header_value_cap = k_max_header_value;
  std::size_t header_bytes_cap = k_max_header_bytes;
  std::size_t chain_cap = k_max_chain;  // certificates kept from the peer's chain
  CurlPath carrier;                 // the path's proxy or interface; empty for the direct path
};

struct TransferResult {
  std::optional<TlsObservation> tls;    // null for http://
  std::optional<HttpObservation> http;  // null when TLS failed or the kind stops after it
  // When the response's first byte came, from the run's start (a head arrived): a body's rate is
  // timed from there, so the handshake and the server's think time do not count against it.
  std::optional<double> first_byte_ms;
};

// Starts the transfer; `done` runs once from the loop.
void start_transfer(CurlMulti& multi, const TransferRequest& request, MonoTime run_start,
                    std::function<void(TransferResult)> done);

// What curl said about a finished transfer (code CURLE_OK too): net/classify.hpp's record, with
// handshake_done from our TLS info callback, and what only this step knows.
struct CurlOutcome : CurlFailure {
  bool headers_received = false;  // a status line and headers arrived
};

enum class FailedStep { none, tls, http };

struct Classification {
  FailedStep step = FailedStep::none;
  std::optional<FailureInfo> failure;
  bool truncated = false;  // success, but the body was cut (our cap, a timeout, a reset)
};

// Maps a transfer's outcome to the step that failed and OONI's failure string. The failure is
// net/classify.hpp's classify_curl_failure (library codes and errno first, the X509 verify result
// for certificates, the error text only as a last resort; the proxy's answers as everywhere else);
// what is this step's own: which step failed, and a body cut short after the head (a success,
// marked truncated).
Classification classify_transfer(const CurlOutcome& outcome, Kind kind);

// The text of the first <title> element in `html` (case-insensitive, whitespace collapsed,
// at most k_max_title bytes), or nullopt.
std::optional<std::string> extract_title(const std::string& html);

}  // namespace probe
