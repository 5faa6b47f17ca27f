// Image signatures end to end: Debian's docker-registry on 127.0.0.1, images pushed with crane and
// signed with cosign v2 (both built from their Go modules by e2e/tools/build.sh), and mc-operator
// (as the chart's ServiceAccount, so the chart's Secret and policy rules are what it has) judging
// each new template before it gets a pod. Every verdict MC gives on a signature is checked against
// `cosign verify` on the same image, so MC and cosign are seen to agree.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include "e2e_support.h"
#include "mc/common/timefmt.h"
#include "mc/e2e/controlplane.h"
#include "mc/e2e/poll.h"
#include "mc/e2e/servers.h"
#include "mc/runtime/hash.h"
#include "mc/runtime/http_client.h"

namespace mc::e2e {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr const char* kPassword = "mc-e2e";  // of the test's cosign keys
constexpr int kReplicas = 4;

// The last line of a command's output (a path or a digest printed by a tool).
std::string lastLine(const std::string& output) {
  auto end = output.find_last_not_of('\n');
  if (end == std::string::npos) return "";
  auto start = output.find_last_of('\n', end);
  return output.substr(start == std::string::npos ? 0 : start + 1,
                       end - (start == std::string::npos ? 0 : start + 1) + 1);
}

// RFC 3339 in UTC, `offset` from now.
std::string rfc3339FromNow(std::chrono::seconds offset) {
  return formatTime(std::chrono::system_clock::now() + offset);
}

struct Condition {
  std::string status, reason, message;
};

Condition conditionOf(const json::value& object, std::string_view type) {
  if (auto* list = at(object, {"status", "conditions"}); list && list->is_array()) {
    for (const auto& c : list->as_array()) {
      if (text(c, {"type"}) == type) {
        return {text(c, {"status"}), text(c, {"reason"}), text(c, {"message"})};
      }
    }
  }
  return {};
}

class SigningE2ETest : public OperatorSuite<SigningE2ETest> {
 protected:
  // The registry, the tools and two cosign key pairs: "good", which the policies trust, and
  // "other", which none does.
  static void installMore() {
    auto tools = run({(sourceDir() / "e2e/tools/build.sh").string(), "--check", "signing"});
    ASSERT_EQ(tools.exitCode, 0) << tools.output;
    tools_ = new std::filesystem::path(lastLine(tools.output));
    registry_ = new OciRegistry();
    for (const char* name : {"good", "other"}) {
      std::filesystem::create_directories(*dir_ / name);
      auto made = run({"sh", "-c",
                       fmt::format("cd '{}' && COSIGN_PASSWORD={} '{}' generate-key-pair",
                                   (*dir_ / name).string(), kPassword, tool("cosign"))});
      ASSERT_EQ(made.exitCode, 0) << made.output;
    }
  }
  static void TearDownTestSuite() {
    OperatorSuite::TearDownTestSuite();
    delete registry_;
    delete tools_;
  }
  static std::vector<std::string> chartValues() {
    return {"verification.secretNames={cosign-pub,platform-pub}"};
  }
  static std::vector<std::string> operatorArgs() {
    return {"--insecure-registry=" + registry_->host()};
  }

  static std::string tool(const char* name) { return (*tools_ / name).string(); }
  // cosign v3 (`e2e/tools/build.sh cosign3`, which signs in the bundle format), looked up on
  // first use, so the cases that need only cosign v2 run where cosign3 is not built.
  static std::string cosign3() {
    static const std::string path = [] {
      auto bin = run({(sourceDir() / "e2e/tools/build.sh").string(), "--check", "cosign3"});
      if (bin.exitCode != 0) {
        throw std::runtime_error(bin.output);
      }
      return (std::filesystem::path(lastLine(bin.output)) / "cosign3").string();
    }();
    return path;
  }
  static std::string key(const char* pair, const char* file) {
    return (*dir_ / pair / file).string();
  }

  // A new image (one layer of its own) pushed by crane to REGISTRY/`repoTag`; its digest.
  static std::string pushImage(const std::string& repoTag) {
    static int images = 0;
    auto layerDir = *dir_ / fmt::format("layer-{}", images++);
    std::filesystem::create_directories(layerDir);
    writeFile(layerDir / "content", repoTag + "\n");
    auto tar =
        run({"tar", "-C", layerDir.string(), "-cf", (layerDir / "layer.tar").string(), "content"});
    EXPECT_EQ(tar.exitCode, 0) << tar.output;
    auto ref = registry_->host() + "/" + repoTag;
    auto pushed = run({tool("crane"), "append", "--insecure", "-f",
                       (layerDir / "layer.tar").string(), "-t", ref});
    EXPECT_EQ(pushed.exitCode, 0) << pushed.output;
    auto digest = run({tool("crane"), "digest", "--insecure", ref});
    EXPECT_EQ(digest.exitCode, 0) << digest.output;
    return lastLine(digest.output);
  }

  // REGISTRY/repo@digest.
  static std::string pinned(const std::string& repo, const std::string& digest) {
    return fmt::format("{}/{}@{}", registry_->host(), repo, digest);
  }

  // `cosign sign` of REGISTRY/repo@digest with key pair `pair`, offline (no transparency log).
  static void sign(const std::string& repo, const std::string& digest, const char* pair) {
    auto signedImage = run({"env", fmt::format("COSIGN_PASSWORD={}", kPassword), tool("cosign"),
                            "sign", "--key", key(pair, "cosign.key"), "--tlog-upload=false",
                            "--yes", "--allow-insecure-registry", pinned(repo, digest)});
    ASSERT_EQ(signedImage.exitCode, 0) << signedImage.output;
  }

