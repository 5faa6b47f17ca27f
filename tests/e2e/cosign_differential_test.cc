// MC's verdict against `cosign verify`'s, row by row: each row pushes an image of its own to
// Debian's docker-registry (crane), signs it with cosign v2.6.5 or v3.1.3 (e2e/tools/build.sh
// signing, cosign3), damages or copies what they wrote where the row says so, and asks both
// `cosign3 verify` (v3.1.3, offline flags as in docs/cosign-formats.md) and MC's signing library
// in-process (RegistrySignatures over HttpRegistryClient, then Verifier::verify) about the image's
// digest. Their verdicts must be equal on every row, and each must be the row's expected one (so a
// row whose set-up went wrong cannot pass by both tools refusing it). cosign v2.6.5's verdict on
// the v2 rows is recorded too; MC is compared with v3.1.3, which reads both formats.
// The table is printed to stdout at the end, so it lands in the test log.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "mc/common/clock.h"
#include "mc/common/timefmt.h"
#include "mc/e2e/process.h"
#include "mc/e2e/servers.h"
#include "mc/runtime/http_client.h"
#include "mc/runtime/secret.h"
#include "mc/signing/certificate.h"
#include "mc/signing/digest.h"
#include "mc/signing/image_reference.h"
#include "mc/signing/public_key.h"
#include "mc/signing/registry_client.h"
#include "mc/signing/registry_signatures.h"
#include "mc/signing/verifier.h"
#include "mc/testing/io_thread.h"

namespace mc::e2e {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr const char* kPassword = "mc-differential";  // of the test's cosign keys
constexpr auto kToolTimeout = 120s;                   // one cosign or crane run, on a busy machine

std::string lastLine(const std::string& output) {
  auto end = output.find_last_not_of('\n');
  if (end == std::string::npos) {
    return "";
  }
  auto start = output.find_last_of('\n', end);
  start = start == std::string::npos ? 0 : start + 1;
  return output.substr(start, end - start + 1);
}

// What a tool said when it refused: its last "Error:" line, else its last line.
std::string errorLine(const std::string& output) {
  auto at = output.rfind("Error:");
  if (at == std::string::npos) {
    return lastLine(output);
  }
  auto end = output.find('\n', at);
  return output.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

std::string readAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string randomHex(size_t bytes) {
  static std::mt19937_64 random{std::random_device{}()};
  std::string out;
  for (size_t i = 0; i < bytes; ++i) {
    out += fmt::format("{:02x}", static_cast<unsigned>(random() & 0xff));
  }
  return out;
}

enum class Format { V2Sig, V3Bundle };

std::string_view toString(Format format) {
  return format == Format::V2Sig ? "v2 .sig" : "v3 bundle";
}

// One verdict: a tool's (exit code, its error line) or MC's (exit code 0 or 1, describe()).
struct Verdict {
  bool verified = false;
  int exitCode = -1;
  std::string reason;
};

std::string_view word(bool verified) { return verified ? "pass" : "fail"; }

struct RowResult {
  std::string name;
  Format format = Format::V2Sig;
  bool expected = false;
  Verdict cosign3;
  std::optional<Verdict> cosign2;  // v2 rows only
  Verdict mc;
};

// The registry, the tools, the key pairs ("good", which every policy trusts, and "other", which
// none does), and MC's verifier on an io thread of its own. Made once for the binary.
struct Bench {
  std::filesystem::path dir;
  std::string cosign, cosign3, crane;
  std::unique_ptr<OciRegistry> registry;
  test::IoThread io;
  std::unique_ptr<signing::HttpRegistryClient> client;
  std::unique_ptr<signing::RegistrySignatures> source;
  std::unique_ptr<signing::Verifier> verifier;
  std::optional<signing::PublicKey> goodKey;
  std::vector<RowResult> results;
  bool ready = false;
};

Bench* bench = nullptr;

void makeKeylessCa();

class BenchEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    bench = new Bench;
    bench->dir = makeTempDir("mc-cosign-differential");
    auto signingTools = run({(sourceDir() / "e2e/tools/build.sh").string(), "--check", "signing"});
    ASSERT_EQ(signingTools.exitCode, 0) << signingTools.output;
    auto v3Tools = run({(sourceDir() / "e2e/tools/build.sh").string(), "--check", "cosign3"});
    ASSERT_EQ(v3Tools.exitCode, 0) << v3Tools.output;
    std::filesystem::path signingBin = lastLine(signingTools.output);
    bench->cosign = (signingBin / "cosign").string();
    bench->crane = (signingBin / "crane").string();
    bench->cosign3 = (std::filesystem::path(lastLine(v3Tools.output)) / "cosign3").string();
    bench->registry = std::make_unique<OciRegistry>();
    for (const char* pair : {"good", "other"}) {
      std::filesystem::create_directories(bench->dir / pair);
      auto made = run({"sh", "-c",
                       fmt::format("cd '{}' && COSIGN_PASSWORD={} '{}' generate-key-pair",
                                   (bench->dir / pair).string(), kPassword, bench->cosign)});
      ASSERT_EQ(made.exitCode, 0) << made.output;
    }
    ASSERT_NO_FATAL_FAILURE(makeKeylessCa());
    auto key = signing::PublicKey::fromPem(readAll(bench->dir / "good" / "cosign.pub"), "good");
    ASSERT_TRUE(key) << key.error().describe();
    bench->goodKey = *key;
    signing::HttpRegistryOptions options;
    options.insecureHosts = {bench->registry->host()};
    bench->client = std::make_unique<signing::HttpRegistryClient>(bench->io.executor(), options);
    bench->source = std::make_unique<signing::RegistrySignatures>(*bench->client);
    bench->verifier = std::make_unique<signing::Verifier>(*bench->source, systemClock());
    bench->ready = true;
  }

