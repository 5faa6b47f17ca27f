#include "mc/signing/dsse.h"

#include <fmt/format.h>

#include <algorithm>

#include "go_json.h"
#include "mc/runtime/secret.h"
#include "mc/signing/digest.h"

namespace mc::signing {
namespace {

namespace json = boost::json;

constexpr std::string_view kStatementV01 = "https://in-toto.io/Statement/v0.1";
constexpr std::string_view kStatementV1 = "https://in-toto.io/Statement/v1";

Result<std::string> base64Member(const json::object& object, std::string_view key,
                                 const std::string& field) {
  auto text = gojson::stringMember(object, key, field);
  if (!text) {
    return text.error();
  }
  auto decoded = decodeBase64Lenient(*text);
  if (!decoded) {
    return fieldError(field, "is not base64");
  }
  return std::move(*decoded);
}

Result<StatementSubject> readSubject(const json::value& value, const std::string& field) {
  if (!value.is_object()) {
    return fieldError(field, "must be an object");
  }
  StatementSubject subject;
  auto name = gojson::stringMember(value.get_object(), "name", field + ".name");
  if (!name) {
    return name.error();
  }
  subject.name = std::move(*name);
  auto digests = gojson::member(value.get_object(), "digest", field + ".digest");
  if (!digests) {
    return digests.error();
  }
  if (*digests == nullptr || !(*digests)->is_object()) {
    return fieldError(field + ".digest", "must be a map of algorithm to hex digest");
  }
  for (const auto& entry : (*digests)->get_object()) {
    if (!entry.value().is_string()) {
      return fieldError(fmt::format("{}.digest.{}", field, std::string_view(entry.key())),
                        "must be a string");
    }
    subject.digest.emplace(entry.key(), entry.value().get_string());
  }
  return subject;
}

}  // namespace

std::optional<std::string> decodeBase64Lenient(std::string_view encoded) {
  std::string standard(encoded);
  std::replace(standard.begin(), standard.end(), '-', '+');
  std::replace(standard.begin(), standard.end(), '_', '/');
  if (standard.find('=') == std::string::npos) {
    standard.append((4 - standard.size() % 4) % 4, '=');
  }
  return kube::base64Decode(standard);
}

std::string DsseEnvelope::preAuthEncoding() const {
  return fmt::format("DSSEv1 {} {} {} {}", payloadType.size(), payloadType, payload.size(),
                     payload);
}

Result<DsseEnvelope> parseDsseEnvelope(std::string_view bytes) {
  auto object = gojson::parseObject(bytes, "DSSE envelope");
  if (!object) {
    return object.error();
  }
  return readDsseEnvelope(*object, "");
}

Result<DsseEnvelope> readDsseEnvelope(const json::object& envelope, std::string_view path) {
  auto field = [&](std::string_view name) {
    return path.empty() ? std::string(name) : fmt::format("{}.{}", path, name);
  };
  DsseEnvelope out;
  auto type = gojson::stringMember(envelope, "payloadType", field("payloadType"));
  if (!type) {
    return type.error();
  }
  if (type->empty()) {
    return fieldError(field("payloadType"), "is required");
  }
  out.payloadType = std::move(*type);
  auto payload = base64Member(envelope, "payload", field("payload"));
  if (!payload) {
    return payload.error();
  }
  out.payload = std::move(*payload);
  auto signatures = gojson::arrayMember(envelope, "signatures", field("signatures"));
  if (!signatures) {
    return signatures.error();
  }
  if (*signatures == nullptr || (*signatures)->empty()) {
    return fieldError(field("signatures"), "is empty: the envelope is not signed");
  }
  for (size_t i = 0; i < (*signatures)->size(); ++i) {
    auto at = fmt::format("{}[{}]", field("signatures"), i);
    const auto& entry = (**signatures)[i];
    if (!entry.is_object()) {
      return fieldError(at, "must be an object");
    }
    auto keyId = gojson::stringMember(entry.get_object(), "keyid", at + ".keyid");
    if (!keyId) {
      return keyId.error();
    }
    auto sig = base64Member(entry.get_object(), "sig", at + ".sig");
    if (!sig) {
      return sig.error();
    }
    if (sig->empty()) {
      return fieldError(at + ".sig", "is empty");
    }
    out.signatures.push_back({std::move(*keyId), std::move(*sig)});
  }
  return out;
}

Result<InTotoStatement> parseInTotoStatement(std::string_view bytes) {
  auto object = gojson::parseObject(bytes, "in-toto statement");
  if (!object) {
    return object.error();
  }
  InTotoStatement out;
  auto type = gojson::stringMember(*object, "_type", "_type");
  if (!type) {
    return type.error();
  }
  if (*type != kStatementV01 && *type != kStatementV1) {
    return fieldError("_type", fmt::format("is \"{}\", not an in-toto statement ({} or {})", *type,
                                           kStatementV1, kStatementV01));
  }
  out.type = std::move(*type);
  auto predicateType = gojson::stringMember(*object, "predicateType", "predicateType");
  if (!predicateType) {
    return predicateType.error();
  }
  if (predicateType->empty()) {
    return fieldError("predicateType", "is required");
  }
  out.predicateType = std::move(*predicateType);
  auto subjects = gojson::arrayMember(*object, "subject", "subject");
  if (!subjects) {
    return subjects.error();
  }
  if (*subjects == nullptr || (*subjects)->empty()) {
    return fieldError("subject", "is empty: the statement is about nothing");
  }
  for (size_t i = 0; i < (*subjects)->size(); ++i) {
    auto subject = readSubject((**subjects)[i], fmt::format("subject[{}]", i));
    if (!subject) {
      return subject.error();
    }
    out.subjects.push_back(std::move(*subject));
  }
  auto predicate = gojson::member(*object, "predicate", "predicate");
  if (!predicate) {
    return predicate.error();
  }
  if (*predicate != nullptr) {
    out.predicate = **predicate;
  }
  return out;
}

Result<StatementSubject> checkStatementSubject(const InTotoStatement& statement,
                                               std::string_view digest) {
  if (auto valid = checkSha256Digest(digest); !valid) {
    return valid.error();
  }
  auto hex = digest.substr(kSha256.size() + 1);
  std::vector<std::string> named;
  for (const auto& subject : statement.subjects) {
    auto found = subject.digest.find(std::string(kSha256));
    if (found == subject.digest.end()) {
      continue;
    }
    if (found->second == hex) {
      return subject;
    }
    named.push_back(fmt::format("sha256:{}", found->second));
  }
  auto error =
      makeError(ErrorKind::Terminal,
                fmt::format("the statement is about {}, not {}: a statement of another artifact",
                            named.empty() ? std::string("no sha256 digest")
                                          : fmt::format("{}", fmt::join(named, ", ")),
                            digest));
  error.field = "subject";
  return error;
}

}  // namespace mc::signing
