#include "mc/crds/verification.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "mc/crds/rollout.h"

namespace mc::crds {
namespace {

namespace json = boost::json;

constexpr const char* kDigest =
    "sha256:1111111111111111111111111111111111111111111111111111111111111111";

// Every field of a ClusterVerificationPolicy's spec, each key form (Secret with and without
// namespace and key, inline PEM) and two waivers.
constexpr const char* kFullClusterPolicy = R"({
  "apiVersion": "mc.maestro.dev/v1alpha1",
  "kind": "ClusterVerificationPolicy",
  "metadata": {"name": "prod"},
  "spec": {
    "images": ["ghcr.io/acme/**", "docker.io/library/nginx"],
    "keys": [
      {"secretRef": {"name": "cosign", "namespace": "mc-system", "key": "release.pub"}},
      {"secretRef": {"name": "cosign-old"}},
      {"publicKey": "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n"}
    ],
    "required": false,
    "matchRepository": true,
    "allowNamespaceWaivers": true,
    "waivers": [
      {"digest": "sha256:1111111111111111111111111111111111111111111111111111111111111111",
       "owner": "alice", "reason": "hotfix INC-42", "expires": "2026-12-31T00:00:00Z"},
      {"digest": "sha256:2222222222222222222222222222222222222222222222222222222222222222",
       "owner": "bob", "reason": "vendor image", "expires": "2027-01-15T12:00:00Z"}
    ]
  }
})";

// The spec `policy` holds; a test failure (and an empty spec) if it cannot be read.
VerificationPolicySpec readPolicyOrFail(const json::value& policy) {
  auto read = readVerificationPolicy(policy.as_object());
  EXPECT_TRUE(read) << read.error().describe();
  return read ? *read : VerificationPolicySpec{};
}

Rollout readRolloutOrFail(const json::value& in) {
  auto read = readRollout(in);
  EXPECT_TRUE(read) << read.error().describe();
  return read ? *read : Rollout{};
}

TEST(VerificationPolicyJsonTest, RoundTripKeepsEveryField) {
  auto in = json::parse(kFullClusterPolicy);
  auto spec = readPolicyOrFail(in);
  EXPECT_EQ(spec.images, (std::vector<std::string>{"ghcr.io/acme/**", "docker.io/library/nginx"}));
  ASSERT_EQ(spec.keys.size(), 3u);
  EXPECT_EQ(spec.keys[0].secretName, "cosign");
  EXPECT_EQ(spec.keys[0].secretNamespace, "mc-system");
  EXPECT_EQ(spec.keys[0].secretKey, "release.pub");
  EXPECT_FALSE(spec.keys[0].publicKey.has_value());
  EXPECT_EQ(spec.keys[1].secretName, "cosign-old");
  EXPECT_FALSE(spec.keys[1].secretNamespace.has_value());
  EXPECT_FALSE(spec.keys[1].secretKey.has_value()) << "absent: the default key, not \"\"";
  EXPECT_FALSE(spec.keys[2].secretName.has_value());
  EXPECT_EQ(spec.keys[2].publicKey, "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n");
  EXPECT_EQ(spec.required, false) << "false is not absent: it means signatures are optional";
  EXPECT_EQ(spec.matchRepository, true);
  EXPECT_EQ(spec.allowNamespaceWaivers, true);
  ASSERT_EQ(spec.waivers.size(), 2u);
  EXPECT_EQ(spec.waivers[0].digest, kDigest);
  EXPECT_EQ(spec.waivers[0].owner, "alice");
  EXPECT_EQ(spec.waivers[0].reason, "hotfix INC-42");
  EXPECT_EQ(spec.waivers[0].expires, "2026-12-31T00:00:00Z");
  EXPECT_EQ(spec.waivers[1].owner, "bob");
  EXPECT_EQ(json::value_from(spec), in.at("spec")) << "nothing dropped, nothing added";
}

