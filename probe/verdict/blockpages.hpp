#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "model/observations.hpp"

namespace probe {

// Where a blockpage fingerprint is looked for in an HTTP response.
enum class BlockpageField {
  title,   // the page's <title>, as the HTTP step extracted it (whitespace collapsed)
  header,  // the value of one response header (name compared case-insensitively)
  body,    // the body text: the report keeps only its length and digest, so these entries
           // match only when a caller has the body (find_blockpage's `body`); kept here so the
           // table stays one list when the HTTP step starts keeping a body prefix
};

enum class BlockpageMatch { full, prefix, contains };

// A known blockpage: a censor's page served in place of the site over plain HTTP. Learned from
// OONI's published fingerprints (github.com/ooni/blocking-fingerprints, fingerprints_http.csv,
// which descends from ooni/pipeline's fastpath list); `name` is OONI's id so that a match can be
// traced back to its source row and the measurements cited there.
struct BlockpageFingerprint {
  std::string_view name;     // OONI's id, e.g. "ooni.ir_0"
  std::string_view country;  // ISO 3166-1 alpha-2 where it was seen
  std::string_view scope;    // "nat" (national), "isp", "inst" (an institution), "vbw" (vendor)
  BlockpageField field = BlockpageField::title;
  std::string_view header;  // the header's name when field is header
  BlockpageMatch match = BlockpageMatch::contains;
  std::string_view pattern;
  std::string_view source;  // where the fingerprint is published
};

// The whole table, in a stable order.
std::span<const BlockpageFingerprint> blockpage_fingerprints();

// The first fingerprint the response matches, looking at its title and header values, and at
// `body` when the caller has the body text. nullopt when none matches.
std::optional<BlockpageFingerprint> find_blockpage(const HttpObservation& http,
                                                   std::optional<std::string_view> body = std::nullopt);

}  // namespace probe
