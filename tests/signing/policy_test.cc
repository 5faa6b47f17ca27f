#include "mc/signing/policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "mc/common/timefmt.h"
#include "mc/testing/io_thread.h"
#include "test_keys.h"

namespace mc::signing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::UnorderedElementsAre;
namespace asio = boost::asio;

const std::string kDigest = "sha256:" + std::string(64, '1');
const std::string kOtherDigest = "sha256:" + std::string(64, '2');
const std::string kImage = "registry.example/web:v2";

WallTime at(const char* rfc3339) {
  auto parsed = parseTime(rfc3339);
  EXPECT_TRUE(parsed) << rfc3339;
  return parsed.value_or(WallTime{});
}

// Every verdict is taken at this time, never the wall clock's.
const WallTime kNow = at("2026-11-23T16:00:00Z");
const WallTime kLater = at("2026-12-31T00:00:00Z");
const WallTime kEarlier = at("2026-11-01T00:00:00Z");

Waiver waiver(std::string owner, WallTime expires, std::string digest = kDigest) {
  return {std::move(digest), std::move(owner), "hotfix INC-42", expires};
}

Policy clusterPolicy(const std::string& name) {
  Policy policy;
  policy.name = "ClusterVerificationPolicy/" + name;
  policy.cluster = true;
  return policy;
}

// A Rollout's own spec.verify: a namespace's policy.
Policy inlinePolicy() {
  Policy policy;
  policy.name = "spec.verify";
  return policy;
}

Policy with(Policy policy, Waiver w) {
  policy.waivers.push_back(std::move(w));
  return policy;
}
Policy notRequired(Policy policy) {
  policy.required = false;
  return policy;
}
Policy allowingNamespaceWaivers(Policy policy) {
  policy.allowNamespaceWaivers = true;
  return policy;
}
Policy withProblem(Policy policy, std::string problem) {
  policy.problem = std::move(problem);
  return policy;
}

DigestVerdict signedBy(std::string key) {
  DigestVerdict verdict;
  verdict.verified = true;
  verdict.verifiedBy = std::move(key);
  return verdict;
}

DigestVerdict refused(std::string why = "signature 1: does not verify with any trusted key") {
  DigestVerdict verdict;
  verdict.refusals.push_back(std::move(why));
  return verdict;
}

Error outage() { return makeError(ErrorKind::Transient, "registry.example: connection refused"); }

ImageReference reference(const std::string& text) {
  auto parsed = ImageReference::parse(text);
  EXPECT_TRUE(parsed) << text;
  return parsed ? *parsed : *ImageReference::parse("invalid.example/fallback");
}

ImageVerdict decide(const std::vector<Policy>& policies,
                    const std::vector<Result<DigestVerdict>>& verdicts, WallTime now = kNow) {
  std::vector<const Policy*> covering;
  for (const auto& policy : policies) {
    covering.push_back(&policy);
  }
  return decideImage(reference(kImage), kDigest, covering, verdicts, now);
}

// What the message says after the pinned reference it starts with (which holds the digest).
std::string why(const ImageVerdict& verdict) {
  std::string_view message(verdict.message);
  std::string_view prefix(verdict.pinned);
  return std::string(message.starts_with(prefix) ? message.substr(prefix.size()) : message);
}