TEST(VerificationPolicyJsonTest, AValueWrittenReadsBackTheSame) {
  VerificationPolicySpec spec;
  spec.images = {"registry.example/web"};
  spec.keys.push_back({"cosign", std::nullopt, "team.pub", std::nullopt});
  spec.keys.push_back({std::nullopt, std::nullopt, std::nullopt, "PEM"});
  spec.required = true;
  spec.waivers.push_back({kDigest, "carol", "load test", "2026-11-30T08:00:00Z"});

  auto written = json::value_from(spec);
  auto read = readVerificationPolicySpec(written.as_object(), "spec");
  ASSERT_TRUE(read) << read.error().describe();
  EXPECT_EQ(read->images, spec.images);
  ASSERT_EQ(read->keys.size(), 2u);
  EXPECT_EQ(read->keys[0].secretName, "cosign");
  EXPECT_EQ(read->keys[0].secretKey, "team.pub");
  EXPECT_FALSE(read->keys[0].secretNamespace.has_value());
  EXPECT_FALSE(read->keys[0].publicKey.has_value());
  EXPECT_EQ(read->keys[1].publicKey, "PEM");
  EXPECT_FALSE(read->keys[1].secretName.has_value());
  EXPECT_EQ(read->required, true);
  EXPECT_FALSE(read->matchRepository.has_value());
  EXPECT_FALSE(read->allowNamespaceWaivers.has_value());
  ASSERT_EQ(read->waivers.size(), 1u);
  EXPECT_EQ(read->waivers[0].owner, "carol");
  EXPECT_EQ(read->waivers[0].expires, "2026-11-30T08:00:00Z");
  EXPECT_EQ(json::value_from(*read), written);
}

TEST(VerificationPolicyJsonTest, AbsentStaysAbsentAndNullIsAbsent) {
  for (const char* text : {
           R"({"spec": {"keys": [{"publicKey": "PEM"}]}})",
           R"({"spec": {"keys": [{"publicKey": "PEM"}], "required": null,
                        "matchRepository": null, "allowNamespaceWaivers": null,
                        "images": null, "waivers": null}})",
       }) {
    SCOPED_TRACE(text);
    auto spec = readPolicyOrFail(json::parse(text));
    EXPECT_FALSE(spec.required.has_value()) << "absent means the default (true), left to users";
    EXPECT_FALSE(spec.matchRepository.has_value());
    EXPECT_FALSE(spec.allowNamespaceWaivers.has_value());
    EXPECT_TRUE(spec.images.empty());
    EXPECT_TRUE(spec.waivers.empty());
    ASSERT_EQ(spec.keys.size(), 1u);
    auto out = json::value_from(spec).as_object();
    EXPECT_EQ(out, (json::object{{"keys", json::array{json::object{{"publicKey", "PEM"}}}}}))
        << "only the key is written: " << json::serialize(out);
  }
}

TEST(VerificationPolicyJsonTest, APolicyWithoutSpecIsInvalid) {
  auto read = readVerificationPolicy(json::parse(R"({"metadata": {"name": "p"}})").as_object());
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().kind, ErrorKind::Invalid);
  EXPECT_EQ(read.error().field, "spec");
}

