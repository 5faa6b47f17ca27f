#include "mc/signing/certificate.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "mc/common/timefmt.h"
#include "mc/runtime/secret.h"
#include "mc/signing/digest.h"
#include "test_keys.h"

namespace mc::signing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using Clock = std::chrono::system_clock;
using std::chrono::minutes;
using std::chrono::seconds;

Clock::time_point at(std::string_view rfc3339) { return parseTime(rfc3339).value(); }

// When the leaf signed: Fulcio's leaves live ten minutes from here.
const Clock::time_point kSigned = at("2026-03-01T10:00:00Z");
constexpr const char* kEmail = "ci@example.com";
constexpr const char* kIssuer = "https://issuer.example";

CertSpec caSpec(std::string name) {
  CertSpec spec;
  spec.commonName = std::move(name);
  spec.ca = true;
  spec.notBefore = at("2025-01-01T00:00:00Z");
  spec.notAfter = at("2035-01-01T00:00:00Z");
  return spec;
}

CertSpec leafSpec() {
  CertSpec spec;
  spec.subjectAltNames = {std::string("email:") + kEmail};
  spec.extensions = {{kOidIssuerV2, derUtf8String(kIssuer)}};
  spec.notBefore = kSigned - minutes(1);
  spec.notAfter = kSigned + minutes(9);
  return spec;
}

// A Fulcio-like hierarchy, made once: a root, an intermediate under it (with codeSigning, as
// Fulcio's has), and a leaf for ci@example.com under the intermediate.
struct Pki {
  TestCert root = issueCertificate(caSpec("test root"));
  TestCert intermediate = issueCertificate(caSpec("test intermediate"), &root);
  TestCert leaf = issueCertificate(leafSpec(), &intermediate);
};

const Pki& pki() {
  static const Pki pki;
  return pki;
}

Certificate parse(const TestCert& cert) { return Certificate::fromDer(cert.der()).value(); }

Certificate leafWith(const CertSpec& spec) { return parse(issueCertificate(spec, &pki().root)); }

// PEM armour around DER, 64 characters a line.
std::string pemOf(std::string_view type, std::string_view der) {
  auto base64 = kube::base64Encode(der);
  std::string out = "-----BEGIN " + std::string(type) + "-----\n";
  for (size_t i = 0; i < base64.size(); i += 64) {
    out += base64.substr(i, 64) + "\n";
  }
  return out + "-----END " + std::string(type) + "-----\n";
}

TEST(Certificate, ReadsPemAndDerAlike) {
  const auto& leaf = pki().leaf;
  auto fromDer = Certificate::fromDer(leaf.der());
  ASSERT_TRUE(fromDer) << fromDer.error().message;
  auto fromPem = Certificate::fromPem("issued by the test CA\n" + leaf.pem());
  ASSERT_TRUE(fromPem) << fromPem.error().message;
  EXPECT_EQ(fromDer->fingerprint(), digestOf(leaf.der()));
  EXPECT_EQ(fromPem->fingerprint(), fromDer->fingerprint());
  EXPECT_EQ(fromPem->der(), leaf.der());
  // Only the first block counts.
  auto first = Certificate::fromPem(pki().root.pem() + leaf.pem());
  ASSERT_TRUE(first);
  EXPECT_EQ(first->subjectName(), "CN=test root");
}

