#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "dns/lifecycle.hpp"
#include "dns/resolver.hpp"
#include "net/stream_connect.hpp"

namespace probe {

// DNS over TCP (RFC 1035 section 4.2.2, RFC 7766: each message is preceded by its length in two
// bytes) to one server, through a StreamConnector. The connector decides how the stream is carried
// (directly, bound to an interface, through a SOCKS5 or CONNECT tunnel), which is what lets a
// control path resolve names through itself.
//
// Queries share connections (RFC 7766 section 6.2.1): up to 8 connections (a new one once each
// open one has 8 queries out), each with up to 32 queries written back to back and answered in
// any order, matched by ID and question (IDs are random and unique on a connection). A reply to no query in flight is skipped. An idle connection
// stays open for the next query and closes quietly if the server or proxy closes it.
//
// Sharing must never move one name's blocking onto another: a censor that resets or blackholes a
// DNS flow once it sees a blocked name breaks every query on that connection. So a failure counts
// as a query's own only when its connection never carried another query, or when nothing was sent
// yet (the connection or the proxy failed: every query would have met that). Otherwise the query is
// asked again on a connection of its own, and the shared try does not count. A shared connection
// that leaves a query unanswered takes no new one.
//
// Each try gets settings.timeout_ms in all (connect, send, reply). When settings.tries > 1, a try
// that timed out or saw the server close without a reply is repeated once, on a fresh connection of
// its own. The connector's failure is the query's failure (proxy_error stays proxy_error) and is not
// retried. The query's lifecycle (one callback, from the loop; interruption) is dns/lifecycle.hpp's.
class StreamResolver : public TransportResolver {
public:
  // `server.bind_device` is not used: binding is the connector's business. `label_prefix` starts
  // label(), e.g. "tcp:" gives "tcp:10.77.0.53:53".
  StreamResolver(EventLoop& loop, StreamConnector connector, ResolverSpec server, const DnsSettings& settings,
                 const BogonTable& bogons, MonoTime run_start, std::string label_prefix);
};

}  // namespace probe