  void TearDown() override {
    printTable();
    if (bench == nullptr) {
      return;
    }
    bench->verifier.reset();
    bench->source.reset();
    bench->io.run(dropClient());  // its sockets live on the io thread
    std::filesystem::path dir = bench->dir;
    delete bench;
    bench = nullptr;
    std::filesystem::remove_all(dir);
  }

 private:
  static boost::asio::awaitable<void> dropClient() {
    bench->client.reset();
    co_return;
  }

  static void printTable() {
    if (bench == nullptr || bench->results.empty()) {
      return;
    }
    std::string out = fmt::format(
        "\nMC against cosign verify (v3.1.3; v2.6.5 for reference on .sig rows)\n"
        "{:<40} {:<10} {:<7} {:<15} {:<15} {:<6} {}\n",
        "row", "format", "expect", "cosign3 (exit)", "cosign2 (exit)", "MC", "MC's reason");
    for (const auto& r : bench->results) {
      std::string v2 =
          r.cosign2 ? fmt::format("{} ({})", word(r.cosign2->verified), r.cosign2->exitCode) : "-";
      out += fmt::format(
          "{:<40} {:<10} {:<7} {:<15} {:<15} {:<6} {}{}\n", r.name, toString(r.format),
          word(r.expected), fmt::format("{} ({})", word(r.cosign3.verified), r.cosign3.exitCode),
          v2, word(r.mc.verified), r.mc.reason,
          r.mc.verified == r.cosign3.verified ? "" : "   <-- DISAGREES WITH COSIGN3");
      if (!r.cosign3.verified) {
        out += fmt::format("{:<40} cosign3: {}\n", "", r.cosign3.reason);
      }
      if (r.cosign2 && !r.cosign2->verified && r.cosign2->reason != r.cosign3.reason) {
        out += fmt::format("{:<40} cosign2: {}\n", "", r.cosign2->reason);
      }
    }
    std::cout << out << std::flush;
  }
};

[[maybe_unused]] auto* const kBench = ::testing::AddGlobalTestEnvironment(new BenchEnvironment);

std::string key(const char* pair, const char* file) { return (bench->dir / pair / file).string(); }

std::string pinned(const std::string& repo, const std::string& digest) {
  return fmt::format("{}/{}@{}", bench->registry->host(), repo, digest);
}

// A new image in `repo` at `tag`: one layer of random bytes, appended by crane to an empty base.
// Its digest.
std::string pushImage(const std::string& repo, const std::string& tag) {
  auto layerDir = bench->dir / "layers" / randomHex(8);
  std::filesystem::create_directories(layerDir);
  { std::ofstream(layerDir / "content") << randomHex(32) << "\n"; }
  auto tar =
      run({"tar", "-C", layerDir.string(), "-cf", (layerDir / "layer.tar").string(), "content"});
  EXPECT_EQ(tar.exitCode, 0) << tar.output;
  auto ref = fmt::format("{}/{}:{}", bench->registry->host(), repo, tag);
  auto pushed = run(
      {bench->crane, "append", "--insecure", "-f", (layerDir / "layer.tar").string(), "-t", ref},
      kToolTimeout);
  EXPECT_EQ(pushed.exitCode, 0) << pushed.output;
  auto digest = run({bench->crane, "digest", "--insecure", ref}, kToolTimeout);
  EXPECT_EQ(digest.exitCode, 0) << digest.output;
  return lastLine(digest.output);
}