TEST(Certificate, RefusesWhatIsNotACertificate) {
  const auto der = pki().leaf.der();
  const auto pem = pki().leaf.pem();
  const std::vector<std::pair<std::string, std::string>> cases{
      {"", "empty"},
      {"hello, not DER", "not a well-formed DER"},
      {der.substr(0, der.size() / 2), "not a well-formed DER"},
      {der + "x", "1 bytes after the DER certificate"},
  };
  for (const auto& [input, problem] : cases) {
    auto cert = Certificate::fromDer(input);
    ASSERT_FALSE(cert) << problem;
    EXPECT_EQ(cert.error().kind, ErrorKind::Invalid) << problem;
    EXPECT_THAT(cert.error().message, HasSubstr(problem));
  }
  const std::vector<std::pair<std::string, std::string>> pemCases{
      {"just some text\n", "no PEM block found"},
      {generate("EC", "P-256").publicPem(), "of type \"PUBLIC KEY\"; want \"CERTIFICATE\""},
      {pem.substr(0, pem.find("-----END")), "PEM block 1 is malformed"},
      {pemOf("CERTIFICATE", "not DER at all"), "not a well-formed DER"},
      {pemOf("CERTIFICATE", der.substr(0, 100)), "not a well-formed DER"},
  };
  for (const auto& [input, problem] : pemCases) {
    auto cert = Certificate::fromPem(input);
    ASSERT_FALSE(cert) << problem;
    EXPECT_EQ(cert.error().kind, ErrorKind::Invalid) << problem;
    EXPECT_THAT(cert.error().message, HasSubstr(problem));
  }
}

TEST(Certificate, AllFromPemReadsAChainInOrder) {
  auto chain =
      Certificate::allFromPem(pki().intermediate.pem() + "\n# the root\n" + pki().root.pem());
  ASSERT_TRUE(chain) << chain.error().message;
  ASSERT_EQ(chain->size(), 2u);
  EXPECT_EQ((*chain)[0].subjectName(), "CN=test intermediate");
  EXPECT_EQ((*chain)[1].subjectName(), "CN=test root");

  auto none = Certificate::allFromPem("no blocks here");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().kind, ErrorKind::Invalid);

  auto badSecond =
      Certificate::allFromPem(pki().intermediate.pem() + pemOf("CERTIFICATE", "garbage"));
  ASSERT_FALSE(badSecond);
  EXPECT_EQ(badSecond.error().kind, ErrorKind::Invalid);
  EXPECT_THAT(badSecond.error().message, HasSubstr("PEM block 2"));

  auto withKey = Certificate::allFromPem(pki().root.pem() + generate("EC", "P-256").publicPem());
  ASSERT_FALSE(withKey);
  EXPECT_THAT(withKey.error().message, HasSubstr("PEM block 2 is of type \"PUBLIC KEY\""));
}

TEST(Certificate, ReadsTheValidityWindow) {
  auto leaf = parse(pki().leaf);
  EXPECT_EQ(leaf.notBefore(), kSigned - minutes(1));
  EXPECT_EQ(leaf.notAfter(), kSigned + minutes(9));
  auto root = parse(pki().root);
  EXPECT_EQ(root.notAfter(), at("2035-01-01T00:00:00Z"));
}

TEST(Certificate, SubjectsAreEverySanInSigstoresOrder) {
  auto spec = leafSpec();
  spec.subjectAltNames = {"URI:https://github.com/acme/app/.github/workflows/release.yml@main",
                          "email:ci@example.com",
                          "DNS:build.example",
                          "IP:192.0.2.7",
                          "email:second@example.com",
                          "otherName:1.3.6.1.4.1.57264.1.7;UTF8:octocat"};
  auto cert = leafWith(spec);
  EXPECT_THAT(cert.emails(), ElementsAre("ci@example.com", "second@example.com"));
  EXPECT_THAT(cert.uris(),
              ElementsAre("https://github.com/acme/app/.github/workflows/release.yml@main"));
  // cryptoutils.GetSubjectAlternateNames: DNS, emails, IPs, URIs, then the OtherName.
  EXPECT_THAT(
      cert.subjects(),
      ElementsAre("build.example", "ci@example.com", "second@example.com", "192.0.2.7",
                  "https://github.com/acme/app/.github/workflows/release.yml@main", "octocat"));
}

TEST(Certificate, IpAddressesReadAsGoPrintsThem) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"IP:10.1.2.3", "10.1.2.3"},
      {"IP:2001:db8:0:0:0:0:0:1", "2001:db8::1"},
      {"IP:2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},     // the first of two equal runs
      {"IP:2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},  // one zero group stays
      {"IP:0:0:0:0:0:0:0:1", "::1"},
      {"IP:::ffff:10.0.0.1", "10.0.0.1"},  // IPv4-mapped: Go's To4 prints it dotted
      {"IP:FE80:0:0:0:0:0:0:0", "fe80::"},
  };
  for (const auto& [san, expected] : cases) {
    auto spec = leafSpec();
    spec.subjectAltNames = {san};
    EXPECT_THAT(leafWith(spec).subjects(), ElementsAre(expected)) << san;
  }
}