  // `cosign3 sign` (v3: a Sigstore bundle referrer in the fallback index sha256-<hex>, no `.sig`).
  static void signV3(const std::string& repo, const std::string& digest, const char* pair) {
    auto signedImage =
        run({"env", fmt::format("COSIGN_PASSWORD={}", kPassword), cosign3(), "sign", "--key",
             key(pair, "cosign.key"), "--use-signing-config=false", "--tlog-upload=false", "--yes",
             "--allow-insecure-registry", pinned(repo, digest)},
            120s);
    ASSERT_EQ(signedImage.exitCode, 0) << signedImage.output;
  }

  // `cosign attest --type slsaprovenance1` of REGISTRY/repo@digest with the fixtures' SLSA
  // predicate, offline: by cosign v2 (a layer of the `.att` manifest) or, with `v3`, by cosign3
  // (a bundle referrer).
  static void attestProvenance(const std::string& repo, const std::string& digest, const char* pair,
                               bool v3) {
    std::vector<std::string> argv{
        "env",
        fmt::format("COSIGN_PASSWORD={}", kPassword),
        v3 ? cosign3() : tool("cosign"),
        "attest",
        "--key",
        key(pair, "cosign.key"),
        "--type",
        "slsaprovenance1",
        "--predicate",
        (sourceDir() / "tests/signing/testdata/cosign/slsa-predicate.json").string(),
        "--tlog-upload=false",
        "--yes",
        "--allow-insecure-registry"};
    if (v3) {
      argv.push_back("--use-signing-config=false");
    }
    argv.push_back(pinned(repo, digest));
    auto attested = run(argv, 120s);
    ASSERT_EQ(attested.exitCode, 0) << attested.output;
  }

  // Whether `cosign verify-attestation --type slsaprovenance1` (v3.1.3, which reads both formats)
  // with the good key passes REGISTRY/repo@digest.
  static bool cosignVerifiesProvenance(const std::string& repo, const std::string& digest) {
    auto verified = run({cosign3(), "verify-attestation", "--key", key("good", "cosign.pub"),
                         "--type", "slsaprovenance1", "--insecure-ignore-tlog=true",
                         "--allow-insecure-registry", pinned(repo, digest)},
                        120s);
    return verified.exitCode == 0;
  }

  // Whether `cosign verify` with the good key passes REGISTRY/repo@digest: MC's verdict must
  // agree.
  static bool cosignVerifies(const std::string& repo, const std::string& digest) {
    auto verified =
        run({tool("cosign"), "verify", "--key", key("good", "cosign.pub"),
             "--insecure-ignore-tlog=true", "--allow-insecure-registry", pinned(repo, digest)});
    return verified.exitCode == 0;
  }

  // The first signature's payload of `digest` rewritten in the registry (a field added to its
  // `optional`, the digest it names left alone), under the same signature annotation: what an
  // attacker with push rights but without the key could do.
  static void tamperPayload(const std::string& repo, const std::string& digest) {
    std::string sigTag = "sha256-" + digest.substr(7) + ".sig";
    auto manifestText = run(
        {tool("crane"), "manifest", "--insecure", registry_->host() + "/" + repo + ":" + sigTag});
    ASSERT_EQ(manifestText.exitCode, 0) << manifestText.output;
    auto manifest = json::parse(manifestText.output).as_object();
    auto& layer = manifest["layers"].as_array()[0].as_object();
    auto payload = run({tool("crane"), "blob", "--insecure",
                        pinned(repo, std::string(layer["digest"].as_string()))});
    ASSERT_EQ(payload.exitCode, 0) << payload.output;
    const std::string untouched = R"("optional":null)";
    auto at = payload.output.find(untouched);
    ASSERT_NE(at, std::string::npos) << payload.output;
    std::string tampered = payload.output;
    tampered.replace(at, untouched.size(), R"("optional":{"approved-by":"attacker"})");
    std::string tamperedDigest = "sha256:" + kube::sha256Hex(tampered);
    ASSERT_NO_FATAL_FAILURE(pushBlob(repo, tampered, tamperedDigest));
    layer["digest"] = tamperedDigest;
    layer["size"] = tampered.size();
    auto put = http::fetchBlocking(
        registry_->url() + "/v2/" + repo + "/manifests/" + sigTag,
        {.method = "PUT",
         .headers = {{"Content-Type", std::string(manifest["mediaType"].as_string())}},
         .body = json::serialize(manifest)});
    ASSERT_TRUE(put) << put.error().describe();
    ASSERT_EQ(put->status, 201) << put->body;
  }

  // A monolithic blob upload (crane has no command for a bare blob).
  static void pushBlob(const std::string& repo, const std::string& data,
                       const std::string& digest) {
    auto opened = http::fetchBlocking(registry_->url() + "/v2/" + repo + "/blobs/uploads/",
                                      {.method = "POST"});
    ASSERT_TRUE(opened) << opened.error().describe();
    ASSERT_EQ(opened->status, 202) << opened->body;
    std::string location = opened->header("Location");
    if (!location.empty() && location.front() == '/') location = registry_->url() + location;
    location += (location.find('?') == std::string::npos ? "?digest=" : "&digest=") + digest;
    auto put = http::fetchBlocking(
        location,
        {.method = "PUT", .headers = {{"Content-Type", "application/octet-stream"}}, .body = data});
    ASSERT_TRUE(put) << put.error().describe();
    ASSERT_EQ(put->status, 201) << put->body;
  }

