#include "dns/resolver.hpp"

#include <ares.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "core/digest.hpp"
#include "core/error.hpp"
#include "core/exit_codes.hpp"
#include "dns/dns_message.hpp"
#include "net/classify.hpp"
#include "targets/host.hpp"

namespace probe {

std::string ResolverSpec::label() const {
  const std::string host = address.find(':') != std::string::npos ? "[" + address + "]" : address;
  return std::string(system ? "system:" : injection ? "injection:" : "") + host + ":" + std::to_string(port);
}

std::optional<ResolverSpec> parse_resolver(std::string_view text, std::string* problem) {
  ResolverSpec spec;
  std::string_view host = text;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || (close + 1 < text.size() && text[close + 1] != ':')) {
      *problem = "expected [IPV6]:PORT";
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      port_text = text.substr(close + 2);
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    const auto colon = text.find(':');
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  if (!is_ip_literal(host)) {
    *problem = "'" + std::string(host) + "' is not an IP address (resolvers are given by address)";
    return std::nullopt;
  }
  spec.address = std::string(host);
  if (!port_text.empty() || (text.size() > host.size() && text.back() == ':')) {
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() || port < 1 ||
        port > 65535) {
      *problem = "port '" + std::string(port_text) + "' is not a number from 1 to 65535";
      return std::nullopt;
    }
    spec.port = static_cast<std::uint16_t>(port);
  }
  return spec;
}

std::vector<ResolverSpec> system_resolvers(const std::string& resolv_conf) {
  // c-ares quietly falls back to 127.0.0.1 when the file is missing: a file the user named must exist.
  if (!resolv_conf.empty() && ::access(resolv_conf.c_str(), R_OK) != 0) {
    throw UserError(exit_code::k_no_input, resolv_conf + ": cannot read: " + std::strerror(errno));
  }
  std::vector<ResolverSpec> out;
  ares_channel channel = nullptr;
  ares_options options{};
  options.resolvconf_path = const_cast<char*>(resolv_conf.c_str());
  const int mask = resolv_conf.empty() ? 0 : ARES_OPT_RESOLVCONF;
  if (ares_init_options(&channel, &options, mask) != ARES_SUCCESS) {
    if (!resolv_conf.empty()) {
      throw UserError(exit_code::k_no_input, resolv_conf + ": cannot read resolver configuration");
    }
    return out;
  }
  ares_addr_port_node* servers = nullptr;
  if (ares_get_servers_ports(channel, &servers) == ARES_SUCCESS) {
    for (ares_addr_port_node* node = servers; node != nullptr; node = node->next) {
      char text[INET6_ADDRSTRLEN] = {};
      ares_inet_ntop(node->family, &node->addr, text, sizeof text);
      ResolverSpec spec;
      spec.address = text;
      spec.port = static_cast<std::uint16_t>(node->udp_port == 0 ? 53 : node->udp_port);
      spec.system = true;
      out.push_back(spec);
    }
    ares_free_data(servers);
  }
  ares_destroy(channel);
  return out;
}

namespace {

bool answers_type(const DnsRecord& record, std::uint16_t type) { return record.type == type; }

}  // namespace

void fill_from_reply(DnsQuery& query, std::string_view packet, std::uint16_t type, const BogonTable& bogons,
                     std::size_t raw_cap, bool bogon_expected) {
  query.raw_truncated = packet.size() > raw_cap;
  query.raw_base64 = base64_encode(packet.substr(0, raw_cap));
  std::string problem;
  const auto reply = parse_dns_reply(packet, &problem);
  if (!reply) {
    query.failure = FailureInfo{Failure::unknown_failure, "malformed DNS reply: " + problem};
    return;
  }
  query.rcode = rcode_name(reply->rcode);
  bool any_bogon = false;
  std::size_t addresses = 0;
  std::size_t cnames = 0;
  for (const DnsRecord& record : reply->answers) {
    const bool cname = record.type == k_type_cname;
    if (!cname && !answers_type(record, type)) {
      continue;  // an A record in an AAAA reply is noise, not an answer
    }
    const bool bogon = !cname && bogons.is_bogon(record.value);
    any_bogon = any_bogon || bogon;  // judged on the whole reply, kept or not
    const std::size_t seen = cname ? ++cnames : ++addresses;
    if (seen > (cname ? k_max_dns_cnames : k_max_dns_addresses)) {
      query.answers_truncated = true;
      continue;
    }
    if (cname) {
      query.cname_chain.push_back(record.value);
    }
    DnsAnswer answer;
    answer.type = type_name(record.type);
    answer.value = record.value;
    answer.ttl = record.ttl;
    answer.bogon = bogon;
    query.answers.push_back(std::move(answer));
  }
  switch (reply->rcode) {
  case 0: break;
  case 2: query.failure = FailureInfo{Failure::dns_servfail_error, ""}; return;
  case 3: query.failure = FailureInfo{Failure::dns_nxdomain_error, ""}; return;
  case 5: query.failure = FailureInfo{Failure::dns_refused_error, ""}; return;
  default: query.failure = FailureInfo{Failure::unknown_failure, "DNS rcode " + rcode_name(reply->rcode)}; return;
  }
  if (any_bogon && !bogon_expected) {
    query.failure = FailureInfo{Failure::dns_bogon_error, ""};
  } else if (addresses == 0) {
    query.failure = FailureInfo{Failure::dns_no_answer, ""};
  }
}

}  // namespace probe