TEST(Certificate, FulciosOtherNameCountsOnlyWhenItIsTheOnlyOne) {
  auto spec = leafSpec();
  spec.subjectAltNames = {"otherName:1.3.6.1.4.1.57264.1.7;UTF8:octocat",
                          "otherName:1.3.6.1.4.1.57264.1.7;UTF8:hubot"};
  EXPECT_THAT(leafWith(spec).subjects(), IsEmpty());
  spec.subjectAltNames = {"otherName:1.2.3.4;UTF8:someone"};
  EXPECT_THAT(leafWith(spec).subjects(), IsEmpty());
}

TEST(Certificate, IssuerFromEitherExtensionAndV2Wins) {
  auto spec = leafSpec();
  spec.extensions = {{kOidIssuerV2, derUtf8String("https://v2.example")}};
  EXPECT_EQ(leafWith(spec).oidcIssuer(), "https://v2.example");

  // The deprecated extension's value is the URL's bytes themselves.
  spec.extensions = {{kOidIssuerV1, "https://v1.example"}};
  EXPECT_EQ(leafWith(spec).oidcIssuer(), "https://v1.example");

  for (bool v1First : {true, false}) {
    spec.extensions = {{kOidIssuerV1, "https://v1.example"},
                       {kOidIssuerV2, derUtf8String("https://v2.example")}};
    if (!v1First) {
      std::swap(spec.extensions[0], spec.extensions[1]);
    }
    EXPECT_EQ(leafWith(spec).oidcIssuer(), "https://v2.example") << v1First;
  }

  spec.extensions.clear();
  EXPECT_EQ(leafWith(spec).oidcIssuer(), "");
}

TEST(Certificate, AMalformedV2IssuerIsInvalidNotReadAsV1) {
  auto spec = leafSpec();
  // The URL's bytes, not DER-wrapped: a v1 value under the v2 OID.
  spec.extensions = {{kOidIssuerV1, "https://v1.example"}, {kOidIssuerV2, "https://v2.example"}};
  auto cert = Certificate::fromDer(issueCertificate(spec, &pki().root).der());
  ASSERT_FALSE(cert);
  EXPECT_EQ(cert.error().kind, ErrorKind::Invalid);
  EXPECT_THAT(cert.error().message, HasSubstr("1.3.6.1.4.1.57264.1.8"));
  EXPECT_THAT(cert.error().message, HasSubstr("not a DER string"));
}

TEST(Certificate, CodeSigningUsage) {
  EXPECT_TRUE(parse(pki().leaf).hasCodeSigningUsage());
  auto spec = leafSpec();
  spec.extendedKeyUsages = {"serverAuth", "clientAuth"};
  EXPECT_FALSE(leafWith(spec).hasCodeSigningUsage());
  spec.extendedKeyUsages.clear();
  EXPECT_FALSE(leafWith(spec).hasCodeSigningUsage());
  spec.extendedKeyUsages = {"serverAuth", "codeSigning"};
  EXPECT_TRUE(leafWith(spec).hasCodeSigningUsage());
}

TEST(Certificate, DescribesItselfForMessages) {
  auto leaf = parse(pki().leaf);
  EXPECT_EQ(leaf.describe(), "certificate for ci@example.com issued by https://issuer.example (" +
                                 digestOf(pki().leaf.der()) + ")");
  EXPECT_THAT(parse(pki().root).describe(), HasSubstr("certificate \"CN=test root\" (sha256:"));
}