  static void createKeySecret(const std::string& ns, const std::string& name) {
    auto created = kubectl({"create", "secret", "generic", name, "-n", ns,
                            "--from-file=cosign.pub=" + key("good", "cosign.pub")});
    ASSERT_EQ(created.exitCode, 0) << created.output;
  }

  // A VerificationPolicy "team" trusting the good key (Secret cosign-pub) for every image of
  // the registry, with `waivers` (a YAML flow sequence).
  static void applyTeamPolicy(const std::string& ns, const std::string& waivers = "[]") {
    ASSERT_NO_FATAL_FAILURE(createKeySecret(ns, "cosign-pub"));
    writeTeamPolicy(ns, waivers, false);
  }
  // Policy "team" again (the Secret made), trusting the other key too (inline) if `otherKey`.
  static void writeTeamPolicy(const std::string& ns, const std::string& waivers, bool otherKey) {
    std::string inline_key;
    if (otherKey) {
      inline_key = "\n    - publicKey: |\n";
      std::istringstream pem(readFile(key("other", "cosign.pub")));
      for (std::string line; std::getline(pem, line);) inline_key += "        " + line + "\n";
    }
    apply(ns, fmt::format(R"(apiVersion: mc.maestro.dev/v1alpha1
kind: VerificationPolicy
metadata:
  name: team
spec:
  images: ["{}/**"]
  keys:
    - secretRef: {{name: cosign-pub}}{}
  waivers: {}
)",
                          registry_->host(), inline_key, waivers));
  }

  // AnalysisTemplate "breach" on `prometheusUrl`: a metric that always breaches (0.2 against a
  // limit of 0.05).
  static void applyBreachTemplate(const std::string& ns, const std::string& prometheusUrl) {
    apply(ns, fmt::format(R"yaml(apiVersion: mc.maestro.dev/v1alpha1
kind: AnalysisTemplate
metadata:
  name: breach
spec:
  metrics:
    - {{name: errors, interval: 2s, successCondition: {{max: 0.05}},
       provider: {{prometheus: {{address: "{}", query: "vector(0.2)"}}}}}}
)yaml",
                          prometheusUrl));
  }
  static constexpr const char* kBreachingBake =
      "{steps: [{setWeight: 50}, {pause: {duration: 2s}}], bake: {duration: 5m, "
      "analysis: {templates: [{templateName: breach}]}}}";
  static constexpr const char* kTeamPolicy = "{policyRef: {kind: VerificationPolicy, name: team}}";

  // Rollout "web" of REGISTRY/`repoTag`; `verify` is spec.verify as YAML flow (or empty).
  static void applyRollout(const std::string& ns, const std::string& repoTag,
                           const std::string& verify =
                               "{policyRef: {kind: VerificationPolicy, "
                               "name: team}}",
                           const std::string& canary =
                               "{steps: [{setWeight: 50}, {pause: "
                               "{duration: 2s}}]}") {
    apply(ns, rolloutYaml(registry_->host() + "/" + repoTag, canary, kReplicas,
                          verify.empty() ? "" : "  verify: " + verify + "\n"));
  }

  static json::value rollout(const std::string& ns) { return getJson({"mcro", "web", "-n", ns}); }

  // Waits for the Verified condition to say `status`/`reason` about `digest`.
  static bool waitForVerdict(const std::string& ns, const std::string& status,
                             const std::string& reason, const std::string& digest,
                             std::chrono::seconds timeout = 60s) {
    return pollUntil(
        [&] {
          auto c = conditionOf(rollout(ns), "Verified");
          return c.status == status && c.reason == reason &&
                 (digest.empty() || c.message.find(digest) != std::string::npos);
        },
        timeout, 200ms);
  }

  // The image of each MC ReplicaSet, by pod-template hash.
  static std::map<std::string, std::string> replicaSetImages(const std::string& ns) {
    std::map<std::string, std::string> images;
    auto list = getJson({"rs", "-n", ns});
    if (auto* items = at(list, {"items"}); items && items->is_array()) {
      for (const auto& rs : items->as_array()) {
        auto* containers = at(rs, {"spec", "template", "spec", "containers"});
        if (containers && containers->is_array() && !containers->as_array().empty()) {
          images[text(rs, {"metadata", "labels", kHashLabel})] =
              text(containers->as_array()[0], {"image"});
        }
      }
    }
    return images;
  }

  // The images the namespace's pods run (their spec, as the kubelet would pull them).
  static std::set<std::string> podImages(const std::string& ns) {
    std::set<std::string> images;
    auto list = getJson({"pods", "-n", ns});
    if (auto* items = at(list, {"items"}); items && items->is_array()) {
      for (const auto& pod : items->as_array()) {
        if (auto* c = at(pod, {"spec", "containers"}); c && c->is_array()) {
          for (const auto& container : c->as_array()) images.insert(text(container, {"image"}));
        }
      }
    }
    return images;
  }

  // The messages of the Rollout's Events of `reason`, and how often each was seen (series).
  static std::vector<std::string> eventMessages(const std::string& ns, const std::string& reason,
                                                int* occurrences = nullptr) {
    std::vector<std::string> notes;
    int seen = 0;
    auto list = getJson({"events.v1.events.k8s.io", "-n", ns});
    if (auto* items = at(list, {"items"}); items && items->is_array()) {
      for (const auto& event : items->as_array()) {
        if (text(event, {"reason"}) == reason && text(event, {"regarding", "name"}) == "web") {
          notes.push_back(text(event, {"note"}));
          seen += std::max<int64_t>(1, number(event, {"series", "count"}));
        }
      }
    }
    if (occurrences != nullptr) *occurrences = seen;
    return notes;
  }

  // The Rollout's audit records of `action`, as {from, to, reason, evidence}.
  static std::vector<json::value> records(const std::string& ns, const std::string& action) {
    std::vector<json::value> out;
    auto list = getJson({"auditrecords", "-n", ns, "-l", "mc.maestro.dev/audit-chain=rollout-web"});
    if (auto* items = at(list, {"items"}); items && items->is_array()) {
      for (const auto& item : items->as_array()) {
        if (text(item, {"spec", "action"}) == action) out.push_back(*at(item, {"spec"}));
      }
    }
    return out;
  }

  // After a rollback: every pod on ReplicaSet `to` is available, and `from` has none.
  static bool waitForPodsBackOn(const std::string& ns, const std::string& to,
                                const std::string& from) {
    return pollUntil(
        [&] {
          auto sets = replicaSets(ns);
          return sets[to].available == kReplicas && sets[from].replicas == 0;
        },
        60s);
  }

  std::string diagnostics(const std::string& ns) {
    auto objects = kubectl({"get", "mcro,rs", "-n", ns, "-o", "wide"});
    auto status = kubectl({"get", "mcro", "web", "-n", ns, "-o", "jsonpath={.status}"});
    return objects.output + "\n" + status.output + "\n" + operator_->logTail(30);
  }

  // v1 of `repo`, signed with the good key, Healthy under policy "team": its digest and
  // pod-template hash.
  void deploySignedV1(const std::string& ns, const std::string& repo, std::string* digest,
                      std::string* hash) {
    *digest = pushImage(repo + ":v1");
    ASSERT_NO_FATAL_FAILURE(sign(repo, *digest, "good"));
    applyRollout(ns, repo + ":v1");
    ASSERT_TRUE(waitForPhase(ns, "Healthy")) << diagnostics(ns);
    *hash = text(rollout(ns), {"status", "stablePodHash"});
    ASSERT_FALSE(hash->empty());
  }

  friend OperatorSuite<SigningE2ETest>;
  static constexpr const char* kSuiteName = "signing-e2e";
  static constexpr const char* kSuiteNamespaces[] = {"signed",  "refused",    "platform",
                                                     "waiver",  "outage",     "bake",
                                                     "revoked", "provenance", "bundle"};
  static inline std::filesystem::path* tools_ = nullptr;
  static inline OciRegistry* registry_ = nullptr;
};

