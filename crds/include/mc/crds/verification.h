#pragma once

#include <boost/json/fwd.hpp>
#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <vector>

#include "mc/common/error.h"

// C++ types of image verification: the spec of a VerificationPolicy (namespaced) or a
// ClusterVerificationPolicy (crds/verification_policy.yaml, crds/cluster_verification_policy.yaml),
// and a Rollout's spec.verify, which holds the same fields inline or names a policy.
// docs/signing.md says what each field means and how policies combine.
namespace mc::crds {

// A public key a policy trusts: a PEM in a Secret (`cosign.pub` unless `key` says), or inline.
struct PolicyKey {
  std::optional<std::string> secretName;
  std::optional<std::string> secretNamespace;  // ClusterVerificationPolicy only (it has no own)
  std::optional<std::string> secretKey;        // absent: kDefaultPublicKeyKey
  std::optional<std::string> publicKey;        // an inline PEM
};

inline constexpr const char* kDefaultPublicKeyKey = "cosign.pub";

// A person's exception for one digest, until `expires` (RFC 3339).
struct PolicyWaiver {
  std::string digest;
  std::string owner;
  std::string reason;
  std::string expires;
};

// A PEM document (certificates) in a Secret or inline: a keyless policy's roots, a timestamp
// authority's chain. Unlike a key, the Secret's data key has no default: it must be named.
struct PemSource {
  std::optional<std::string> secretName;
  std::optional<std::string> secretNamespace;  // ClusterVerificationPolicy only
  std::optional<std::string> secretKey;
  std::optional<std::string> pem;  // inline
};

// Who may sign keylessly: the certificate's subject (an email or URI SAN) and its OIDC issuer,
// each matched exactly or by a regular expression (one of the two each), as `cosign verify
// --certificate-identity[-regexp] --certificate-oidc-issuer[-regexp]`.
struct KeylessIdentity {
  std::optional<std::string> subject;
  std::optional<std::string> subjectRegExp;
  std::optional<std::string> issuer;
  std::optional<std::string> issuerRegExp;
};

// Keyless signing: certificates for one of `identities`, chaining to `roots` (the CA's root and
// intermediates: Fulcio's, or a private one), valid when the signature was made. That time is
// trusted only from a transparency-log entry signed by one of `transparencyLogKeys`, or an RFC
// 3161 timestamp by one of `timestampAuthorities`; without either, the certificate must be valid
// at the check.
struct KeylessPolicy {
  std::vector<KeylessIdentity> identities;
  std::vector<PemSource> roots;
  std::vector<PolicyKey> transparencyLogKeys;
  std::vector<PemSource> timestampAuthorities;
};

struct VerificationPolicySpec {
  // Image patterns the policy covers ("ghcr.io/acme/**"); empty: every image of what uses it.
  std::vector<std::string> images;
  std::vector<PolicyKey> keys;
  std::optional<KeylessPolicy> keyless;
  // In-toto predicate types ("https://slsa.dev/provenance/v1") each of which a verified
  // attestation of the digest must carry, signed as a signature must be.
  std::vector<std::string> attestations;
  std::optional<bool> required;         // absent: true
  std::optional<bool> matchRepository;  // absent: false
  std::vector<PolicyWaiver> waivers;
  // ClusterVerificationPolicy only: whether waivers of the namespace (a Rollout's own or its
  // VerificationPolicy's) may excuse a digest this policy refuses. Absent: false.
  std::optional<bool> allowNamespaceWaivers;
};

// spec.verify.policyRef: a VerificationPolicy of the Rollout's namespace, or a
// ClusterVerificationPolicy.
struct PolicyRef {
  std::string kind;
  std::string name;
};

// A Rollout's spec.verify: a policy by reference, or inline (the CRD allows one of the two).
struct RolloutVerify {
  std::optional<PolicyRef> policyRef;
  VerificationPolicySpec inlinePolicy;  // the fields beside policyRef
};

void tag_invoke(const boost::json::value_from_tag&, boost::json::value& out,
                const VerificationPolicySpec& spec);
void tag_invoke(const boost::json::value_from_tag&, boost::json::value& out,
                const RolloutVerify& verify);

// Reads a policy's spec (or spec.verify's inline fields) at `path`; Invalid naming the field.
Result<VerificationPolicySpec> readVerificationPolicySpec(const boost::json::object& spec,
                                                          const std::string& path);
// Reads the `spec` of a VerificationPolicy or ClusterVerificationPolicy object.
Result<VerificationPolicySpec> readVerificationPolicy(const boost::json::object& policy);
Result<RolloutVerify> readRolloutVerify(const boost::json::object& verify, const std::string& path);

}  // namespace mc::crds
