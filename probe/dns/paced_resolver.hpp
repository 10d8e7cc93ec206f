#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "dns/resolver.hpp"
#include "net/event_loop.hpp"

namespace probe {

// The default cap on queries in flight to one DNS server (--resolver-inflight). A home router's
// dnsmasq forwards at most 150 queries at once (dns-forward-max) and drops the rest, and a burst
// of replies past a UDP socket's receive buffer (about 200 KiB by default, some 270 replies at
// the kernel's per-packet cost) is dropped too: 64 stays well under both.
inline constexpr std::size_t k_default_resolver_inflight = 64;
// Back-off never goes below this many queries in flight.
inline constexpr std::size_t k_min_resolver_inflight = 4;

// Paces the queries of one resolver, whatever the run's --concurrency: at most a window of them
// in flight, the rest queued in order. The window starts at `max_in_flight` and backs off on loss
// (a try that timed out while the server answers others): the first loss of a round halves it,
// and every loss caps it below the number that were in flight when the lost query was sent,
// down to k_min_resolver_inflight. It grows back by one per `timeout` at most (with answers in
// between): a loss shows only a timeout after it happened, so a window that grew faster (as
// TCP's does, whose losses show within a round trip) would overrun the server many times before
// the first loss was seen.
//
// With `tries` above 1 the pacer owns the retries (give the inner resolver one try): a lost query
// goes again at the head of the queue, under the narrowed window. A resolver that retries by
// itself would resend a whole burst's losses at once, past the window, and lose them again. The
// query's observation then spans all its tries (t0 of the first, duration to the last's end).
//
// A server that has answered nothing an eighth of `timeout` after the first query was sent (or
// whose queries time out before any answer) is dead or blocked: the window opens for it, since
// nothing comes back to overflow, and holding queries back would stretch the run past one
// timeout per try; its first answer closes the window again.
class PacedResolver : public Resolver {
public:
  // `timeout`: of one try of the inner resolver.
  PacedResolver(EventLoop& loop, std::unique_ptr<Resolver> inner, std::size_t max_in_flight, Millis timeout,
                MonoTime run_start, int tries = 1);
  ~PacedResolver() override;
  PacedResolver(const PacedResolver&) = delete;
  PacedResolver& operator=(const PacedResolver&) = delete;

  // Sent now if the window has room, else queued; the callback contract is the inner resolver's
  // (queued queries still waiting when the resolver goes away complete as "interrupted").
  void query(const std::string& name, std::uint16_t type, bool bogon_expected, Callback callback) override;
  std::string label() const override { return m_inner->label(); }

  std::size_t window() const;     // queries it lets be in flight now
  std::size_t in_flight() const;  // sent and not yet answered
  std::size_t queued() const;     // waiting for room in the window

private:
  struct State;
  std::shared_ptr<State> m_state;  // shared with the callbacks handed to the inner resolver
  std::unique_ptr<Resolver> m_inner;
  MonoTime m_run_start;
};

}  // namespace probe
