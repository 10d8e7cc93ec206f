#include "dns/dns_message.hpp"

#include <arpa/inet.h>

namespace probe {

std::string rcode_name(int rcode) {
  static constexpr const char* k_names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
                                            "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"};
  if (rcode >= 0 && rcode <= 10) {
    return k_names[rcode];
  }
  return "RCODE" + std::to_string(rcode);
}

std::string type_name(std::uint16_t type) {
  switch (type) {
  case k_type_a: return "A";
  case k_type_aaaa: return "AAAA";
  case k_type_cname: return "CNAME";
  default: return "TYPE" + std::to_string(type);
  }
}

namespace {

class Reader {
public:
  explicit Reader(std::string_view packet) : m_packet(packet) {}

  bool u8(std::uint8_t* out) {
    if (m_pos + 1 > m_packet.size()) {
      return false;
    }
    *out = static_cast<std::uint8_t>(m_packet[m_pos++]);
    return true;
  }
  bool u16(std::uint16_t* out) {
    std::uint8_t hi = 0;
    std::uint8_t lo = 0;
    if (!u8(&hi) || !u8(&lo)) {
      return false;
    }
    *out = static_cast<std::uint16_t>((hi << 8) | lo);
    return true;
  }
  bool u32(std::uint32_t* out) {
    std::uint16_t hi = 0;
    std::uint16_t lo = 0;
    if (!u16(&hi) || !u16(&lo)) {
      return false;
    }
    *out = (static_cast<std::uint32_t>(hi) << 16) | lo;
    return true;
  }
  bool skip(std::size_t count) {
    if (m_pos + count > m_packet.size()) {
      return false;
    }
    m_pos += count;
    return true;
  }
  // Reads a possibly compressed name; pointers may only go backwards, which also bounds loops.
  bool name(std::string* out) {
    out->clear();
    std::size_t pos = m_pos;
    bool jumped = false;
    std::size_t total = 0;
    while (true) {
      if (pos >= m_packet.size()) {
        return false;
      }
      const auto length = static_cast<std::uint8_t>(m_packet[pos]);
      if ((length & 0xC0) == 0xC0) {
        if (pos + 1 >= m_packet.size()) {
          return false;
        }
        const std::size_t target = ((length & 0x3Fu) << 8) | static_cast<std::uint8_t>(m_packet[pos + 1]);
        if (target >= pos) {
          return false;
        }
        if (!jumped) {
          m_pos = pos + 2;
          jumped = true;
        }
        pos = target;
        continue;
      }
      if ((length & 0xC0) != 0) {
        return false;  // extended label types are not used in replies
      }
      if (length == 0) {
        if (!jumped) {
          m_pos = pos + 1;
        }
        if (out->empty()) {
          *out = ".";
        }
        return true;
      }
      if (pos + 1 + length > m_packet.size()) {
        return false;
      }
      total += length + 1u;
      if (total > 255) {
        return false;
      }
      if (!out->empty()) {
        *out += '.';
      }
      out->append(m_packet.substr(pos + 1, length));
      pos += 1u + length;
    }
  }
  std::size_t pos() const { return m_pos; }
  std::string_view bytes(std::size_t count) const { return m_packet.substr(m_pos, count); }

private:
  std::string_view m_packet;
  std::size_t m_pos = 0;
};

std::optional<DnsReply> fail(std::string* problem, const char* text) {
  *problem = text;
  return std::nullopt;
}

}  // namespace