constexpr const char* kRolloutWithInlineVerify = R"json({
  "apiVersion": "mc.maestro.dev/v1alpha1",
  "kind": "Rollout",
  "metadata": {"name": "web", "namespace": "shop"},
  "spec": {
    "selector": {"matchLabels": {"app": "web"}},
    "template": {"spec": {"containers": [{"name": "web", "image": "registry.example/web:v2"}]}},
    "verify": {
      "images": ["registry.example/**"],
      "keys": [{"secretRef": {"name": "cosign", "key": "web.pub"}}],
      "required": true,
      "matchRepository": false,
      "waivers": [{"digest": "sha256:1111111111111111111111111111111111111111111111111111111111111111",
                   "owner": "alice", "reason": "hotfix", "expires": "2026-12-31T00:00:00Z"}]
    }
  },
  "status": {
    "phase": "Progressing",
    "verified": {
      "podHash": "7d9f8c",
      "at": "2026-11-23T16:00:00Z",
      "checkedAt": "2026-11-23T17:00:00Z",
      "images": [
        {"container": "init", "image": "registry.example/init:v1",
         "digest": "sha256:2222222222222222222222222222222222222222222222222222222222222222",
         "verifiedBy": "spec.verify: key shop/cosign web.pub", "outcome": "Verified"},
        {"container": "web", "image": "registry.example/web:v2",
         "digest": "sha256:1111111111111111111111111111111111111111111111111111111111111111",
         "verifiedBy": "spec.verify: waiver of alice until 2026-12-31T00:00:00Z (hotfix)",
         "outcome": "Waived"}
      ]
    }
  }
})json";

TEST(RolloutVerifyJsonTest, InlinePolicyAndVerifiedStatusRoundTrip) {
  auto in = json::parse(kRolloutWithInlineVerify);
  auto rollout = readRolloutOrFail(in);
  ASSERT_TRUE(rollout.spec.verify);
  const auto& verify = *rollout.spec.verify;
  EXPECT_FALSE(verify.policyRef.has_value());
  EXPECT_EQ(verify.inlinePolicy.images, (std::vector<std::string>{"registry.example/**"}));
  ASSERT_EQ(verify.inlinePolicy.keys.size(), 1u);
  EXPECT_EQ(verify.inlinePolicy.keys[0].secretName, "cosign");
  EXPECT_EQ(verify.inlinePolicy.keys[0].secretKey, "web.pub");
  EXPECT_EQ(verify.inlinePolicy.required, true);
  EXPECT_EQ(verify.inlinePolicy.matchRepository, false) << "false is not absent";
  EXPECT_FALSE(verify.inlinePolicy.allowNamespaceWaivers.has_value());
  ASSERT_EQ(verify.inlinePolicy.waivers.size(), 1u);
  EXPECT_EQ(verify.inlinePolicy.waivers[0].owner, "alice");

  ASSERT_TRUE(rollout.status.verified);
  const auto& verified = *rollout.status.verified;
  EXPECT_EQ(verified.podHash, "7d9f8c");
  EXPECT_EQ(verified.at, "2026-11-23T16:00:00Z");
  ASSERT_EQ(verified.images.size(), 2u);
  EXPECT_EQ(verified.images[0].container, "init");
  EXPECT_EQ(verified.images[0].image, "registry.example/init:v1");
  EXPECT_EQ(verified.images[0].digest,
            "sha256:2222222222222222222222222222222222222222222222222222222222222222");
  EXPECT_EQ(verified.images[0].verifiedBy, "spec.verify: key shop/cosign web.pub");
  EXPECT_EQ(verified.images[1].container, "web");
  EXPECT_EQ(verified.images[1].digest, kDigest);
  EXPECT_EQ(verified.images[1].outcome, "Waived");
  EXPECT_EQ(verified.checkedAt, "2026-11-23T17:00:00Z");
  EXPECT_FALSE(rollout.status.unknown.contains("verified")) << "a known field";

  EXPECT_EQ(json::value_from(rollout), in) << "nothing dropped, nothing added";
}