// Signed with the trusted key: admitted, every ReplicaSet pinned to the digest verified, and a tag
// moved after verification changes nothing that runs.
TEST_F(SigningE2ETest, SignedImageRunsPinnedToTheDigestVerified) {
  const std::string ns = "signed";
  ASSERT_NO_FATAL_FAILURE(applyTeamPolicy(ns));
  std::string d1, v1;
  ASSERT_NO_FATAL_FAILURE(deploySignedV1(ns, "mc/signed", &d1, &v1));
  EXPECT_TRUE(cosignVerifies("mc/signed", d1));
  auto r = rollout(ns);
  EXPECT_EQ(replicaSetImages(ns)[v1], pinned("mc/signed", d1));
  auto verified = conditionOf(r, "Verified");
  EXPECT_EQ(verified.status, "True") << verified.message;
  EXPECT_EQ(verified.reason, "Verified");
  EXPECT_EQ(text(r, {"status", "verified", "images", "0", "digest"}), d1);
  EXPECT_TRUE(pollUntil(
      [&] {
        return text(rollout(ns), {"status", "lastKnownGood", "digest"}) == d1;
      },
      30s))
      << diagnostics(ns);

  std::string d2 = pushImage("mc/signed:v2");
  ASSERT_NO_FATAL_FAILURE(sign("mc/signed", d2, "good"));
  applyRollout(ns, "mc/signed:v2");
  std::string v2;
  ASSERT_TRUE(pollUntil(
      [&] {
        v2 = text(rollout(ns), {"status", "currentPodHash"});
        return v2 != v1 && !v2.empty() && replicaSetImages(ns).count(v2) == 1;
      },
      60s))
      << diagnostics(ns);
  EXPECT_EQ(replicaSetImages(ns)[v2], pinned("mc/signed", d2));

  // The tag moves to an unsigned image after MC verified v2; the canary then scales to all pods.
  std::string moved = pushImage("mc/signed:moved");
  auto retagged = run({tool("crane"), "tag", "--insecure", pinned("mc/signed", moved), "v2"});
  ASSERT_EQ(retagged.exitCode, 0) << retagged.output;
  auto now = run({tool("crane"), "digest", "--insecure", registry_->host() + "/mc/signed:v2"});
  ASSERT_EQ(lastLine(now.output), moved) << "the tag did move";
  ASSERT_TRUE(waitForPhase(ns, "Healthy")) << diagnostics(ns);
  r = rollout(ns);
  EXPECT_EQ(text(r, {"status", "stablePodHash"}), v2);
  EXPECT_TRUE(pollUntil(
      [&] { return podImages(ns) == std::set<std::string>{pinned("mc/signed", d2)}; }, 60s))
      << "every pod runs the digest verified, not the tag's new image: " << diagnostics(ns);
  EXPECT_TRUE(pollUntil(
      [&] {
        r = rollout(ns);
        return text(r, {"status", "lastKnownGood", "digest"}) == d2 &&
               text(r, {"status", "knownGoodHistory", "0", "digest"}) == d1;
      },
      30s))
      << diagnostics(ns);
  EXPECT_FALSE(records(ns, "Verified").empty());
}

