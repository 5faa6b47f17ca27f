#pragma once

#include <string>
#include <string_view>

#include "mc/common/error.h"

// Content digests as registries write them ("sha256:<64 lower-case hex>"): the name of every
// manifest and blob, so checking one is how MC knows the bytes it read are the bytes it asked for.
namespace mc::signing {

// The algorithms MC accepts in a digest. Others (OCI allows them) are refused rather than
// trusted unchecked.
inline constexpr std::string_view kSha256 = "sha256";
inline constexpr std::string_view kSha512 = "sha512";

// Invalid (about `field`) unless `digest` is "sha256:" + 64 or "sha512:" + 128 lower-case hex.
Result<void> checkDigest(std::string_view digest, std::string field = "digest");
// The same, but only sha256 (image references and cosign's tags name images by sha256 alone).
Result<void> checkSha256Digest(std::string_view digest, std::string field = "digest");

// "sha256:" + the hex SHA-256 of `bytes`: the digest a registry gives those bytes.
std::string digestOf(std::string_view bytes);

// Whether `bytes` have the digest `expected` (sha256 or sha512): Invalid when `expected` is not a
// digest, Terminal naming both digests when they differ (the bytes are not what was asked for).
Result<void> verifyDigest(std::string_view bytes, std::string_view expected);

// A registry's Docker-Content-Digest header against the body it came with. An absent header
// (empty) passes: registries need not send one, and callers check the body against the digest
// they asked for with verifyDigest.
Result<void> checkContentDigest(std::string_view body, std::string_view header);

}  // namespace mc::signing