TEST(RolloutVerifyJsonTest, PolicyRefRoundTrips) {
  auto in = json::parse(R"({
    "apiVersion": "mc.maestro.dev/v1alpha1",
    "kind": "Rollout",
    "metadata": {"name": "web"},
    "spec": {"selector": {}, "template": {},
             "verify": {"policyRef": {"kind": "ClusterVerificationPolicy", "name": "prod"}}}
  })");
  auto rollout = readRolloutOrFail(in);
  ASSERT_TRUE(rollout.spec.verify);
  ASSERT_TRUE(rollout.spec.verify->policyRef);
  EXPECT_EQ(rollout.spec.verify->policyRef->kind, kClusterVerificationPolicyKind);
  EXPECT_EQ(rollout.spec.verify->policyRef->name, "prod");
  const auto& inlinePolicy = rollout.spec.verify->inlinePolicy;
  EXPECT_TRUE(inlinePolicy.keys.empty());
  EXPECT_TRUE(inlinePolicy.images.empty());
  EXPECT_FALSE(inlinePolicy.required.has_value());
  EXPECT_FALSE(rollout.status.verified.has_value());
  auto out = json::value_from(rollout);
  EXPECT_EQ(out, in) << json::serialize(out);
  EXPECT_EQ(out.at("spec").at("verify").as_object().size(), 1u)
      << "a reference writes no inline fields";
}

TEST(RolloutVerifyJsonTest, AValueWrittenReadsBackTheSame) {
  Rollout rollout;
  rollout.metadata = {{"name", "web"}};
  RolloutVerify verify;
  verify.policyRef = PolicyRef{kVerificationPolicyKind, "strict"};
  rollout.spec.verify = verify;
  TemplateVerification verified;
  verified.podHash = "abc";
  verified.at = "2026-11-23T16:00:00Z";
  VerifiedImage image;
  image.container = "web";
  image.image = "nginx:1.25";
  image.digest = kDigest;
  image.verifiedBy = "k";
  verified.images.push_back(image);
  rollout.status.verified = verified;

  auto read = readRollout(json::value_from(rollout));
  ASSERT_TRUE(read) << read.error().describe();
  ASSERT_TRUE(read->spec.verify && read->spec.verify->policyRef);
  EXPECT_EQ(read->spec.verify->policyRef->kind, kVerificationPolicyKind);
  EXPECT_EQ(read->spec.verify->policyRef->name, "strict");
  ASSERT_TRUE(read->status.verified);
  EXPECT_EQ(read->status.verified->podHash, "abc");
  ASSERT_EQ(read->status.verified->images.size(), 1u);
  EXPECT_EQ(read->status.verified->images[0].image, "nginx:1.25");
  EXPECT_EQ(read->status.verified->images[0].digest, kDigest);
  EXPECT_EQ(read->status.verified->images[0].verifiedBy, "k");
}

TEST(RolloutVerifyJsonTest, WithoutVerifyNothingIsReadOrWritten) {
  auto rollout = readRolloutOrFail(json::parse(R"({"metadata": {"name": "a"},
      "spec": {"selector": {}, "template": {}, "verify": null},
      "status": {"phase": "Healthy", "verified": null}})"));
  EXPECT_FALSE(rollout.spec.verify.has_value());
  EXPECT_FALSE(rollout.status.verified.has_value());
  EXPECT_FALSE(rollout.status.unknown.contains("verified"));
  auto out = json::value_from(rollout).as_object();
  EXPECT_FALSE(out.at("spec").as_object().contains("verify"));
  EXPECT_FALSE(out.at("status").as_object().contains("verified"))
      << "reset verification is absent, not an empty object";
}

// Keyless signers (every identity form, PEMs in Secrets and inline, logs, authorities) and
// required attestations.
constexpr const char* kKeylessPolicy = R"({
  "apiVersion": "mc.maestro.dev/v1alpha1",
  "kind": "ClusterVerificationPolicy",
  "metadata": {"name": "keyless"},
  "spec": {
    "keyless": {
      "identities": [
        {"subject": "ci@example.com", "issuer": "https://issuer.example.com"},
        {"subjectRegExp": "^https://github.com/acme/", "issuerRegExp": "^https://token\\."}
      ],
      "roots": [{"secretRef": {"name": "fulcio", "namespace": "mc-system", "key": "ca.pem"}},
                {"pem": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"}],
      "transparencyLogKeys": [{"secretRef": {"name": "rekor", "namespace": "mc-system",
                                             "key": "rekor.pub"}}],
      "timestampAuthorities": [{"secretRef": {"name": "tsa", "namespace": "mc-system",
                                              "key": "chain.pem"}}]
    },
    "attestations": [{"predicateType": "https://slsa.dev/provenance/v1"}]
  }
})";