// Unsigned, signed with a key the policy does not trust, a payload rewritten in the registry, and
// a signature of another digest copied to this one: each is refused before it gets a ReplicaSet,
// as `cosign verify` refuses it, with a condition, an Event and an audit record.
TEST_F(SigningE2ETest, RefusedImagesGetNoReplicaSet) {
  const std::string ns = "refused";
  const std::string repo = "mc/refused";
  ASSERT_NO_FATAL_FAILURE(applyTeamPolicy(ns));
  std::string d1, v1;
  ASSERT_NO_FATAL_FAILURE(deploySignedV1(ns, repo, &d1, &v1));

  struct Case {
    std::string tag;
    std::string digest;
  };
  std::vector<Case> cases;
  cases.push_back({"unsigned", pushImage(repo + ":unsigned")});
  cases.push_back({"other-key", pushImage(repo + ":other-key")});
  ASSERT_NO_FATAL_FAILURE(sign(repo, cases.back().digest, "other"));
  cases.push_back({"tampered", pushImage(repo + ":tampered")});
  ASSERT_NO_FATAL_FAILURE(sign(repo, cases.back().digest, "good"));
  ASSERT_NO_FATAL_FAILURE(tamperPayload(repo, cases.back().digest));
  cases.push_back({"copied", pushImage(repo + ":copied")});
  auto copied = run({tool("crane"), "tag", "--insecure",
                     fmt::format("{}/{}:sha256-{}.sig", registry_->host(), repo, d1.substr(7)),
                     "sha256-" + cases.back().digest.substr(7) + ".sig"});
  ASSERT_EQ(copied.exitCode, 0) << copied.output;

  for (const auto& c : cases) {
    SCOPED_TRACE(c.tag);
    EXPECT_FALSE(cosignVerifies(repo, c.digest)) << "cosign refuses it too";
    applyRollout(ns, repo + ":" + c.tag);
    ASSERT_TRUE(waitForVerdict(ns, "False", "SignatureRejected", c.digest)) << diagnostics(ns);
    auto r = rollout(ns);
    std::cout << c.tag << ": " << conditionOf(r, "Verified").message << "\n";
    EXPECT_EQ(text(r, {"status", "phase"}), "Degraded");
    auto sets = replicaSets(ns);
    EXPECT_EQ(sets.size(), 1u) << "no ReplicaSet for a refused template: " << diagnostics(ns);
    EXPECT_EQ(sets[v1].replicas, kReplicas) << "the stable keeps everything";
    EXPECT_EQ(text(r, {"status", "stablePodHash"}), v1);
  }
  EXPECT_NE(conditionOf(rollout(ns), "Verified").message.find(d1), std::string::npos)
      << "the copied signature names the digest it was made for";
  EXPECT_TRUE(
      pollUntil([&] { return records(ns, "SignatureRejected").size() == cases.size(); }, 30s))
      << "one record per refused template";
  auto notes = eventMessages(ns, "SignatureRejected");
  EXPECT_EQ(notes.size(), cases.size());
  for (const auto& c : cases) {
    EXPECT_TRUE(std::any_of(notes.begin(), notes.end(),
                            [&](const auto& n) { return n.find(c.digest) != std::string::npos; }))
        << "an Event names " << c.tag << "'s digest";
  }
}

// A ClusterVerificationPolicy covers a Rollout that names no policy: the platform team's rule
// holds in every namespace, with its key Secret in MC's own namespace.
TEST_F(SigningE2ETest, ClusterPolicyCoversARolloutThatNamesNone) {
  const std::string ns = "platform";
  const std::string repo = "mc/platform/app";
  ASSERT_NO_FATAL_FAILURE(createKeySecret(kOperatorNamespace, "platform-pub"));
  apply("default", fmt::format(R"(apiVersion: mc.maestro.dev/v1alpha1
kind: ClusterVerificationPolicy
metadata:
  name: platform
spec:
  images: ["{}/mc/platform/**"]
  keys: [{{secretRef: {{name: platform-pub, namespace: {}}}}}]
)",
                               registry_->host(), kOperatorNamespace));
  std::string unsignedDigest = pushImage(repo + ":unsigned");
  applyRollout(ns, repo + ":unsigned", "");
  ASSERT_TRUE(waitForVerdict(ns, "False", "SignatureRejected", unsignedDigest)) << diagnostics(ns);
  EXPECT_TRUE(replicaSets(ns).empty()) << "not even a first ReplicaSet";
  EXPECT_NE(conditionOf(rollout(ns), "Verified").message.find("platform"), std::string::npos)
      << "the refusal names the policy";

  std::string d1 = pushImage(repo + ":v1");
  ASSERT_NO_FATAL_FAILURE(sign(repo, d1, "good"));
  applyRollout(ns, repo + ":v1", "");
  ASSERT_TRUE(waitForPhase(ns, "Healthy")) << diagnostics(ns);
  auto r = rollout(ns);
  EXPECT_EQ(conditionOf(r, "Verified").status, "True");
  EXPECT_EQ(replicaSetImages(ns)[text(r, {"status", "stablePodHash"})], pinned(repo, d1));
  EXPECT_NE(text(r, {"status", "verified", "images", "0", "verifiedBy"}).find("platform"),
            std::string::npos)
      << diagnostics(ns);
  kubectl({"delete", "clusterverificationpolicy", "platform"});
}

