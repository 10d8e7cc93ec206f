#pragma once

#include <set>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

// Privacy: what a report (and its partial log) must never hold about the volunteer. Every string
// of the report's JSON goes through it just before it is written:
// - the machine's own addresses (every interface's, loopback aside: 127.0.0.1 is also what some
//   names legitimately resolve to) and the addresses STUN servers saw its requests come from (the
//   public one behind NAT), wherever a server echoed them (a header, a title, an error text),
//   replaced by "[scrubbed]";
// - the same addresses inside raw DNS replies (bytes zeroed), and the address of any EDNS
//   Client Subnet option there, whoever's it is (it is the subnet a resolver saw the query from);
// - the home folder and the user name, replaced by "[scrubbed]" (the name only as a whole word of
//   three characters or more, and never "root", which names nobody).
// - a certificate of the report's `certificates` whose DER holds any of the above (an address as
//   text or in network form, the home folder, the user name), left out whole: changing a byte
//   would make it a certificate no server sent, whose SHA-256 no chain lists;
// Never a target's identity, which comes from its list, not from this machine: `url` and `host`
// are left as given, and a host name's '.' and '-' continue a word or a folder name, so neither
// "/root" in "https://root.example.org/" nor "ubuntu" in "ubuntu.com" is taken for this machine's.
namespace probe {

inline constexpr std::string_view k_scrubbed = "[scrubbed]";

class Scrubber {
public:
  // The addresses of every interface of this machine (getifaddrs), $HOME and the user name.
  static Scrubber for_this_machine();

  void add_address(const std::string& address);  // an IP literal (canonical text); loopback ignored
  void add_word(const std::string& word);        // replaced wherever it appears as a whole word
  void add_path(const std::string& path);        // replaced wherever it appears (a folder)

  // Scrubs every string of `value`, recursively; "raw_base64" strings are DNS replies, a
  // "certificates" object maps SHA-256s to base64 DER.
  void scrub(nlohmann::json& value) const;
  std::string text(std::string_view in) const;
  // A raw DNS message: own addresses' bytes and EDNS Client Subnet addresses zeroed.
  std::string dns_message(std::string bytes) const;

  const std::set<std::string>& addresses() const { return m_addresses; }

private:
  // Whether `bytes` hold this machine's address (as text or in network form), folder or name.
  bool holds_machine(const std::string& bytes) const;
  void scrub_certificates(nlohmann::json& certificates) const;

  std::set<std::string> m_addresses;  // text forms
  std::set<std::string> m_binary;     // 4- or 16-byte network forms
  std::set<std::string> m_words;
  std::set<std::string> m_paths;
};

}  // namespace probe
