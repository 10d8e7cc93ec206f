#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "dns/resolver.hpp"
#include "net/stream_connect.hpp"

namespace probe {

// DNS over TCP (RFC 1035 section 4.2.2, RFC 7766: each message is preceded by its length in two
// bytes) to one server, through a StreamConnector. The connector decides how the stream is carried
// (directly, bound to an interface, through a SOCKS5 or CONNECT tunnel), which is what lets a
// control path resolve names through itself.
//
// One connection per query, never pipelined: a proxy may close an idle tunnel at any time, and a
// connection that carries a single query cannot mix up replies. The query's ID is random; a reply
// whose ID or question differs is skipped (and kept as the raw reply if nothing better comes).
//
// Each try gets settings.timeout_ms in all (connect, send, reply). When settings.tries > 1, a try
// that timed out or saw the server close without a reply is repeated once, on a fresh connection.
// The connector's failure is the query's failure (proxy_error stays proxy_error) and is not retried.
class StreamResolver : public Resolver {
public:
  // `server.bind_device` is not used: binding is the connector's business. `label_prefix` starts
  // label(), e.g. "tcp:" gives "tcp:10.77.0.53:53".
  StreamResolver(EventLoop& loop, StreamConnector connector, ResolverSpec server, const DnsSettings& settings,
                 const BogonTable& bogons, MonoTime run_start, std::string label_prefix);
  // Completes every query still in flight with "interrupted", from here.
  ~StreamResolver() override;
  StreamResolver(const StreamResolver&) = delete;
  StreamResolver& operator=(const StreamResolver&) = delete;

  void query(const std::string& name, std::uint16_t type, bool bogon_expected, Callback callback) override;
  std::string label() const override;

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace probe