// A valid waiver lets an unsigned digest run, naming its owner and expiry; an expired one refuses
// it, naming the digest and the owner. A waived template never becomes the last known-good.
TEST_F(SigningE2ETest, WaiversExcuseUntilTheyExpire) {
  const std::string ns = "waiver";
  const std::string repo = "mc/waiver";
  std::string valid = pushImage(repo + ":valid");
  std::string expired = pushImage(repo + ":expired");
  std::string until = rfc3339FromNow(1h);
  ASSERT_NO_FATAL_FAILURE(applyTeamPolicy(
      ns, fmt::format("[{{digest: \"{}\", owner: alice@example.com, reason: INC-42, expires: "
                      "\"{}\"}}, {{digest: \"{}\", owner: bob@example.com, reason: INC-43, "
                      "expires: \"{}\"}}]",
                      valid, until, expired, rfc3339FromNow(-1h))));

  applyRollout(ns, repo + ":valid");
  ASSERT_TRUE(waitForPhase(ns, "Healthy")) << diagnostics(ns);
  auto r = rollout(ns);
  auto verified = conditionOf(r, "Verified");
  EXPECT_EQ(verified.status, "True");
  EXPECT_EQ(verified.reason, "WaiverApplied");
  std::string v1 = text(r, {"status", "stablePodHash"});
  EXPECT_EQ(replicaSetImages(ns)[v1], pinned(repo, valid));
  // One Event for the one decision, naming who waived it and until when.
  auto applied = eventMessages(ns, "WaiverApplied");
  ASSERT_EQ(applied.size(), 1u) << fmt::format("{}", fmt::join(applied, "\n"));
  EXPECT_NE(applied[0].find("alice@example.com"), std::string::npos) << applied[0];
  EXPECT_NE(applied[0].find(until), std::string::npos) << applied[0];
  EXPECT_NE(applied[0].find(valid), std::string::npos) << applied[0];
  EXPECT_EQ(records(ns, "WaiverApplied").size(), 1u);
  EXPECT_EQ(at(r, {"status", "lastKnownGood"}), nullptr) << "a waiver excuses, it does not vouch";
  EXPECT_EQ(conditionOf(r, "KnownGood").status, "False");

  applyRollout(ns, repo + ":expired");
  ASSERT_TRUE(waitForVerdict(ns, "False", "WaiverExpired", expired)) << diagnostics(ns);
  EXPECT_EQ(replicaSets(ns).size(), 1u) << diagnostics(ns);
  auto denied = eventMessages(ns, "WaiverExpired");
  ASSERT_EQ(denied.size(), 1u);
  EXPECT_NE(denied[0].find(expired), std::string::npos) << denied[0];
  EXPECT_NE(denied[0].find("bob@example.com"), std::string::npos) << denied[0];
  EXPECT_TRUE(pollUntil([&] { return records(ns, "WaiverExpired").size() == 1; }, 30s));
}

// With the registry down a new template gets no verdict, so no ReplicaSet and no promotion: MC
// keeps asking, and carries on once the registry is back.
TEST_F(SigningE2ETest, RegistryDownHoldsTheCanaryUntilItIsBack) {
  const std::string ns = "outage";
  const std::string repo = "mc/outage";
  ASSERT_NO_FATAL_FAILURE(applyTeamPolicy(ns));
  std::string d1, v1;
  ASSERT_NO_FATAL_FAILURE(deploySignedV1(ns, repo, &d1, &v1));
  std::string d2 = pushImage(repo + ":v2");
  ASSERT_NO_FATAL_FAILURE(sign(repo, d2, "good"));

  // Back up however this test ends: the suite's later tests share the registry.
  struct Outage {
    explicit Outage(OciRegistry& registry) : registry(registry) { registry.stop(); }
    ~Outage() {
      if (down) registry.start();
    }
    void end() {
      registry.start();
      down = false;
    }
    OciRegistry& registry;
    bool down = true;
  } outage(*registry_);
  ASSERT_FALSE(http::fetchBlocking(registry_->url() + "/v2/", {}).has_value())
      << "the registry is down";
  applyRollout(ns, repo + ":v2");
  ASSERT_TRUE(waitForVerdict(ns, "False", "VerificationError", "")) << diagnostics(ns);
  int attempts = 0;
  EXPECT_TRUE(pollUntil(
      [&] {
        eventMessages(ns, "VerificationError", &attempts);
        return attempts >= 2;
      },
      45s))
      << "MC asks again while the registry is down: " << diagnostics(ns);
  auto r = rollout(ns);
  EXPECT_EQ(text(r, {"status", "phase"}), "Progressing");
  EXPECT_EQ(text(r, {"status", "stablePodHash"}), v1);
  EXPECT_EQ(replicaSets(ns).size(), 1u) << "no canary without a verdict: " << diagnostics(ns);
  EXPECT_EQ(replicaSets(ns)[v1].replicas, kReplicas);
  EXPECT_TRUE(records(ns, "Promoted").empty());
  EXPECT_TRUE(records(ns, "CanaryStarted").empty());

  outage.end();
  ASSERT_TRUE(waitForPhase(ns, "Healthy")) << diagnostics(ns);
  r = rollout(ns);
  std::string v2 = text(r, {"status", "stablePodHash"});
  EXPECT_NE(v2, v1);
  EXPECT_EQ(replicaSetImages(ns)[v2], pinned(repo, d2));
  EXPECT_EQ(conditionOf(r, "Verified").status, "True");
}