TEST(Certificate, ItsKeyVerifiesWhatItsPrivateKeySigned) {
  auto leaf = parse(pki().leaf);
  auto key = leaf.publicKey();
  ASSERT_TRUE(key) << key.error().message;
  EXPECT_EQ(key->algorithm(), KeyAlgorithm::EcdsaP256);
  EXPECT_EQ(key->fingerprint(), digestOf(pki().leaf.key.publicDer()));
  EXPECT_THAT(key->describe(), HasSubstr("certificate for ci@example.com"));
  std::string payload = "a payload";
  EXPECT_TRUE(key->verifyBytes(payload, pki().leaf.key.sign(payload, EVP_sha256())));
  EXPECT_FALSE(key->verifyBytes(payload, pki().root.key.sign(payload, EVP_sha256())));
}

// --- verifyChain

Result<void> check(const TestCert& leaf, const std::vector<const TestCert*>& intermediates,
                   const std::vector<const TestCert*>& roots, Clock::time_point when = kSigned) {
  std::vector<Certificate> untrusted;
  for (const auto* cert : intermediates) {
    untrusted.push_back(parse(*cert));
  }
  std::vector<Certificate> trusted;
  for (const auto* cert : roots) {
    trusted.push_back(parse(*cert));
  }
  return verifyChain(parse(leaf), untrusted, trusted, when);
}

void expectRefused(const Result<void>& result, const std::string& words) {
  ASSERT_FALSE(result) << "expected a refusal with: " << words;
  EXPECT_EQ(result.error().kind, ErrorKind::Terminal);
  EXPECT_THAT(result.error().message, HasSubstr(words));
}

TEST(VerifyChain, LeafUnderTheRootDirectly) {
  auto leaf = issueCertificate(leafSpec(), &pki().root);
  auto result = check(leaf, {}, {&pki().root});
  EXPECT_TRUE(result) << result.error().message;
}

TEST(VerifyChain, ThroughAnUntrustedIntermediate) {
  const auto& p = pki();
  auto result = check(p.leaf, {&p.intermediate}, {&p.root});
  EXPECT_TRUE(result) << result.error().message;

  auto missing = check(p.leaf, {}, {&p.root});
  expectRefused(missing, "does not chain to a trusted root: unable to get local issuer");
  EXPECT_THAT(missing.error().message, HasSubstr("issued by \"CN=test intermediate\""));
  EXPECT_THAT(missing.error().message, HasSubstr("certificate for ci@example.com"));
}

TEST(VerifyChain, AnIntermediateIsNeverTrustedForBeingGiven) {
  // The intermediate alone, as an untrusted certificate, vouches for nothing.
  const auto& p = pki();
  auto otherRoot = issueCertificate(caSpec("another root"));
  expectRefused(check(p.leaf, {&p.intermediate}, {&otherRoot}), "does not chain to a trusted root");
  expectRefused(check(p.leaf, {&p.intermediate, &p.root}, {&otherRoot}),
                "does not chain to a trusted root");
}

TEST(VerifyChain, ARootOfTheSameNameButAnotherKeyIsNotTheRoot) {
  const auto& p = pki();
  auto impostor = issueCertificate(caSpec("test root"));
  expectRefused(check(p.leaf, {&p.intermediate}, {&impostor}), "does not chain to a trusted root");
}

TEST(VerifyChain, AnyTrustedCertificateIsAnAnchorAsInGo) {
  // A policy may pin Fulcio's intermediate itself (X509_V_FLAG_PARTIAL_CHAIN).
  const auto& p = pki();
  auto result = check(p.leaf, {}, {&p.intermediate});
  EXPECT_TRUE(result) << result.error().message;
}

TEST(VerifyChain, EveryCertificateMustBeValidAtTheSigningTime) {
  const auto& p = pki();
  auto notAfter = kSigned + minutes(9);
  // A leaf that expired minutes after it signed passes at the signing time.
  EXPECT_TRUE(check(p.leaf, {&p.intermediate}, {&p.root}, kSigned));
  // Both ends are inclusive, as RFC 5280 and Go have them.
  EXPECT_TRUE(check(p.leaf, {&p.intermediate}, {&p.root}, notAfter));
  EXPECT_TRUE(check(p.leaf, {&p.intermediate}, {&p.root}, kSigned - minutes(1)));

  auto late = check(p.leaf, {&p.intermediate}, {&p.root}, notAfter + seconds(1));
  expectRefused(late, "certificate for ci@example.com");
  EXPECT_THAT(late.error().message,
              HasSubstr("expired at 2026-03-01T10:09:00Z, before the signing time "
                        "2026-03-01T10:09:01Z"));
  expectRefused(
      check(p.leaf, {&p.intermediate}, {&p.root}, notAfter + std::chrono::milliseconds(1)),
      "expired at 2026-03-01T10:09:00Z");

  auto early = check(p.leaf, {&p.intermediate}, {&p.root}, kSigned - minutes(2));
  expectRefused(early, "was not yet valid at the signing time 2026-03-01T09:58:00Z");
  EXPECT_THAT(early.error().message, HasSubstr("valid from 2026-03-01T09:59:00Z"));
}