std::optional<DnsReply> parse_dns_reply(std::string_view packet, std::string* problem) {
  Reader reader(packet);
  DnsReply reply;
  std::uint16_t flags = 0;
  std::uint16_t qdcount = 0;
  std::uint16_t ancount = 0;
  std::uint16_t nscount = 0;
  std::uint16_t arcount = 0;
  if (!reader.u16(&reply.id) || !reader.u16(&flags) || !reader.u16(&qdcount) || !reader.u16(&ancount) ||
      !reader.u16(&nscount) || !reader.u16(&arcount)) {
    return fail(problem, "reply shorter than a DNS header");
  }
  if ((flags & 0x8000) == 0) {
    return fail(problem, "not a reply (QR bit clear)");
  }
  reply.truncated = (flags & 0x0200) != 0;
  reply.rcode = flags & 0x000F;
  std::string name;
  for (std::uint16_t i = 0; i < qdcount; ++i) {
    if (!reader.name(&name) || !reader.skip(4)) {
      return fail(problem, "malformed question section");
    }
  }
  for (std::uint16_t i = 0; i < ancount; ++i) {
    DnsRecord record;
    std::uint16_t klass = 0;
    std::uint16_t length = 0;
    if (!reader.name(&record.owner) || !reader.u16(&record.type) || !reader.u16(&klass) ||
        !reader.u32(&record.ttl) || !reader.u16(&length)) {
      return fail(problem, "malformed answer record");
    }
    const std::size_t data_start = reader.pos();
    if (data_start + length > packet.size()) {
      return fail(problem, "answer record data runs past the end of the reply");
    }
    if (record.type == k_type_a || record.type == k_type_aaaa) {
      const std::size_t size = record.type == k_type_a ? 4 : 16;
      if (length != size) {
        return fail(problem, "address record of the wrong length");
      }
      char text[INET6_ADDRSTRLEN] = {};
      inet_ntop(record.type == k_type_a ? AF_INET : AF_INET6, reader.bytes(size).data(), text, sizeof text);
      record.value = text;
      reply.answers.push_back(std::move(record));
    } else if (record.type == k_type_cname) {
      Reader target = reader;
      if (!target.name(&record.value) || target.pos() > data_start + length) {
        return fail(problem, "malformed CNAME record");
      }
      reply.answers.push_back(std::move(record));
    }
    reader.skip(length);
  }
  return reply;
}

namespace {

// Where the question's name ends (after its root label), or npos when it runs off the message or
// uses compression, which a question never needs.
std::size_t question_name_end(std::string_view message) {
  std::size_t at = 12;
  while (at < message.size()) {
    const auto length = static_cast<std::uint8_t>(message[at]);
    if (length == 0) {
      return at + 1;
    }
    if ((length & 0xC0) != 0) {
      return std::string_view::npos;
    }
    at += 1u + length;
  }
  return std::string_view::npos;
}

char fold(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

ReplyMatch match_reply(std::string_view reply, std::string_view query) {
  constexpr std::size_t k_header = 12;
  if (reply.size() < k_header) {
    return ReplyMatch::malformed;
  }
  if (query.size() < k_header || reply.substr(0, 2) != query.substr(0, 2)) {
    return ReplyMatch::mismatched;
  }
  const bool no_question = reply[4] == 0 && reply[5] == 0;
  if (no_question) {
    return ReplyMatch::matches;
  }
  const std::size_t reply_end = question_name_end(reply);
  const std::size_t query_end = question_name_end(query);
  if (reply_end == std::string_view::npos || reply_end + 4 > reply.size()) {
    return ReplyMatch::malformed;
  }
  if (query_end == std::string_view::npos || query_end + 4 > query.size()) {
    return ReplyMatch::mismatched;
  }
  // Label lengths and letters alike: a length byte is never a letter (labels are at most 63).
  const auto asked = query.substr(k_header, query_end - k_header);
  const auto answered = reply.substr(k_header, reply_end - k_header);
  if (asked.size() != answered.size() || reply.substr(reply_end, 4) != query.substr(query_end, 4)) {
    return ReplyMatch::mismatched;
  }
  for (std::size_t i = 0; i < asked.size(); ++i) {
    if (fold(asked[i]) != fold(answered[i])) {
      return ReplyMatch::mismatched;
    }
  }
  return ReplyMatch::matches;
}

}  // namespace probe