// A breach in the bake window after promotion rolls back at once to the last known-good digest:
// traffic and pods back on v1's ReplicaSet, phase RolledBack, and a record with both digests.
TEST_F(SigningE2ETest, BreachInTheBakeWindowRollsBackToTheLastKnownGood) {
  const std::string ns = "bake";
  const std::string repo = "mc/bake";
  PrometheusServer prometheus(std::vector<std::string>{});
  applyBreachTemplate(ns, prometheus.url());
  ASSERT_NO_FATAL_FAILURE(applyTeamPolicy(ns));
  std::string d1, v1;
  ASSERT_NO_FATAL_FAILURE(deploySignedV1(ns, repo, &d1, &v1));
  ASSERT_TRUE(pollUntil(
      [&] {
        return text(rollout(ns), {"status", "lastKnownGood", "digest"}) == d1;
      },
      30s))
      << diagnostics(ns);

  std::string d2 = pushImage(repo + ":v2");
  ASSERT_NO_FATAL_FAILURE(sign(repo, d2, "good"));
  applyRollout(ns, repo + ":v2", kTeamPolicy, kBreachingBake);
  ASSERT_TRUE(waitForPhase(ns, "RolledBack", 120s)) << diagnostics(ns);
  auto r = rollout(ns);
  std::string v2 = text(r, {"status", "rolledBack", "fromPodHash"});
  EXPECT_NE(v2, v1);
  EXPECT_EQ(text(r, {"status", "rolledBack", "toPodHash"}), v1);
  EXPECT_EQ(text(r, {"status", "stablePodHash"}), v1);
  EXPECT_EQ(text(r, {"status", "lastKnownGood", "digest"}), d1) << "v2 never became known-good";
  EXPECT_TRUE(waitForPodsBackOn(ns, v1, v2)) << diagnostics(ns);
  EXPECT_EQ(replicaSetImages(ns)[v1], pinned(repo, d1));
  auto rolledBack = records(ns, "RolledBack");
  ASSERT_EQ(rolledBack.size(), 1u);
  EXPECT_NE(text(rolledBack[0], {"from"}).find(d2), std::string::npos)
      << json::serialize(rolledBack[0]);
  EXPECT_NE(text(rolledBack[0], {"to"}).find(d1), std::string::npos)
      << json::serialize(rolledBack[0]);
  EXPECT_EQ(eventMessages(ns, "RolledBack").size(), 1u);
}

// The last known-good was signed by a key the policy has since dropped: a breach passes over it to
// the newest known-good that still verifies, and the record says why.
TEST_F(SigningE2ETest, ARollbackPassesOverAKnownGoodWhoseKeyWasRemoved) {
  const std::string ns = "revoked";
  const std::string repo = "mc/revoked";
  PrometheusServer prometheus(std::vector<std::string>{});
  applyBreachTemplate(ns, prometheus.url());
  ASSERT_NO_FATAL_FAILURE(createKeySecret(ns, "cosign-pub"));
  writeTeamPolicy(ns, "[]", true);
  std::string d1, v1;
  ASSERT_NO_FATAL_FAILURE(deploySignedV1(ns, repo, &d1, &v1));
  std::string d2 = pushImage(repo + ":v2");
  ASSERT_NO_FATAL_FAILURE(sign(repo, d2, "other"));
  applyRollout(ns, repo + ":v2");
  ASSERT_TRUE(pollUntil(
      [&] {
        auto r = rollout(ns);
        return text(r, {"status", "lastKnownGood", "digest"}) == d2 &&
               text(r, {"status", "knownGoodHistory", "0", "digest"}) == d1;
      },
      90s))
      << diagnostics(ns);
  std::string v2 = text(rollout(ns), {"status", "stablePodHash"});

  writeTeamPolicy(ns, "[]", false);  // the other key is no longer trusted: v2 no longer verifies
  std::string d3 = pushImage(repo + ":v3");
  ASSERT_NO_FATAL_FAILURE(sign(repo, d3, "good"));
  applyRollout(ns, repo + ":v3", kTeamPolicy, kBreachingBake);
  ASSERT_TRUE(waitForPhase(ns, "RolledBack")) << diagnostics(ns);
  auto r = rollout(ns);
  EXPECT_EQ(text(r, {"status", "rolledBack", "toPodHash"}), v1) << diagnostics(ns);
  EXPECT_EQ(text(r, {"status", "stablePodHash"}), v1);
  EXPECT_TRUE(waitForPodsBackOn(ns, v1, v2)) << diagnostics(ns);
  auto rolledBack = records(ns, "RolledBack");
  ASSERT_EQ(rolledBack.size(), 1u);
  EXPECT_NE(text(rolledBack[0], {"to"}).find(d1), std::string::npos)
      << json::serialize(rolledBack[0]);
  EXPECT_NE(text(rolledBack[0], {"evidence", "passedOver"}).find(d2), std::string::npos)
      << "names the known-good passed over and why: " << json::serialize(rolledBack[0]);
}