// `cosign sign` (v2.6.5, the .sig format) of repo@digest with key pair `pair`, offline.
void signV2(const std::string& repo, const std::string& digest, const char* pair,
            std::vector<std::string> extra = {}) {
  std::vector<std::string> argv{"env",
                                fmt::format("COSIGN_PASSWORD={}", kPassword),
                                bench->cosign,
                                "sign",
                                "--key",
                                key(pair, "cosign.key"),
                                "--tlog-upload=false",
                                "--yes",
                                "--allow-insecure-registry"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back(pinned(repo, digest));
  auto signedImage = run(argv, kToolTimeout);
  ASSERT_EQ(signedImage.exitCode, 0) << signedImage.output;
}

// `cosign3 sign` (v3.1.3, a bundle referrer in the fallback index), offline.
void signV3(const std::string& repo, const std::string& digest, const char* pair,
            std::vector<std::string> extra = {}) {
  std::vector<std::string> argv{"env",
                                fmt::format("COSIGN_PASSWORD={}", kPassword),
                                bench->cosign3,
                                "sign",
                                "--key",
                                key(pair, "cosign.key"),
                                "--use-signing-config=false",
                                "--tlog-upload=false",
                                "--yes",
                                "--allow-insecure-registry"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back(pinned(repo, digest));
  auto signedImage = run(argv, kToolTimeout);
  ASSERT_EQ(signedImage.exitCode, 0) << signedImage.output;
}

// `cosign3 attest --type slsaprovenance1` with the fixtures' SLSA predicate, offline.
void attestV3(const std::string& repo, const std::string& digest, const char* pair) {
  auto attested =
      run({"env", fmt::format("COSIGN_PASSWORD={}", kPassword), bench->cosign3, "attest", "--key",
           key(pair, "cosign.key"), "--type", "slsaprovenance1", "--predicate",
           (sourceDir() / "tests/signing/testdata/cosign/slsa-predicate.json").string(),
           "--use-signing-config=false", "--tlog-upload=false", "--yes",
           "--allow-insecure-registry", pinned(repo, digest)},
          kToolTimeout);
  ASSERT_EQ(attested.exitCode, 0) << attested.output;
}

constexpr const char* kIdentity = "ci@example.com";
constexpr const char* kIssuer = "https://issuer.example.com";

// A private CA as a keyless signer's (docs/cosign-formats.md): EC P-256, and a leaf certifying the
// good key's public half for kIdentity, with the OIDC issuer as Fulcio writes it (.1.1, raw
// bytes, which the .sig paths of both cosigns read; .1.8, a UTF8String, which sigstore-go reads),
// valid for a day (the test's duration, and more). trusted_root.json names the CA for cosign3's
// bundle path. Files in <dir>/ca.
void makeKeylessCa() {
  auto ca = bench->dir / "ca";
  std::filesystem::create_directories(ca);
  std::string issuerHex;
  for (unsigned char c : std::string_view(kIssuer)) {
    issuerHex += fmt::format("{:02x}", c);
  }
  std::ofstream(ca / "leaf.ext") << fmt::format(
      "keyUsage=critical,digitalSignature\n"
      "extendedKeyUsage=codeSigning\n"
      "subjectAltName=critical,email:{}\n"
      "1.3.6.1.4.1.57264.1.1=DER:{}\n"
      "1.3.6.1.4.1.57264.1.8=ASN1:UTF8String:{}\n",
      kIdentity, issuerHex, kIssuer);
  auto made =
      run({"sh", "-ec",
           fmt::format(
               "cd '{}'\n"
               "openssl ecparam -name prime256v1 -genkey -noout -out ca.key\n"
               "openssl req -x509 -new -key ca.key -sha256 -days 1 -subj '/O=MC e2e/CN=MC e2e CA' "
               "-addext basicConstraints=critical,CA:TRUE -addext "
               "keyUsage=critical,keyCertSign,cRLSign "
               "-out ca.crt\n"
               "openssl ecparam -name prime256v1 -genkey -noout -out csr.key\n"
               "openssl req -new -key csr.key -subj '/O=MC e2e' -out leaf.csr\n"
               "openssl x509 -req -in leaf.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 "
               "-sha256 -extfile leaf.ext -force_pubkey '{}' -out leaf.crt\n"
               "openssl x509 -in ca.crt -outform DER | base64 -w0 > ca.der.b64\n",
               ca.string(), key("good", "cosign.pub"))});
  ASSERT_EQ(made.exitCode, 0) << made.output;
  json::object root{
      {"mediaType", "application/vnd.dev.sigstore.trustedroot+json;version=0.1"},
      {"tlogs", json::array{}},
      {"certificateAuthorities",
       json::array{json::object{
           {"subject", {{"organization", "MC e2e"}, {"commonName", "MC e2e CA"}}},
           {"uri", "https://ca.example.com"},
           {"certChain",
            {{"certificates",
              json::array{json::object{{"rawBytes", readAll(ca / "ca.der.b64")}}}}}},
           {"validFor", {{"start", formatTime(std::chrono::system_clock::now() - 1h)}}}}}},
      {"ctlogs", json::array{}},
      {"timestampAuthorities", json::array{}}};
  std::ofstream(ca / "trusted_root.json") << json::serialize(root);
}

// The certificate options of `cosign sign` that make a keyless-style signature offline.
std::vector<std::string> certificateFlags() {
  return {"--certificate", (bench->dir / "ca" / "leaf.crt").string(), "--certificate-chain",
          (bench->dir / "ca" / "ca.crt").string()};
}

Verdict toolVerdict(const CommandResult& result) {
  return {result.exitCode == 0, result.exitCode,
          result.exitCode == 0 ? std::string("verified") : errorLine(result.output)};
}

// Whom a keyless row's policy trusts: the certificate's subject and OIDC issuer, exactly.
struct KeylessIdentity {
  std::string subject;
  std::string issuer;
};

// `cosign verify --key good` of repo@digest with `cosign` (either version), offline; with
// `keyless`, `cosign verify` of a certificate signature instead: the CA as the chain for a `.sig`,
// as trusted_root.json for a bundle (docs/cosign-formats.md), no transparency log, no SCT.
Verdict cosignVerify(const std::string& cosign, const std::string& repo, const std::string& digest,
                     const std::optional<KeylessIdentity>& keyless = std::nullopt,
                     Format format = Format::V2Sig) {
  std::vector<std::string> argv{cosign, "verify"};
  if (!keyless) {
    argv.insert(argv.end(), {"--key", key("good", "cosign.pub")});
  } else if (format == Format::V2Sig) {
    argv.insert(argv.end(), {"--certificate-chain", (bench->dir / "ca" / "ca.crt").string()});
  } else {
    argv.insert(argv.end(), {"--trusted-root", (bench->dir / "ca" / "trusted_root.json").string(),
                             "--allow-certificate-chain"});
  }
  if (keyless) {
    argv.insert(argv.end(),
                {"--certificate-identity", keyless->subject, "--certificate-oidc-issuer",
                 keyless->issuer, "--insecure-ignore-sct=true"});
  }
  argv.insert(argv.end(),
              {"--insecure-ignore-tlog=true", "--allow-insecure-registry", pinned(repo, digest)});
  return toolVerdict(run(argv, kToolTimeout));
}

// MC's verdict on repo@digest under a policy trusting the good key: the whole path the operator
// takes, from the registry to DigestVerdict.
Verdict mcVerify(const std::string& repo, const std::string& digest, signing::TrustPolicy policy) {
  auto ref = signing::ImageReference::parse(pinned(repo, digest));
  if (!ref) {
    return {false, 1, "bad reference: " + ref.error().describe()};
  }
  auto verdict = bench->io.run(bench->verifier->verify(*ref, std::move(policy)));
  if (!verdict) {
    return {false, 2, "error, no verdict: " + verdict.error().describe()};
  }
  return {verdict->verified, verdict->verified ? 0 : 1, verdict->describe(digest)};
}

signing::TrustPolicy keyedPolicy() {
  signing::TrustPolicy policy;
  policy.keys = {*bench->goodKey};
  return policy;
}

// MC's policy for a keyless row: certificates for `identity` chaining to the test's CA (PEM), no
// key, no proof of time (the certificate is judged at the check, as cosign judges it).
signing::TrustPolicy mcKeylessPolicy(const KeylessIdentity& identity, const std::string& caPem) {
  signing::CertificateIdentity trusted;
  trusted.subject = identity.subject;
  trusted.issuer = identity.issuer;
  auto keyless = signing::KeylessTrust::make({trusted}, {caPem}, {}, {});
  EXPECT_TRUE(keyless) << keyless.error().describe();
  signing::TrustPolicy policy;
  if (keyless) {
    policy.keyless = std::move(*keyless);
  }
  return policy;
}

// The registry's API, for what crane has no command for: exact manifest bytes, bare blobs.
std::string registryUrl(const std::string& repo, const std::string& what) {
  return fmt::format("{}/v2/{}/{}", bench->registry->url(), repo, what);
}

json::object getManifest(const std::string& repo, const std::string& reference) {
  auto got =
      http::fetchBlocking(registryUrl(repo, "manifests/" + reference),
                          {.headers = {{"Accept",
                                        "application/vnd.oci.image.index.v1+json, "
                                        "application/vnd.oci.image.manifest.v1+json, "
                                        "application/vnd.docker.distribution.manifest.v2+json"}}});
  EXPECT_TRUE(got) << got.error().describe();
  if (!got) {
    return {};
  }
  EXPECT_EQ(got->status, 200) << reference << ": " << got->body;
  return json::parse(got->body).as_object();
}

// Stores `manifest` at `reference` (a tag, or its own digest); its digest.
std::string putManifest(const std::string& repo, const std::string& reference,
                        const std::string& bytes, const std::string& mediaType) {
  auto put = http::fetchBlocking(
      registryUrl(repo, "manifests/" + reference),
      {.method = "PUT", .headers = {{"Content-Type", mediaType}}, .body = bytes});
  EXPECT_TRUE(put) << put.error().describe();
  if (!put) {
    return "";
  }
  EXPECT_EQ(put->status, 201) << put->body;
  return signing::digestOf(bytes);
}

std::string getBlob(const std::string& repo, const std::string& digest) {
  auto got = http::fetchBlocking(registryUrl(repo, "blobs/" + digest), {});
  EXPECT_TRUE(got) << got.error().describe();
  if (!got) {
    return "";
  }
  EXPECT_EQ(got->status, 200) << got->body;
  return got->body;
}

// A monolithic upload; the blob's digest.
std::string pushBlob(const std::string& repo, const std::string& data) {
  std::string digest = signing::digestOf(data);
  auto opened = http::fetchBlocking(registryUrl(repo, "blobs/uploads/"), {.method = "POST"});
  EXPECT_TRUE(opened) << opened.error().describe();
  if (!opened) {
    return digest;
  }
  EXPECT_EQ(opened->status, 202) << opened->body;
  std::string location = opened->header("Location");
  if (!location.empty() && location.front() == '/') {
    location = bench->registry->url() + location;
  }
  location += (location.find('?') == std::string::npos ? "?digest=" : "&digest=") + digest;
  auto put = http::fetchBlocking(
      location,
      {.method = "PUT", .headers = {{"Content-Type", "application/octet-stream"}}, .body = data});
  EXPECT_TRUE(put) << put.error().describe();
  if (put) {
    EXPECT_EQ(put->status, 201) << put->body;
  }
  return digest;
}

std::string sigTag(const std::string& digest) { return "sha256-" + digest.substr(7) + ".sig"; }
std::string fallbackTag(const std::string& digest) { return "sha256-" + digest.substr(7); }

// `crane tag`: the manifest at repo:`from` also at repo:`to`, byte for byte.
void copyTag(const std::string& repo, const std::string& from, const std::string& to) {
  auto tagged = run({bench->crane, "tag", "--insecure",
                     fmt::format("{}/{}:{}", bench->registry->host(), repo, from), to},
                    kToolTimeout);
  ASSERT_EQ(tagged.exitCode, 0) << tagged.output;
}

// v2: the first layer of digest's `.sig` manifest changed by `edit` (its payload bytes and its
// annotations), the new payload pushed and the manifest rewritten under the same tag.
void editSignatureLayer(
    const std::string& repo, const std::string& digest,
    const std::function<void(std::string& payload, json::object& layer)>& edit) {
  auto manifest = getManifest(repo, sigTag(digest));
  ASSERT_TRUE(manifest.contains("layers"));
  auto& layer = manifest["layers"].as_array().at(0).as_object();
  std::string payload = getBlob(repo, std::string(layer["digest"].as_string()));
  ASSERT_FALSE(payload.empty());
  std::string before = payload;
  edit(payload, layer);
  if (payload != before) {
    layer["digest"] = pushBlob(repo, payload);
    layer["size"] = payload.size();
  }
  putManifest(repo, sigTag(digest), json::serialize(manifest),
              std::string(manifest["mediaType"].as_string()));
}

// v3: the bundle of the (one) referrer in digest's fallback index changed by `edit`, then the
// bundle blob, the referrer manifest (by its new digest) and the index (at its tag) rewritten.
void editBundle(const std::string& repo, const std::string& digest,
                const std::function<void(json::object& bundle)>& edit) {
  auto index = getManifest(repo, fallbackTag(digest));
  ASSERT_TRUE(index.contains("manifests"));
  auto& entries = index["manifests"].as_array();
  ASSERT_EQ(entries.size(), 1u) << json::serialize(index);
  auto& entry = entries[0].as_object();
  auto referrer = getManifest(repo, std::string(entry["digest"].as_string()));
  auto& layer = referrer["layers"].as_array().at(0).as_object();
  auto bundle = json::parse(getBlob(repo, std::string(layer["digest"].as_string()))).as_object();
  edit(bundle);
  std::string bundleBytes = json::serialize(bundle);
  layer["digest"] = pushBlob(repo, bundleBytes);
  layer["size"] = bundleBytes.size();
  std::string referrerBytes = json::serialize(referrer);
  std::string referrerDigest = signing::digestOf(referrerBytes);
  putManifest(repo, referrerDigest, referrerBytes, std::string(referrer["mediaType"].as_string()));
  entry["digest"] = referrerDigest;
  entry["size"] = referrerBytes.size();
  putManifest(repo, fallbackTag(digest), json::serialize(index),
              std::string(index["mediaType"].as_string()));
}

// One row: how its image is made (pushed as repo:a; its digest), what both must conclude.
struct Row {
  std::string name;
  Format format;
  bool expected;
  std::function<void(const std::string& repo, std::string* digest)> make;
  // Set for a keyless row: whom both tools are told to trust, instead of the good key.
  std::optional<KeylessIdentity> keyless;
};

void PrintTo(const Row& row, std::ostream* os) { *os << row.name; }

std::vector<Row> keyedRows() {
  std::vector<Row> rows;
  rows.push_back({"unsigned", Format::V2Sig, false,
                  [](const std::string& repo, std::string* d) { *d = pushImage(repo, "a"); }});

  // v2: cosign v2.6.5's `.sig`.
  rows.push_back({"v2 right key", Format::V2Sig, true, [](const std::string& repo, std::string* d) {
                    *d = pushImage(repo, "a");
                    signV2(repo, *d, "good");
                  }});
  rows.push_back(
      {"v2 wrong key", Format::V2Sig, false, [](const std::string& repo, std::string* d) {
         *d = pushImage(repo, "a");
         signV2(repo, *d, "other");
       }});
  rows.push_back({"v2 another digest's signature", Format::V2Sig, false,
                  [](const std::string& repo, std::string* d) {
                    *d = pushImage(repo, "a");
                    std::string b = pushImage(repo, "b");
                    ASSERT_NO_FATAL_FAILURE(signV2(repo, b, "good"));
                    copyTag(repo, sigTag(b), sigTag(*d));
                  }});
  rows.push_back(
      {"v2 tampered payload", Format::V2Sig, false, [](const std::string& repo, std::string* d) {
         *d = pushImage(repo, "a");
         ASSERT_NO_FATAL_FAILURE(signV2(repo, *d, "good"));
         editSignatureLayer(repo, *d, [](std::string& payload, json::object&) {
           const std::string untouched = R"("optional":null)";
           auto at = payload.find(untouched);
           ASSERT_NE(at, std::string::npos) << payload;
           payload.replace(at, untouched.size(), R"("optional":{"approved-by":"attacker"})");
         });
       }});
  rows.push_back(
      {"v2 truncated signature", Format::V2Sig, false, [](const std::string& repo, std::string* d) {
         *d = pushImage(repo, "a");
         ASSERT_NO_FATAL_FAILURE(signV2(repo, *d, "good"));
         editSignatureLayer(repo, *d, [](std::string&, json::object& layer) {
           auto& annotation =
               layer["annotations"].as_object()["dev.cosignproject.cosign/signature"];
           std::string sig(annotation.as_string());
           annotation = sig.substr(0, sig.size() / 2);
         });
       }});
  rows.push_back({"v2 two signatures, one good", Format::V2Sig, true,
                  [](const std::string& repo, std::string* d) {
                    *d = pushImage(repo, "a");
                    ASSERT_NO_FATAL_FAILURE(signV2(repo, *d, "other"));
                    ASSERT_NO_FATAL_FAILURE(signV2(repo, *d, "good"));
                    auto manifest = getManifest(repo, sigTag(*d));
                    ASSERT_EQ(manifest["layers"].as_array().size(), 2u)
                        << "two signature layers: " << json::serialize(manifest);
                  }});

  // v3: cosign v3.1.3's bundles, referrers listed in the fallback index sha256-<hex>.
  rows.push_back(
      {"v3 right key", Format::V3Bundle, true, [](const std::string& repo, std::string* d) {
         *d = pushImage(repo, "a");
         signV3(repo, *d, "good");
       }});
  rows.push_back(
      {"v3 wrong key", Format::V3Bundle, false, [](const std::string& repo, std::string* d) {
         *d = pushImage(repo, "a");
         signV3(repo, *d, "other");
       }});
  // B's fallback index (listing B's referrer, whose bundle's statement names B) as A's.
  rows.push_back({"v3 another digest's bundle", Format::V3Bundle, false,
                  [](const std::string& repo, std::string* d) {
                    *d = pushImage(repo, "a");
                    std::string b = pushImage(repo, "b");
                    ASSERT_NO_FATAL_FAILURE(signV3(repo, b, "good"));
                    copyTag(repo, fallbackTag(b), fallbackTag(*d));
                  }});
  rows.push_back(
      {"v3 tampered DSSE payload", Format::V3Bundle, false,
       [](const std::string& repo, std::string* d) {
         *d = pushImage(repo, "a");
         ASSERT_NO_FATAL_FAILURE(signV3(repo, *d, "good"));
         editBundle(repo, *d, [](json::object& bundle) {
           auto& envelope = bundle["dsseEnvelope"].as_object();
           auto statement = kube::base64Decode(std::string(envelope["payload"].as_string()));
           ASSERT_TRUE(statement);
           const std::string untouched = R"("predicate":{})";
           auto at = statement->find(untouched);
           ASSERT_NE(at, std::string::npos) << *statement;
           statement->replace(at, untouched.size(), R"("predicate":{"approved-by":"attacker"})");
           envelope["payload"] = kube::base64Encode(*statement);
         });
       }});
  rows.push_back(
      {"v3 truncated signature", Format::V3Bundle, false,
       [](const std::string& repo, std::string* d) {
         *d = pushImage(repo, "a");
         ASSERT_NO_FATAL_FAILURE(signV3(repo, *d, "good"));
         editBundle(repo, *d, [](json::object& bundle) {
           auto& signature =
               bundle["dsseEnvelope"].as_object()["signatures"].as_array().at(0).as_object()["sig"];
           std::string sig(signature.as_string());
           signature = sig.substr(0, sig.size() / 2);
         });
       }});
  rows.push_back({"v3 two bundles, one good", Format::V3Bundle, true,
                  [](const std::string& repo, std::string* d) {
                    *d = pushImage(repo, "a");
                    ASSERT_NO_FATAL_FAILURE(signV3(repo, *d, "other"));
                    ASSERT_NO_FATAL_FAILURE(signV3(repo, *d, "good"));
                    auto index = getManifest(repo, fallbackTag(*d));
                    ASSERT_EQ(index["manifests"].as_array().size(), 2u)
                        << "two referrers: " << json::serialize(index);
                  }});
  return rows;
}

// Keyless-style rows: the good key's signature with a certificate from the test's CA for
// kIdentity, issued by kIssuer; the policy names the right identity, another one, or the right one
// with another issuer.
std::vector<Row> keylessRows() {
  const KeylessIdentity right{kIdentity, kIssuer};
  const KeylessIdentity wrongSubject{"other@example.com", kIssuer};
  const KeylessIdentity wrongIssuer{kIdentity, "https://wrong.example.com"};
  auto v2 = [](const std::string& repo, std::string* d) {
    *d = pushImage(repo, "a");
    signV2(repo, *d, "good", certificateFlags());
  };
  auto v3 = [](const std::string& repo, std::string* d) {
    *d = pushImage(repo, "a");
    signV3(repo, *d, "good", certificateFlags());
  };
  return {
      {"v2 keyless right identity", Format::V2Sig, true, v2, right},
      {"v2 keyless wrong identity", Format::V2Sig, false, v2, wrongSubject},
      {"v2 keyless right identity wrong issuer", Format::V2Sig, false, v2, wrongIssuer},
      {"v3 keyless right identity", Format::V3Bundle, true, v3, right},
      {"v3 keyless wrong identity", Format::V3Bundle, false, v3, wrongSubject},
      {"v3 keyless right identity wrong issuer", Format::V3Bundle, false, v3, wrongIssuer},
  };
}

// "v2 right key" → "v2-right-key": a repository of its own for each row.
std::string slug(const std::string& name, char separator) {
  std::string out;
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (!out.empty() && out.back() != separator) {
      out += separator;
    }
  }
  while (!out.empty() && out.back() == separator) {
    out.pop_back();
  }
  return out;
}

class CosignDifferentialTest : public ::testing::TestWithParam<Row> {
 protected:
  void SetUp() override { ASSERT_TRUE(bench != nullptr && bench->ready) << "no bench"; }
};

TEST_P(CosignDifferentialTest, McAgreesWithCosign) {
  const Row& row = GetParam();
  const std::string repo = "differential/" + slug(row.name, '-');
  std::string digest;
  ASSERT_NO_FATAL_FAILURE(row.make(repo, &digest));
  ASSERT_EQ(digest.rfind("sha256:", 0), 0u) << digest;

  RowResult result{row.name, row.format, row.expected, {}, std::nullopt, {}};
  result.cosign3 = cosignVerify(bench->cosign3, repo, digest, row.keyless, row.format);
  if (row.format == Format::V2Sig) {
    result.cosign2 = cosignVerify(bench->cosign, repo, digest, row.keyless, row.format);
  }
  result.mc =
      mcVerify(repo, digest,
               row.keyless ? mcKeylessPolicy(*row.keyless, readAll(bench->dir / "ca" / "ca.crt"))
                           : keyedPolicy());
  bench->results.push_back(result);

  EXPECT_EQ(result.cosign3.verified, row.expected)
      << "cosign3 (exit " << result.cosign3.exitCode << "): " << result.cosign3.reason;
  EXPECT_EQ(result.mc.verified, result.cosign3.verified)
      << "MC: " << result.mc.reason << "\ncosign3 (exit " << result.cosign3.exitCode
      << "): " << result.cosign3.reason;
  EXPECT_NE(result.mc.exitCode, 2) << "MC read the registry: " << result.mc.reason;
}

INSTANTIATE_TEST_SUITE_P(Keyed, CosignDifferentialTest, ::testing::ValuesIn(keyedRows()),
                         [](const auto& info) { return slug(info.param.name, '_'); });
INSTANTIATE_TEST_SUITE_P(Keyless, CosignDifferentialTest, ::testing::ValuesIn(keylessRows()),
                         [](const auto& info) { return slug(info.param.name, '_'); });

// A known, deliberate difference, so not a row of the table: cosign v3's `verify` counts any
// bundle whose statement names the digest as a signature, an attestation too (here SLSA
// provenance, and nothing signed with `cosign sign`); MC counts only cosign's signature statement
// (predicate type https://sigstore.dev/cosign/sign/v1) as a signature, so a provenance
// attestation alone does not let an image run, whatever it was meant to vouch for.
TEST(CosignDifferentialDocumented, AnAttestationAloneIsASignatureToCosign3ButNotToMc) {
  ASSERT_TRUE(bench != nullptr && bench->ready);
  const std::string repo = "differential/attestation-only";
  std::string digest = pushImage(repo, "a");
  ASSERT_NO_FATAL_FAILURE(attestV3(repo, digest, "good"));

  auto cosign3 = cosignVerify(bench->cosign3, repo, digest);
  EXPECT_TRUE(cosign3.verified) << "cosign3 (exit " << cosign3.exitCode << "): " << cosign3.reason;
  auto mc = mcVerify(repo, digest, keyedPolicy());
  EXPECT_FALSE(mc.verified) << mc.reason;
  EXPECT_EQ(mc.exitCode, 1) << "a verdict, not an error: " << mc.reason;
  std::cout << fmt::format(
      "attestation-only bundle (documented difference): cosign3 {} (exit {}); MC {}: {}\n",
      word(cosign3.verified), cosign3.exitCode, word(mc.verified), mc.reason);

  // With provenance required, the same attestation is what MC asks for, and the signature is
  // still missing.
  auto policy = keyedPolicy();
  policy.attestations = {"https://slsa.dev/provenance/v1"};
  auto required = mcVerify(repo, digest, policy);
  EXPECT_FALSE(required.verified) << required.reason;
}

}  // namespace
}  // namespace mc::e2e