TEST(VerifyChain, AnExpiredIntermediateOrRootIsNamed) {
  const auto& p = pki();
  auto spec = caSpec("short intermediate");
  spec.notAfter = kSigned - minutes(30);
  auto intermediate = issueCertificate(spec, &p.root);
  auto leaf = issueCertificate(leafSpec(), &intermediate);
  expectRefused(check(leaf, {&intermediate}, {&p.root}),
                "intermediate certificate \"CN=short intermediate\" expired at");

  auto rootSpec = caSpec("old root");
  rootSpec.notAfter = kSigned - minutes(30);
  auto oldRoot = issueCertificate(rootSpec);
  auto underOld = issueCertificate(leafSpec(), &oldRoot);
  expectRefused(check(underOld, {}, {&oldRoot}),
                "trusted root certificate \"CN=old root\" expired at");
}

TEST(VerifyChain, TheLeafMustBeForCodeSigning) {
  auto spec = leafSpec();
  spec.extendedKeyUsages = {"serverAuth"};
  auto server = issueCertificate(spec, &pki().root);
  expectRefused(check(server, {}, {&pki().root}),
                "is not for code signing: its extended key usage lists [serverAuth]");

  spec.extendedKeyUsages.clear();
  auto none = issueCertificate(spec, &pki().root);
  expectRefused(check(none, {}, {&pki().root}), "it has no extended key usage");
}

TEST(VerifyChain, ACaThatRestrictsUsagesMustAllowCodeSigning) {
  auto spec = caSpec("tls intermediate");
  spec.extendedKeyUsages = {"serverAuth"};
  auto tls = issueCertificate(spec, &pki().root);
  auto leaf = issueCertificate(leafSpec(), &tls);
  expectRefused(check(leaf, {&tls}, {&pki().root}),
                "intermediate certificate \"CN=tls intermediate\" above it restricts");

  spec.extendedKeyUsages.clear();  // no extension: no restriction
  auto open = issueCertificate(spec, &pki().root);
  auto underOpen = issueCertificate(leafSpec(), &open);
  auto result = check(underOpen, {&open}, {&pki().root});
  EXPECT_TRUE(result) << result.error().message;
}

TEST(VerifyChain, AForgedSignatureOrANonCaIssuerIsRefused) {
  const auto& p = pki();
  auto stranger = generate("EC", "P-256");
  auto forged = issueCertificate(leafSpec(), &p.intermediate, &stranger);
  expectRefused(check(forged, {&p.intermediate}, {&p.root}), "does not chain to a trusted root");

  auto notCa = issueCertificate(leafSpec(), &p.root);  // CA:FALSE
  auto underNotCa = issueCertificate(leafSpec(), &notCa);
  expectRefused(check(underNotCa, {&notCa}, {&p.root}), "does not chain to a trusted root");
}

TEST(VerifyChain, NoRootsIsAnInvalidPolicyNotAVerdict) {
  auto result = verifyChain(parse(pki().leaf), {}, {}, kSigned);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::Invalid);
  EXPECT_THAT(result.error().message, HasSubstr("no trusted root"));
}

// --- identities

CertificateIdentity exactly(std::string subject, std::string issuer) {
  CertificateIdentity identity;
  identity.subject = std::move(subject);
  identity.issuer = std::move(issuer);
  return identity;
}