// A policy that requires SLSA provenance (spec.attestations): a new template whose image is signed
// but carries no provenance is refused before it gets a ReplicaSet, naming the predicate type;
// once `cosign attest` adds the provenance, MC (which asks again about a refusal after 30 s) lets
// the canary start, its ReplicaSet pinned to the digest. v1's provenance is cosign v2's `.att`,
// v2's a cosign v3 bundle beside a v2 `.sig`, as cosign3 verify-attestation reads them both.
TEST_F(SigningE2ETest, RequiredProvenanceHoldsTheCanaryUntilAttested) {
  const std::string ns = "provenance";
  const std::string repo = "mc/provenance";
  const std::string predicateType = "https://slsa.dev/provenance/v1";
  ASSERT_NO_FATAL_FAILURE(createKeySecret(ns, "cosign-pub"));
  apply(ns, fmt::format(R"yaml(apiVersion: mc.maestro.dev/v1alpha1
kind: VerificationPolicy
metadata:
  name: team
spec:
  images: ["{}/**"]
  keys: [{{secretRef: {{name: cosign-pub}}}}]
  attestations: [{{predicateType: "{}"}}]
)yaml",
                        registry_->host(), predicateType));

  std::string d1 = pushImage(repo + ":v1");
  ASSERT_NO_FATAL_FAILURE(sign(repo, d1, "good"));
  ASSERT_NO_FATAL_FAILURE(attestProvenance(repo, d1, "good", false));
  EXPECT_TRUE(cosignVerifiesProvenance(repo, d1));
  applyRollout(ns, repo + ":v1");
  ASSERT_TRUE(waitForPhase(ns, "Healthy")) << diagnostics(ns);
  std::string v1 = text(rollout(ns), {"status", "stablePodHash"});
  ASSERT_FALSE(v1.empty());
  EXPECT_EQ(replicaSetImages(ns)[v1], pinned(repo, d1));

  std::string d2 = pushImage(repo + ":v2");
  ASSERT_NO_FATAL_FAILURE(sign(repo, d2, "good"));
  EXPECT_TRUE(cosignVerifies(repo, d2)) << "signed";
  EXPECT_FALSE(cosignVerifiesProvenance(repo, d2)) << "but without provenance";
  applyRollout(ns, repo + ":v2");
  ASSERT_TRUE(waitForVerdict(ns, "False", "SignatureRejected", d2)) << diagnostics(ns);
  auto refused = conditionOf(rollout(ns), "Verified");
  std::cout << "signed, no provenance: " << refused.message << "\n";
  EXPECT_NE(refused.message.find(predicateType), std::string::npos) << refused.message;
  auto sets = replicaSets(ns);
  EXPECT_EQ(sets.size(), 1u) << "no ReplicaSet for the refused template: " << diagnostics(ns);
  EXPECT_EQ(sets[v1].replicas, kReplicas);
  EXPECT_EQ(text(rollout(ns), {"status", "stablePodHash"}), v1);

  ASSERT_NO_FATAL_FAILURE(attestProvenance(repo, d2, "good", true));
  EXPECT_TRUE(cosignVerifiesProvenance(repo, d2));
  std::string v2;
  ASSERT_TRUE(pollUntil(
      [&] {
        v2 = text(rollout(ns), {"status", "currentPodHash"});
        return v2 != v1 && !v2.empty() && replicaSetImages(ns).count(v2) == 1;
      },
      120s, 500ms))
      << "the canary starts once the provenance is there: " << diagnostics(ns);
  EXPECT_EQ(replicaSetImages(ns)[v2], pinned(repo, d2));
  auto verified = conditionOf(rollout(ns), "Verified");
  EXPECT_EQ(verified.status, "True") << verified.message;
  ASSERT_TRUE(waitForPhase(ns, "Healthy")) << diagnostics(ns);
  EXPECT_EQ(text(rollout(ns), {"status", "stablePodHash"}), v2);
}

// A cosign v3 bundle alone (no v2 `.sig`) is a signature to MC as to cosign3 verify: the first
// template runs, pinned to the digest, and a template signed by the other key in the same format
// is refused.
TEST_F(SigningE2ETest, BundleSignatureAloneLetsTheRolloutProceed) {
  const std::string ns = "bundle";
  const std::string repo = "mc/bundle";
  ASSERT_NO_FATAL_FAILURE(applyTeamPolicy(ns));
  std::string d1 = pushImage(repo + ":v1");
  ASSERT_NO_FATAL_FAILURE(signV3(repo, d1, "good"));
  auto sigTag = run({tool("crane"), "manifest", "--insecure",
                     fmt::format("{}/{}:sha256-{}.sig", registry_->host(), repo, d1.substr(7))});
  ASSERT_NE(sigTag.exitCode, 0) << "no v2 signature: " << sigTag.output;
  auto referrers = run({tool("crane"), "manifest", "--insecure",
                        fmt::format("{}/{}:sha256-{}", registry_->host(), repo, d1.substr(7))});
  ASSERT_EQ(referrers.exitCode, 0) << "the bundle's fallback index: " << referrers.output;
  EXPECT_FALSE(cosignVerifies(repo, d1)) << "cosign v2.6.5 reads only .sig";
  auto v3 = run({cosign3(), "verify", "--key", key("good", "cosign.pub"),
                 "--insecure-ignore-tlog=true", "--allow-insecure-registry", pinned(repo, d1)},
                120s);
  EXPECT_EQ(v3.exitCode, 0) << v3.output;

  applyRollout(ns, repo + ":v1");
  ASSERT_TRUE(waitForPhase(ns, "Healthy")) << diagnostics(ns);
  auto r = rollout(ns);
  auto verified = conditionOf(r, "Verified");
  EXPECT_EQ(verified.status, "True") << verified.message;
  EXPECT_EQ(verified.reason, "Verified");
  std::string v1 = text(r, {"status", "stablePodHash"});
  EXPECT_EQ(replicaSetImages(ns)[v1], pinned(repo, d1));
  EXPECT_EQ(text(r, {"status", "verified", "images", "0", "digest"}), d1);

  std::string d2 = pushImage(repo + ":v2");
  ASSERT_NO_FATAL_FAILURE(signV3(repo, d2, "other"));
  applyRollout(ns, repo + ":v2");
  ASSERT_TRUE(waitForVerdict(ns, "False", "SignatureRejected", d2)) << diagnostics(ns);
  EXPECT_EQ(replicaSets(ns).size(), 1u) << diagnostics(ns);
}

}  // namespace
}  // namespace mc::e2e