TEST(DecideImageTest, Rules) {
  const std::string ns = "the namespace's waiver does not apply";
  struct Case {
    const char* name;
    std::vector<Policy> policies;
    std::vector<Result<DigestVerdict>> verdicts;
    Outcome outcome;
    std::vector<std::string> whyHas = {};  // in the message, after the pinned reference
    std::vector<std::string> whyHasNot = {};
    std::vector<std::string> verifiedByHas = {};
    const char* waiverOwner = nullptr;  // the waiver the verdict carries, if any
  };
  const std::vector<Case> cases{
      {"one policy verifies",
       {inlinePolicy()},
       {signedBy("key shop/cosign cosign.pub")},
       Outcome::Verified,
       {},
       {},
       {"spec.verify: key shop/cosign cosign.pub"}},
      {"refused and required: rejected",
       {clusterPolicy("prod")},
       {refused()},
       Outcome::Rejected,
       {"ClusterVerificationPolicy/prod", "does not verify with any trusted key"},
       {ns}},
      {"refused but not required: unverified, allowed and reported",
       {notRequired(clusterPolicy("prod"))},
       {refused()},
       Outcome::Unverified,
       {"ClusterVerificationPolicy/prod", "does not verify with any trusted key"},
       {},
       {"ClusterVerificationPolicy/prod"}},
      {"a valid waiver of the policy excuses a refusal",
       {with(clusterPolicy("prod"), waiver("alice", kLater))},
       {refused()},
       Outcome::Waived,
       {},
       {},
       {"ClusterVerificationPolicy/prod", "alice"},
       "alice"},
      {"a valid waiver wins over an expired one",
       {with(with(clusterPolicy("prod"), waiver("bob", kEarlier)), waiver("alice", kLater))},
       {refused()},
       Outcome::Waived,
       {},
       {},
       {"alice"},
       "alice"},
      {"a waiver of another digest excuses nothing",
       {with(clusterPolicy("prod"), waiver("alice", kLater, kOtherDigest))},
       {refused()},
       Outcome::Rejected,
       {},
       {"alice"}},
      {"only an expired waiver: WaiverExpired naming its owner and the digest",
       {with(clusterPolicy("prod"), waiver("alice", kEarlier))},
       {refused()},
       Outcome::WaiverExpired,
       {"alice", kDigest, "2026-11-01T00:00:00Z"},
       {},
       {},
       "alice"},
      {"a waiver ending now has expired",
       {with(inlinePolicy(), waiver("alice", kNow))},
       {refused()},
       Outcome::WaiverExpired,
       {"alice", kDigest}},
      {"a namespace's waiver excuses a cluster policy that allows namespace waivers",
       {allowingNamespaceWaivers(clusterPolicy("prod")),
        with(inlinePolicy(), waiver("alice", kLater))},
       {refused(), refused()},
       Outcome::Waived,
       {},
       {},
       {"ClusterVerificationPolicy/prod: waiver of alice", "spec.verify: waiver of alice"},
       "alice"},
      {"a namespace's waiver does not excuse a cluster policy that does not allow it",
       {clusterPolicy("prod"), with(inlinePolicy(), waiver("alice", kLater))},
       {refused(), refused()},
       Outcome::Rejected,
       {"ClusterVerificationPolicy/prod", ns},
       {"spec.verify:"},
       {"spec.verify: waiver of alice"}},
      {"a namespace's waiver does not excuse a cluster policy even when the namespace verifies",
       {clusterPolicy("prod"), with(inlinePolicy(), waiver("alice", kLater))},
       {refused(), signedBy("key shop/cosign cosign.pub")},
       Outcome::Rejected,
       {"ClusterVerificationPolicy/prod", ns}},
      {"another cluster policy's waiver is not a namespace's",
       {allowingNamespaceWaivers(clusterPolicy("prod")),
        with(clusterPolicy("platform"), waiver("alice", kLater))},
       {refused(), signedBy("key platform")},
       Outcome::Rejected,
       {"ClusterVerificationPolicy/prod"},
       {ns, "ClusterVerificationPolicy/platform"}},
      {"verified by both policies",
       {clusterPolicy("prod"), inlinePolicy()},
       {signedBy("key prod"), signedBy("key team")},
       Outcome::Verified,
       {},
       {},
       {"ClusterVerificationPolicy/prod: key prod", "spec.verify: key team"}},
      {"verified by one, waived by the other: waived",
       {clusterPolicy("prod"), with(inlinePolicy(), waiver("alice", kLater))},
       {signedBy("key prod"), refused()},
       Outcome::Waived,
       {},
       {},
       {"ClusterVerificationPolicy/prod: key prod", "spec.verify: waiver of alice"},
       "alice"},
      {"one verifies and one errors: error",
       {clusterPolicy("prod"), inlinePolicy()},
       {signedBy("key prod"), outage()},
       Outcome::Error,
       {"spec.verify", "connection refused"},
       {"ClusterVerificationPolicy/prod"},
       {"ClusterVerificationPolicy/prod: key prod"}},
      {"one rejects and one errors: rejected, the worse",
       {clusterPolicy("prod"), inlinePolicy()},
       {outage(), refused()},
       Outcome::Rejected,
       {"spec.verify", "does not verify"},
       {"ClusterVerificationPolicy/prod", "connection refused"}},
      {"an expired waiver is worse than an error",
       {clusterPolicy("prod"), with(inlinePolicy(), waiver("alice", kEarlier))},
       {outage(), refused()},
       Outcome::WaiverExpired,
       {"spec.verify", "alice"},
       {"connection refused"},
       {},
       "alice"},
      {"a policy with a problem is an error naming it",
       {withProblem(clusterPolicy("prod"), "Secret mc-system/cosign not found")},
       {DigestVerdict{}},
       Outcome::Error,
       {"ClusterVerificationPolicy/prod", "Secret mc-system/cosign not found"}},
      {"a problem is an error even beside a verdict that says verified",
       {withProblem(inlinePolicy(), "key shop/cosign cosign.pub: not a PEM")},
       {signedBy("key shop/cosign cosign.pub")},
       Outcome::Error,
       {"spec.verify", "not a PEM"}},
      {"a problem is an error even for a policy that does not require signatures",
       {notRequired(withProblem(clusterPolicy("prod"), "Secret mc-system/cosign not found"))},
       {refused()},
       Outcome::Error,
       {"Secret mc-system/cosign not found"}},
      {"an error reading signatures is an error, never a refusal",
       {clusterPolicy("prod")},
       {outage()},
       Outcome::Error,
       {"ClusterVerificationPolicy/prod", "connection refused"}},
      {"an error is not excused by a waiver",
       {with(clusterPolicy("prod"), waiver("alice", kLater))},
       {outage()},
       Outcome::Error,
       {"connection refused"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto verdict = decide(c.policies, c.verdicts);
    EXPECT_EQ(toString(verdict.outcome), toString(c.outcome)) << verdict.message;
    EXPECT_EQ(verdict.allowed(), c.outcome <= Outcome::Unverified);
    EXPECT_EQ(verdict.digest, kDigest);
    EXPECT_EQ(verdict.pinned, "registry.example/web@" + kDigest);
    EXPECT_EQ(verdict.message.find('\n'), std::string::npos) << "one line";
    EXPECT_THAT(verdict.message, ::testing::StartsWith(verdict.pinned));
    for (const auto& part : c.whyHas) {
      EXPECT_THAT(why(verdict), HasSubstr(part));
    }
    for (const auto& part : c.whyHasNot) {
      EXPECT_THAT(why(verdict), Not(HasSubstr(part)));
    }
    for (const auto& part : c.verifiedByHas) {
      EXPECT_THAT(verdict.verifiedBy, HasSubstr(part));
    }
    if (c.waiverOwner != nullptr) {
      ASSERT_TRUE(verdict.waiver) << verdict.message;
      EXPECT_EQ(verdict.waiver->owner, c.waiverOwner);
      EXPECT_EQ(verdict.waiver->digest, kDigest);
    } else if (c.outcome == Outcome::Verified) {
      EXPECT_FALSE(verdict.waiver) << "no waiver applied nor expired: " << verdict.waiver->owner;
    }
  }
}

TEST(DecideImageTest, TheWaiverAppliedIsTheOneOfItsPolicyWithItsExpiry) {
  auto verdict = decide({with(clusterPolicy("prod"), waiver("alice", kLater))}, {refused()});
  ASSERT_EQ(verdict.outcome, Outcome::Waived) << verdict.message;
  ASSERT_TRUE(verdict.waiver);
  EXPECT_EQ(verdict.waiver->owner, "alice");
  EXPECT_EQ(verdict.waiver->reason, "hotfix INC-42");
  EXPECT_EQ(verdict.waiver->expires, kLater);
  EXPECT_THAT(verdict.verifiedBy, HasSubstr("2026-12-31T00:00:00Z"));
}

TEST(DecideImageTest, TheSameWaiverIsJudgedByTheTimeGiven) {
  std::vector<Policy> policies{with(clusterPolicy("prod"), waiver("alice", kNow))};
  EXPECT_EQ(decide(policies, {refused()}, kNow - std::chrono::seconds(1)).outcome, Outcome::Waived);
  EXPECT_EQ(decide(policies, {refused()}, kNow).outcome, Outcome::WaiverExpired);
  EXPECT_EQ(decide(policies, {refused()}, kNow + std::chrono::hours(24 * 365)).outcome,
            Outcome::WaiverExpired);
}

TEST(DecideImageTest, OutcomesAreOrderedWorstLast) {
  EXPECT_LT(Outcome::Verified, Outcome::Waived);
  EXPECT_LT(Outcome::Waived, Outcome::Unverified);
  EXPECT_LT(Outcome::Unverified, Outcome::Error);
  EXPECT_LT(Outcome::Error, Outcome::Rejected);
  EXPECT_LT(Outcome::Rejected, Outcome::WaiverExpired);
  EXPECT_EQ(toString(Outcome::WaiverExpired), "WaiverExpired");
  EXPECT_EQ(toString(Outcome::Unverified), "Unverified");
}

TEST(PolicyCoversTest, Patterns) {
  struct Case {
    std::vector<std::string> images;
    std::string image;
    bool covered;
  };
  for (const auto& c : {
           Case{{}, "registry.example/web:v2", true},
           Case{{}, "nginx", true},
           Case{{"registry.example/**"}, "registry.example/team/web:v1", true},
           Case{{"registry.example/*"}, "registry.example/team/web:v1", false},
           Case{{"ghcr.io/acme/*"}, "ghcr.io/acme/web@sha256:" + std::string(64, 'a'), true},
           Case{{"docker.io/library/nginx"}, "nginx:1.25", true},
           Case{{"nginx"}, "nginx:1.25", false},
           Case{{"ghcr.io/other/*", "ghcr.io/acme/*"}, "ghcr.io/acme/web", true},
           Case{{"ghcr.io/other/*", "ghcr.io/acme/*"}, "ghcr.io/elsewhere/web", false},
           Case{{"registry.example/web"}, "registry.example/web-extra:v1", false},
       }) {
    Policy policy;
    policy.images = c.images;
    EXPECT_EQ(policy.covers(reference(c.image)), c.covered)
        << c.image << " under " << ::testing::PrintToString(c.images);
  }
}

// --- checkImage ---

const KeyPair& prodSigner() {
  static const KeyPair pair = generate("EC", "P-256");
  return pair;
}
const KeyPair& teamSigner() {
  static const KeyPair pair = generate("EC", "P-256");
  return pair;
}
const KeyPair& otherSigner() {
  static const KeyPair pair = generate("EC", "P-256");
  return pair;
}

TrustPolicy keysOf(const KeyPair& pair, std::string name) {
  auto key = PublicKey::fromPem(pair.publicPem(), std::move(name));
  EXPECT_TRUE(key) << key.error().message;
  TrustPolicy trust;
  trust.keys.push_back(*key);
  return trust;
}

// The registry as checkImage sees it: a tag's digest (or a failure), and a verdict per key.
// It records each call, so a test tells what was asked of the registry.
class FakeChecker final : public ImageChecker {
 public:
  struct VerifyCall {
    std::string pinned;  // ImageReference::pinned()
    std::string digest;
    std::vector<std::string> fingerprints;
    std::optional<RegistryCredentials> credentials;
  };

  asio::awaitable<Result<std::string>> resolve(
      ImageReference image, std::optional<RegistryCredentials> credentials) override {
    resolved.push_back(image.str());
    resolveCredentials = std::move(credentials);
    co_return resolveAnswer;
  }

  asio::awaitable<Result<DigestVerdict>> verify(
      ImageReference pinned, TrustPolicy keys,
      std::optional<RegistryCredentials> credentials) override {
    VerifyCall call{pinned.pinned().value_or(""), pinned.digest(), {}, std::move(credentials)};
    for (const auto& key : keys.keys) {
      call.fingerprints.push_back(key.fingerprint());
    }
    verified.push_back(call);
    auto answer = call.fingerprints.empty() ? answers.end() : answers.find(call.fingerprints[0]);
    co_return answer == answers.end() ? Result<DigestVerdict>(refused()) : answer->second;
  }

  Result<std::string> resolveAnswer = kDigest;
  std::map<std::string, Result<DigestVerdict>> answers;  // by the first key's fingerprint

  std::vector<std::string> resolved;
  std::optional<RegistryCredentials> resolveCredentials;
  std::vector<VerifyCall> verified;
};

class CheckImageTest : public ::testing::Test {
 protected:
  CheckImageTest() {
    prod_ = clusterPolicy("prod");
    prod_.images = {"registry.example/**"};
    prod_.trust = keysOf(prodSigner(), "mc-system/cosign cosign.pub");
    team_ = inlinePolicy();
    team_.trust = keysOf(teamSigner(), "shop/cosign cosign.pub");
    elsewhere_ = clusterPolicy("elsewhere");
    elsewhere_.images = {"ghcr.io/acme/**"};
    elsewhere_.trust = keysOf(otherSigner(), "mc-system/acme cosign.pub");
  }

  std::optional<ImageVerdict> check(std::string image, std::vector<Policy> policies,
                                    std::optional<RegistryCredentials> credentials = {}) {
    return io_.run(
        checkImage(checker_, std::move(image), std::move(policies), std::move(credentials), kNow));
  }

  static std::string fingerprint(const Policy& policy) {
    return policy.trust.keys.at(0).fingerprint();
  }

  test::IoThread io_;
  FakeChecker checker_;
  Policy prod_;
  Policy team_;
  Policy elsewhere_;
};

TEST_F(CheckImageTest, NoCoveringPolicyIsNoVerdictAndNoRegistryCall) {
  EXPECT_FALSE(check(kImage, {elsewhere_}));
  EXPECT_FALSE(check(kImage, {}));
  EXPECT_TRUE(checker_.resolved.empty());
  EXPECT_TRUE(checker_.verified.empty());
}

TEST_F(CheckImageTest, ATagIsResolvedOnceAndEachCoveringPolicyVerifiedAtThePinnedDigest) {
  checker_.answers.emplace(fingerprint(prod_), signedBy("key prod"));
  checker_.answers.emplace(fingerprint(team_), signedBy("key team"));
  RegistryCredentials credentials;
  credentials.username = "puller";
  auto verdict = check(kImage, {prod_, elsewhere_, team_}, credentials);
  ASSERT_TRUE(verdict);
  EXPECT_EQ(verdict->outcome, Outcome::Verified) << verdict->message;
  EXPECT_EQ(verdict->digest, kDigest);
  EXPECT_EQ(verdict->pinned, "registry.example/web@" + kDigest);
  EXPECT_THAT(verdict->verifiedBy, HasSubstr("ClusterVerificationPolicy/prod: key prod"));
  EXPECT_THAT(verdict->verifiedBy, HasSubstr("spec.verify: key team"));
  EXPECT_THAT(verdict->verifiedBy, Not(HasSubstr("elsewhere")));

  EXPECT_EQ(checker_.resolved, std::vector<std::string>{kImage});
  ASSERT_TRUE(checker_.resolveCredentials);
  EXPECT_EQ(checker_.resolveCredentials->username, "puller");
  ASSERT_EQ(checker_.verified.size(), 2u) << "once per covering policy, none for the other";
  std::vector<std::string> asked;
  for (const auto& call : checker_.verified) {
    EXPECT_EQ(call.pinned, "registry.example/web@" + kDigest);
    EXPECT_EQ(call.digest, kDigest);
    ASSERT_EQ(call.fingerprints.size(), 1u);
    asked.push_back(call.fingerprints[0]);
    ASSERT_TRUE(call.credentials);
    EXPECT_EQ(call.credentials->username, "puller");
  }
  EXPECT_THAT(asked, UnorderedElementsAre(fingerprint(prod_), fingerprint(team_)));
}

TEST_F(CheckImageTest, ARefusalFromTheRegistryReachesTheVerdict) {
  checker_.answers.emplace(fingerprint(prod_), signedBy("key prod"));
  // team_'s key has no answer: the fake refuses it.
  auto verdict = check(kImage, {prod_, team_});
  ASSERT_TRUE(verdict);
  EXPECT_EQ(verdict->outcome, Outcome::Rejected) << verdict->message;
  EXPECT_FALSE(verdict->allowed());
  EXPECT_THAT(verdict->message, HasSubstr("spec.verify"));

  checker_.answers.insert_or_assign(fingerprint(team_), Result<DigestVerdict>(outage()));
  auto failed = check(kImage, {prod_, team_});
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->outcome, Outcome::Error) << failed->message;
  EXPECT_THAT(failed->message, HasSubstr("connection refused"));
}

TEST_F(CheckImageTest, AnImagePinnedByDigestIsNotResolved) {
  for (const std::string& image :
       {"registry.example/web@" + kOtherDigest, "registry.example/web:v2@" + kOtherDigest}) {
    SCOPED_TRACE(image);
    checker_.verified.clear();
    checker_.answers.insert_or_assign(fingerprint(prod_), signedBy("key prod"));
    auto verdict = check(image, {prod_});
    ASSERT_TRUE(verdict);
    EXPECT_EQ(verdict->outcome, Outcome::Verified) << verdict->message;
    EXPECT_EQ(verdict->digest, kOtherDigest) << "the digest written, not what a tag names now";
    EXPECT_EQ(verdict->pinned, "registry.example/web@" + kOtherDigest);
    ASSERT_EQ(checker_.verified.size(), 1u);
    EXPECT_EQ(checker_.verified[0].digest, kOtherDigest);
  }
  EXPECT_TRUE(checker_.resolved.empty());
}

TEST_F(CheckImageTest, ResolveFailingIsAnErrorNamingTheImage) {
  checker_.resolveAnswer =
      makeError(ErrorKind::NotFound, "registry.example/web: manifest unknown", 404);
  auto verdict = check(kImage, {prod_, team_});
  ASSERT_TRUE(verdict);
  EXPECT_EQ(verdict->outcome, Outcome::Error);
  EXPECT_FALSE(verdict->allowed());
  EXPECT_THAT(verdict->message, HasSubstr(kImage));
  EXPECT_THAT(verdict->message, HasSubstr("manifest unknown"));
  EXPECT_EQ(verdict->digest, "");
  EXPECT_EQ(verdict->pinned, "") << "nothing to pin to";
  EXPECT_TRUE(checker_.verified.empty()) << "nothing to verify without a digest";
}

TEST_F(CheckImageTest, AnUnparsableImageIsRejected) {
  for (const std::string image : {"registry.example/Web:v2", "registry.example/web@md5:0123", ""}) {
    SCOPED_TRACE(image);
    auto verdict = check(image, {team_});
    ASSERT_TRUE(verdict);
    EXPECT_EQ(verdict->outcome, Outcome::Rejected);
    EXPECT_FALSE(verdict->allowed());
    EXPECT_EQ(verdict->image, image);
    EXPECT_THAT(verdict->message, HasSubstr("not an image reference"));
    if (!image.empty()) {
      EXPECT_THAT(verdict->message, HasSubstr(image));
    }
  }
  EXPECT_TRUE(checker_.resolved.empty());
  EXPECT_TRUE(checker_.verified.empty());
}

TEST_F(CheckImageTest, APolicyWithAProblemIsNotAskedAndMakesAnError) {
  checker_.answers.emplace(fingerprint(prod_), signedBy("key prod"));
  auto broken = withProblem(team_, "Secret shop/cosign not found");
  auto verdict = check(kImage, {prod_, broken});
  ASSERT_TRUE(verdict);
  EXPECT_EQ(verdict->outcome, Outcome::Error) << verdict->message;
  EXPECT_THAT(verdict->message, HasSubstr("spec.verify: Secret shop/cosign not found"));
  ASSERT_EQ(checker_.verified.size(), 1u);
  EXPECT_EQ(checker_.verified[0].fingerprints, std::vector<std::string>{fingerprint(prod_)});
}

// ImageVerdict::image is documented (policy.h) as the image "as the pod template names it", and
// status.verified.images[].image (crds/rollout.h) "as the template names it".
TEST_F(CheckImageTest, TheVerdictNamesTheImageAsTheTemplateWroteIt) {
  Policy hub = team_;
  hub.images = {"docker.io/library/nginx"};
  checker_.answers.emplace(fingerprint(hub), signedBy("key team"));
  auto verdict = check("nginx:1.25", {hub});
  ASSERT_TRUE(verdict);
  EXPECT_EQ(verdict->outcome, Outcome::Verified) << verdict->message;
  EXPECT_EQ(checker_.resolved, std::vector<std::string>{"docker.io/library/nginx:1.25"});
  EXPECT_EQ(verdict->pinned, "docker.io/library/nginx@" + kDigest) << "one name per image";
  EXPECT_EQ(verdict->image, "nginx:1.25");
}

// A Rollout's spec.verify with waivers and no keys judges nothing itself: alone it asks for no
// verdict; beside a cluster policy that allows namespace waivers it excuses what that refuses.
TEST_F(CheckImageTest, AWaiversOnlyPolicyJudgesNothingAndOffersItsWaivers) {
  Policy waivers = with(inlinePolicy(), waiver("alice", kLater));
  waivers.waiversOnly = true;
  EXPECT_FALSE(check("registry.example/web:2", {waivers})) << "nothing judges the image";
  EXPECT_TRUE(checker_.resolved.empty());

  checker_.answers.emplace(fingerprint(prod_), refused());
  auto strict = check("registry.example/web:2", {prod_, waivers});
  ASSERT_TRUE(strict);
  EXPECT_EQ(strict->outcome, Outcome::Rejected) << strict->message;
  auto lenient = check("registry.example/web:2", {allowingNamespaceWaivers(prod_), waivers});
  ASSERT_TRUE(lenient);
  EXPECT_EQ(lenient->outcome, Outcome::Waived) << lenient->message;
  ASSERT_TRUE(lenient->waiver);
  EXPECT_EQ(lenient->waiver->owner, "alice");
}

}  // namespace
}  // namespace mc::signing