CertificateIdentity matching(std::string subject, std::string issuer) {
  CertificateIdentity identity;
  identity.subjectRegExp = std::move(subject);
  identity.issuerRegExp = std::move(issuer);
  return identity;
}

Certificate workflowLeaf(std::string uri) {
  auto spec = leafSpec();
  spec.subjectAltNames = {"URI:" + uri};
  spec.extensions = {{kOidIssuerV2, derUtf8String("https://token.actions.githubusercontent.com")}};
  return leafWith(spec);
}

TEST(MatchIdentity, ExactSubjectAndIssuer) {
  auto leaf = parse(pki().leaf);
  EXPECT_TRUE(matchIdentity(leaf, exactly(kEmail, kIssuer)));

  auto subject = matchIdentity(leaf, exactly("x@y", kIssuer));
  expectRefused(subject,
                "the certificate's subjects [ci@example.com] do not match subject \"x@y\"");
  EXPECT_THAT(subject.error().message, Not(HasSubstr("issuer https")));

  expectRefused(matchIdentity(leaf, exactly(kEmail, "https://other.example")),
                "the certificate's issuer https://issuer.example is not https://other.example");
  // No prefix, case or trailing-slash leeway in an exact rule.
  expectRefused(matchIdentity(leaf, exactly("CI@example.com", kIssuer)), "do not match subject");
  expectRefused(matchIdentity(leaf, exactly(kEmail, "https://issuer.example/")), "is not");
}

TEST(MatchIdentity, BothSidesAreReportedWhenBothDiffer) {
  auto result = matchIdentity(parse(pki().leaf), exactly("x@y", "https://b"));
  expectRefused(result, "do not match subject \"x@y\"");
  EXPECT_THAT(result.error().message, HasSubstr("issuer https://issuer.example is not https://b"));
}

TEST(MatchIdentity, AnySubjectOfTheCertificateMatches) {
  auto spec = leafSpec();
  spec.subjectAltNames = {"email:first@example.com", "URI:https://ci.example/job"};
  auto cert = leafWith(spec);
  EXPECT_TRUE(matchIdentity(cert, exactly("https://ci.example/job", kIssuer)));
  EXPECT_TRUE(matchIdentity(cert, exactly("first@example.com", kIssuer)));
}

TEST(MatchIdentity, RegExpsSearchUnanchoredAsGosMatchString) {
  auto leaf = workflowLeaf("https://github.com/acme/app/.github/workflows/release.yml@main");
  const std::string issuer = "^https://token\\.actions\\.githubusercontent\\.com$";
  EXPECT_TRUE(matchIdentity(
      leaf, matching("^https://github\\.com/acme/app/\\.github/workflows/.*@main$", issuer)));
  // Unanchored, a pattern matches anywhere, as in cosign: anchor it to mean the whole subject.
  EXPECT_TRUE(matchIdentity(leaf, matching("acme", issuer)));
  EXPECT_TRUE(matchIdentity(leaf, matching("release\\.yml", "githubusercontent")));
  expectRefused(matchIdentity(leaf, matching("^acme", issuer)),
                "do not match subjectRegExp \"^acme\"");

  auto evil = workflowLeaf("https://github.com/acme-evil/app/.github/workflows/x.yml@main");
  EXPECT_TRUE(matchIdentity(evil, matching("github\\.com/acme", issuer)));
  EXPECT_FALSE(matchIdentity(evil, matching("^https://github\\.com/acme/", issuer)));

  expectRefused(matchIdentity(leaf, matching("acme", "^https://accounts\\.google\\.com$")),
                "issuer https://token.actions.githubusercontent.com does not match issuerRegExp");
}

TEST(MatchIdentity, ACertificateWithoutAnIssuerMatchesNoIssuerRule) {
  auto spec = leafSpec();
  spec.extensions.clear();
  auto cert = leafWith(spec);
  expectRefused(matchIdentity(cert, exactly(kEmail, kIssuer)),
                "the certificate names no OIDC issuer");
  expectRefused(matchIdentity(cert, matching("ci@", "^https://")), "names no OIDC issuer");
  // ".*" matches the empty issuer, as Go's MatchString does: such a rule accepts any issuer.
  EXPECT_TRUE(matchIdentity(cert, matching("ci@", ".*")));
}