TEST(VerificationPolicyJsonTest, KeylessSignersAndAttestationsRoundTrip) {
  auto in = json::parse(kKeylessPolicy);
  auto spec = readPolicyOrFail(in);
  ASSERT_TRUE(spec.keyless.has_value());
  const auto& keyless = *spec.keyless;
  ASSERT_EQ(keyless.identities.size(), 2u);
  EXPECT_EQ(keyless.identities[0].subject, "ci@example.com");
  EXPECT_FALSE(keyless.identities[0].subjectRegExp.has_value());
  EXPECT_EQ(keyless.identities[1].subjectRegExp, "^https://github.com/acme/");
  EXPECT_EQ(keyless.identities[1].issuerRegExp, "^https://token\\.");
  ASSERT_EQ(keyless.roots.size(), 2u);
  EXPECT_EQ(keyless.roots[0].secretName, "fulcio");
  EXPECT_EQ(keyless.roots[0].secretKey, "ca.pem");
  EXPECT_TRUE(keyless.roots[1].pem.has_value());
  ASSERT_EQ(keyless.transparencyLogKeys.size(), 1u);
  EXPECT_EQ(keyless.transparencyLogKeys[0].secretKey, "rekor.pub");
  ASSERT_EQ(keyless.timestampAuthorities.size(), 1u);
  EXPECT_EQ(spec.attestations, std::vector<std::string>{"https://slsa.dev/provenance/v1"});
  EXPECT_EQ(json::value_from(spec), in.at("spec")) << "nothing dropped, nothing added";
}

TEST(VerificationPolicyJsonTest, KeylessAndAttestationMistakesNameTheField) {
  struct Case {
    const char* json;
    const char* fieldMessage;
  };
  for (
      const auto& c : {
          Case{R"({"spec": {"keyless": {"roots": [{"pem": "P"}]}}})",
               "spec.keyless.identities: missing"},
          Case{
              R"({"spec": {"keyless": {"identities": [{"subject": "a"}], "roots": [{"pem": "P"}]}}})",
              "spec.keyless.identities[0].issuer: missing"},
          Case{
              R"({"spec": {"keyless": {"identities": [{"issuer": "i"}], "roots": [{"pem": "P"}]}}})",
              "spec.keyless.identities[0].subject: missing"},
          Case{R"({"spec": {"keyless": {"identities": [{"subject": "a", "issuer": "i"}]}}})",
               "spec.keyless.roots: missing"},
          Case{
              R"({"spec": {"keyless": {"identities": [{"subject": "a", "issuer": "i"}], "roots": [{"secretRef": {"name": "ca"}}]}}})",
              "spec.keyless.roots[0].secretRef.key: missing"},
          Case{R"({"spec": {"attestations": [{}]}})",
               "spec.attestations[0].predicateType: missing"},
          Case{R"({"spec": {"attestations": ["https://slsa.dev/provenance/v1"]}})",
               "spec.attestations[0]: expected an object"},
      }) {
    auto read = readVerificationPolicy(json::parse(c.json).as_object());
    ASSERT_FALSE(read) << c.json;
    EXPECT_EQ(read.error().fieldMessage(), c.fieldMessage) << c.json;
  }
}

