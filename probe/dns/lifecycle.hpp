#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "dns/resolver.hpp"
#include "net/event_loop.hpp"

namespace probe {

// What one try of a query came to, as the transport that carried it saw it.
struct TryOutcome {
  enum class Kind {
    reply,       // a reply to the question asked (or too short to say; the parser judges it)
    mismatched,  // a reply came, but to another question: unknown_failure, the reply kept
    failure,     // no reply
  };
  Kind kind = Kind::failure;
  std::string message;  // the reply, for reply and mismatched
  FailureInfo failure;  // for failure
  bool retryable = false;  // a failure another try may not meet (a timeout, a close before the reply)

  static TryOutcome replied(std::string message);
  static TryOutcome other_question(std::string message);
  static TryOutcome failed(FailureInfo failure, bool retryable);
};

// Carries tries of queries to one server: UDP (c-ares), a TCP stream, DoH. A transport knows
// its wire and its own time limit per try; the lifecycle (TransportResolver) owns everything
// else. It reports each try's outcome once through the callback it was given, and never for a
// query it was told to cancel.
class DnsTransport {
public:
  using TryDone = std::function<void(std::uint64_t key, TryOutcome outcome)>;

  virtual ~DnsTransport() = default;

  // Set once, before the first send(). The callback returns at once (delivery is from the loop),
  // so a transport may go on after calling it.
  virtual void on_done(TryDone done) = 0;
  // Sends try `attempt` (1 for the first) of query `key`, the message `wire`.
  virtual void send(std::uint64_t key, const std::string& wire, int attempt) = 0;
  // Forgets query `key`: its try stops, and nothing is reported for it.
  virtual void cancel(std::uint64_t key) = 0;
  // The ID a new query carries: random for UDP and TCP, 0 for DoH (RFC 8484 section 4.1).
  virtual std::uint16_t query_id() = 0;
};

// A random query ID (getrandom, else std::random_device).
std::uint16_t random_query_id();

// One DNS query lifecycle, whatever carries it (as OONI's serial resolver over its DNS
// transports): the query encoded (a name no message can carry fails with c-ares's reason), the
// table of queries in flight, each try started from the loop, a failed try repeated once when
// `tries` > 1 and its outcome is retryable, the reply turned into the observation
// (fill_from_reply), the time taken, and exactly one callback per query, always from the loop,
// never from inside query(). Destroying it completes every query still in flight with
// "interrupted", from the destructor, then destroys the transport.
class TransportResolver : public Resolver {
public:
  ~TransportResolver() override;
  TransportResolver(const TransportResolver&) = delete;
  TransportResolver& operator=(const TransportResolver&) = delete;

  void query(const std::string& name, std::uint16_t type, bool bogon_expected, Callback callback) final;
  std::string label() const final;

protected:
  // `tries`: how many tries the lifecycle makes of one query (a transport that retries by
  // itself, as c-ares does over UDP, is given 1).
  TransportResolver(EventLoop& loop, std::unique_ptr<DnsTransport> transport, std::string label,
                    const DnsSettings& settings, const BogonTable& bogons, MonoTime run_start, int tries);

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace probe