TEST(MatchIdentity, BothRulesAreRequiredAndOneOfEachKind) {
  auto leaf = parse(pki().leaf);
  struct Case {
    CertificateIdentity identity;
    std::string field;
    std::string words;
  };
  CertificateIdentity both = exactly(kEmail, kIssuer);
  both.subjectRegExp = "ci@";
  std::vector<Case> cases{
      {exactly("", kIssuer), "subject", "give subject or subjectRegExp"},
      {exactly(kEmail, ""), "issuer", "give issuer or issuerRegExp"},
      {CertificateIdentity{}, "subject", "cosign requires both"},
      {both, "subjectRegExp", "not both"},
  };
  for (const auto& c : cases) {
    auto valid = validateIdentity(c.identity);
    ASSERT_FALSE(valid) << c.words;
    EXPECT_EQ(valid.error().kind, ErrorKind::Invalid);
    EXPECT_EQ(valid.error().field, c.field);
    EXPECT_THAT(valid.error().message, HasSubstr(c.words));
    auto match = matchIdentity(leaf, c.identity);
    ASSERT_FALSE(match);
    EXPECT_EQ(match.error().kind, ErrorKind::Invalid);
  }
  EXPECT_TRUE(validateIdentity(exactly(kEmail, kIssuer)));
  EXPECT_TRUE(validateIdentity(matching("^ci@", "^https://")));
}

TEST(MatchIdentity, ABadRegExpIsInvalidNamingItsField) {
  auto invalid = validateIdentity(matching("ci@(example", "^https://"), "spec.identities[1]");
  ASSERT_FALSE(invalid);
  EXPECT_EQ(invalid.error().kind, ErrorKind::Invalid);
  EXPECT_EQ(invalid.error().field, "spec.identities[1].subjectRegExp");
  EXPECT_THAT(invalid.error().message, HasSubstr("not a valid regular expression"));

  auto issuer = validateIdentity(matching("^ci@", "[a-"));
  ASSERT_FALSE(issuer);
  EXPECT_EQ(issuer.error().field, "issuerRegExp");

  auto match = matchIdentity(parse(pki().leaf), matching("ci@(example", "^https://"));
  ASSERT_FALSE(match);
  EXPECT_EQ(match.error().kind, ErrorKind::Invalid);
}

TEST(MatchIdentity, SyntaxGoAndEcmaScriptReadDifferentlyIsRefused) {
  for (std::string pattern : {"(?i)ci@example", "^ci@example\\.com\\z", "\\Aci@", "(?P<u>ci)@",
                              "(?=ci)ci@", "\\pL+@", "(ci)\\1"}) {
    auto result = validateIdentity(matching(pattern, "^https://"));
    ASSERT_FALSE(result) << pattern;
    EXPECT_EQ(result.error().kind, ErrorKind::Invalid) << pattern;
    EXPECT_EQ(result.error().field, "subjectRegExp") << pattern;
    EXPECT_THAT(result.error().message, HasSubstr("not supported")) << pattern;
  }
  // What both read alike is kept.
  for (std::string pattern : {"^ci@example\\.com$", "(?:ci|cd)@\\w+\\.com", "^[a-z]+@\\S+$",
                              "\\d{0,3}ci@", "ci@example\\x2ecom"}) {
    auto valid = validateIdentity(matching(pattern, "^https://"));
    EXPECT_TRUE(valid) << pattern << ": " << valid.error().message;
    EXPECT_TRUE(matchIdentity(parse(pki().leaf), matching(pattern, "^https://"))) << pattern;
  }
}

TEST(MatchIdentity, DescribesTheRules) {
  EXPECT_EQ(exactly(kEmail, kIssuer).describe(),
            "subject \"ci@example.com\" with issuer \"https://issuer.example\"");
  EXPECT_EQ(matching("^ci@", "^https://").describe(),
            "subject matching /^ci@/ with issuer matching /^https:///");
}

}  // namespace
}  // namespace mc::signing