TEST(VerificationJsonTest, MalformedFormsAreInvalidNamingTheField) {
  // Read as a policy object (readVerificationPolicy) or as a Rollout (readRollout).
  enum class As { Policy, Rollout };
  struct Case {
    As as;
    const char* json;
    const char* fieldMessage;
  };
  for (const auto& c : {
           Case{As::Policy, R"({"spec": {"keys": [{}]}})", "spec.keys[0].secretRef: missing"},
           Case{As::Policy,
                R"({"spec": {"keys": [{"publicKey": "PEM"}, {"secretRef": {"key": "k"}}]}})",
                "spec.keys[1].secretRef.name: missing"},
           Case{As::Policy, R"({"spec": {"keys": [{"secretRef": {"name": 7}}]}})",
                "spec.keys[0].secretRef.name: expected a string"},
           Case{As::Policy, R"({"spec": {"keys": ["PEM"]}})", "spec.keys[0]: expected an object"},
           Case{As::Policy, R"({"spec": {"images": ["ghcr.io/acme/**", 7]}})",
                "spec.images[1]: expected a string"},
           Case{As::Policy, R"({"spec": {"images": "ghcr.io/acme/**"}})",
                "spec.images: expected a list"},
           Case{As::Policy, R"({"spec": {"waivers": {"digest": "sha256:1"}}})",
                "spec.waivers: expected a list"},
           Case{As::Policy, R"({"spec": {"waivers": [{"owner": 1}]}})",
                "spec.waivers[0].owner: expected a string"},
           Case{As::Policy, R"({"spec": {"required": "yes"}})",
                "spec.required: expected true or false"},
           Case{As::Policy, R"({"spec": {"allowNamespaceWaivers": 1}})",
                "spec.allowNamespaceWaivers: expected true or false"},
           Case{As::Policy, R"({"spec": []})", "spec: expected an object"},
           Case{As::Rollout, R"({"spec": {"verify": {"policyRef": {"kind": 1, "name": "p"}}}})",
                "spec.verify.policyRef.kind: expected a string"},
           Case{As::Rollout, R"({"spec": {"verify": {"policyRef": "prod"}}})",
                "spec.verify.policyRef: expected an object"},
           Case{As::Rollout, R"({"spec": {"verify": {"keys": [{}]}}})",
                "spec.verify.keys[0].secretRef: missing"},
           Case{As::Rollout, R"({"spec": {"verify": {"images": ["a", "b", false]}}})",
                "spec.verify.images[2]: expected a string"},
           Case{As::Rollout, R"({"spec": {"verify": {"waivers": "none"}}})",
                "spec.verify.waivers: expected a list"},
           Case{As::Rollout, R"({"spec": {"verify": true}})", "spec.verify: expected an object"},
           Case{As::Rollout, R"({"spec": {}, "status": {"verified": {"images": ["web"]}}})",
                "status.verified.images[0]: expected an object"},
           Case{As::Rollout, R"({"spec": {}, "status": {"verified": {"podHash": 3}}})",
                "status.verified.podHash: expected a string"},
           Case{As::Rollout, R"({"spec": {}, "status": {"verified": []}})",
                "status.verified: expected an object"},
       }) {
    SCOPED_TRACE(c.json);
    auto in = json::parse(c.json);
    std::optional<Error> error;
    if (c.as == As::Policy) {
      auto read = readVerificationPolicy(in.as_object());
      ASSERT_FALSE(read) << "no error";
      error = read.error();
    } else {
      auto read = readRollout(in);
      ASSERT_FALSE(read) << "no error";
      error = read.error();
    }
    EXPECT_EQ(error->kind, ErrorKind::Invalid);
    EXPECT_EQ(error->fieldMessage(), c.fieldMessage);
    std::string_view expected(c.fieldMessage);
    EXPECT_EQ(error->field, expected.substr(0, expected.find(": "))) << "the field alone";
  }
}

TEST(VerificationJsonTest, ReadingAtAnotherPathNamesThatPath) {
  auto read =
      readRolloutVerify(json::parse(R"({"keys": [{"secretRef": {}}]})").as_object(), "spec.verify");
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().field, "spec.verify.keys[0].secretRef.name");
  auto spec = readVerificationPolicySpec(json::parse(R"({"images": [1]})").as_object(), "x");
  ASSERT_FALSE(spec);
  EXPECT_EQ(spec.error().field, "x.images[0]");
}

}  // namespace
}  // namespace mc::crds
