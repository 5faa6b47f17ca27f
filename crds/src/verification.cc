#include "mc/crds/verification.h"

#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>

#include "reader.h"

namespace mc::crds {
namespace {

std::string indexed(const std::string& path, std::string_view list, size_t i) {
  return path + "." + std::string(list) + "[" + std::to_string(i) + "]";
}

std::vector<PolicyKey> readKeys(Reader& r, const json::object& in, std::string_view list,
                                const std::string& path) {
  std::vector<PolicyKey> out;
  const auto* keys = r.optArray(in, list, path);
  for (size_t i = 0; keys != nullptr && i < keys->size(); ++i) {
    auto keyPath = indexed(path, list, i);
    const auto* key = r.asObject((*keys)[i], keyPath);
    if (key == nullptr) {
      continue;
    }
    PolicyKey k;
    k.publicKey = r.optString(*key, "publicKey", keyPath);
    if (const auto* ref = r.optObject(*key, "secretRef", keyPath)) {
      auto refPath = keyPath + ".secretRef";
      k.secretName = r.optString(*ref, "name", refPath);
      k.secretNamespace = r.optString(*ref, "namespace", refPath);
      k.secretKey = r.optString(*ref, "key", refPath);
      if (!k.secretName) {
        r.missing(refPath + ".name");
      }
    }
    if (!k.publicKey && !k.secretName) {
      r.missing(keyPath + ".secretRef");
    }
    out.push_back(std::move(k));
  }
  return out;
}

std::vector<PemSource> readPems(Reader& r, const json::object& in, std::string_view list,
                                const std::string& path) {
  std::vector<PemSource> out;
  const auto* sources = r.optArray(in, list, path);
  for (size_t i = 0; sources != nullptr && i < sources->size(); ++i) {
    auto sourcePath = indexed(path, list, i);
    const auto* source = r.asObject((*sources)[i], sourcePath);
    if (source == nullptr) {
      continue;
    }
    PemSource p;
    p.pem = r.optString(*source, "pem", sourcePath);
    if (const auto* ref = r.optObject(*source, "secretRef", sourcePath)) {
      auto refPath = sourcePath + ".secretRef";
      p.secretName = r.optString(*ref, "name", refPath);
      p.secretNamespace = r.optString(*ref, "namespace", refPath);
      p.secretKey = r.optString(*ref, "key", refPath);
      if (!p.secretName) {
        r.missing(refPath + ".name");
      }
      if (!p.secretKey) {
        r.missing(refPath + ".key");
      }
    }
    if (!p.pem && !p.secretName) {
      r.missing(sourcePath + ".secretRef");
    }
    out.push_back(std::move(p));
  }
  return out;
}

KeylessPolicy readKeyless(Reader& r, const json::object& in, const std::string& path) {
  KeylessPolicy out;
  const auto* identities = r.optArray(in, "identities", path);
  for (size_t i = 0; identities != nullptr && i < identities->size(); ++i) {
    auto identityPath = indexed(path, "identities", i);
    const auto* identity = r.asObject((*identities)[i], identityPath);
    if (identity == nullptr) {
      continue;
    }
    KeylessIdentity id;
    id.subject = r.optString(*identity, "subject", identityPath);
    id.subjectRegExp = r.optString(*identity, "subjectRegExp", identityPath);
    id.issuer = r.optString(*identity, "issuer", identityPath);
    id.issuerRegExp = r.optString(*identity, "issuerRegExp", identityPath);
    if (!id.subject && !id.subjectRegExp) {
      r.missing(identityPath + ".subject");
    }
    if (!id.issuer && !id.issuerRegExp) {
      r.missing(identityPath + ".issuer");
    }
    out.identities.push_back(std::move(id));
  }
  if (out.identities.empty()) {
    r.missing(path + ".identities");
  }
  out.roots = readPems(r, in, "roots", path);
  if (out.roots.empty()) {
    r.missing(path + ".roots");
  }
  out.transparencyLogKeys = readKeys(r, in, "transparencyLogKeys", path);
  out.timestampAuthorities = readPems(r, in, "timestampAuthorities", path);
  return out;
}

void readPolicyInto(Reader& r, const json::object& in, const std::string& path,
                    VerificationPolicySpec& out) {
  out.images = r.stringList(in, "images", path);
  out.keys = readKeys(r, in, "keys", path);
  if (const auto* keyless = r.optObject(in, "keyless", path)) {
    out.keyless = readKeyless(r, *keyless, path + ".keyless");
  }
  const auto* attestations = r.optArray(in, "attestations", path);
  for (size_t i = 0; attestations != nullptr && i < attestations->size(); ++i) {
    auto attestationPath = indexed(path, "attestations", i);
    const auto* attestation = r.asObject((*attestations)[i], attestationPath);
    if (attestation == nullptr) {
      continue;
    }
    auto type = r.optString(*attestation, "predicateType", attestationPath);
    if (!type || type->empty()) {
      r.missing(attestationPath + ".predicateType");
      continue;
    }
    out.attestations.push_back(std::move(*type));
  }
  out.required = r.optBool(in, "required", path);
  out.matchRepository = r.optBool(in, "matchRepository", path);
  out.allowNamespaceWaivers = r.optBool(in, "allowNamespaceWaivers", path);
  if (const auto* waivers = r.optArray(in, "waivers", path)) {
    for (size_t i = 0; i < waivers->size(); ++i) {
      auto waiverPath = indexed(path, "waivers", i);
      const auto* waiver = r.asObject((*waivers)[i], waiverPath);
      if (waiver == nullptr) {
        continue;
      }
      PolicyWaiver w;
      w.digest = r.optString(*waiver, "digest", waiverPath).value_or("");
      w.owner = r.optString(*waiver, "owner", waiverPath).value_or("");
      w.reason = r.optString(*waiver, "reason", waiverPath).value_or("");
      w.expires = r.optString(*waiver, "expires", waiverPath).value_or("");
      out.waivers.push_back(std::move(w));
    }
  }
}

json::object writeSecretRef(const std::optional<std::string>& name,
                            const std::optional<std::string>& ns,
                            const std::optional<std::string>& key) {
  json::object ref{{"name", name.value_or("")}};
  put(ref, "namespace", ns);
  put(ref, "key", key);
  return ref;
}

json::array writeKeys(const std::vector<PolicyKey>& keys) {
  json::array out;
  for (const auto& key : keys) {
    json::object k;
    put(k, "publicKey", key.publicKey);
    if (key.secretName) {
      k["secretRef"] = writeSecretRef(key.secretName, key.secretNamespace, key.secretKey);
    }
    out.push_back(std::move(k));
  }
  return out;
}

json::array writePems(const std::vector<PemSource>& sources) {
  json::array out;
  for (const auto& source : sources) {
    json::object p;
    put(p, "pem", source.pem);
    if (source.secretName) {
      p["secretRef"] = writeSecretRef(source.secretName, source.secretNamespace, source.secretKey);
    }
    out.push_back(std::move(p));
  }
  return out;
}

json::object writeKeyless(const KeylessPolicy& keyless) {
  json::array identities;
  for (const auto& id : keyless.identities) {
    json::object i;
    put(i, "subject", id.subject);
    put(i, "subjectRegExp", id.subjectRegExp);
    put(i, "issuer", id.issuer);
    put(i, "issuerRegExp", id.issuerRegExp);
    identities.push_back(std::move(i));
  }
  json::object out{{"identities", std::move(identities)}, {"roots", writePems(keyless.roots)}};
  if (!keyless.transparencyLogKeys.empty()) {
    out["transparencyLogKeys"] = writeKeys(keyless.transparencyLogKeys);
  }
  if (!keyless.timestampAuthorities.empty()) {
    out["timestampAuthorities"] = writePems(keyless.timestampAuthorities);
  }
  return out;
}

json::object writePolicy(const VerificationPolicySpec& spec) {
  json::object out;
  if (!spec.images.empty()) {
    json::array images;
    for (const auto& image : spec.images) {
      images.emplace_back(image);
    }
    out["images"] = std::move(images);
  }
  if (!spec.keys.empty()) {
    out["keys"] = writeKeys(spec.keys);
  }
  if (spec.keyless) {
    out["keyless"] = writeKeyless(*spec.keyless);
  }
  if (!spec.attestations.empty()) {
    json::array attestations;
    for (const auto& type : spec.attestations) {
      attestations.push_back(json::object{{"predicateType", type}});
    }
    out["attestations"] = std::move(attestations);
  }
  put(out, "required", spec.required);
  put(out, "matchRepository", spec.matchRepository);
  put(out, "allowNamespaceWaivers", spec.allowNamespaceWaivers);
  if (!spec.waivers.empty()) {
    json::array waivers;
    for (const auto& w : spec.waivers) {
      waivers.push_back(json::object{
          {"digest", w.digest}, {"owner", w.owner}, {"reason", w.reason}, {"expires", w.expires}});
    }
    out["waivers"] = std::move(waivers);
  }
  return out;
}

}  // namespace

void tag_invoke(const json::value_from_tag&, json::value& out, const VerificationPolicySpec& spec) {
  out = writePolicy(spec);
}

void tag_invoke(const json::value_from_tag&, json::value& out, const RolloutVerify& verify) {
  json::object o = writePolicy(verify.inlinePolicy);
  if (verify.policyRef) {
    o["policyRef"] = {{"kind", verify.policyRef->kind}, {"name", verify.policyRef->name}};
  }
  out = std::move(o);
}

Result<VerificationPolicySpec> readVerificationPolicySpec(const json::object& spec,
                                                          const std::string& path) {
  Reader r;
  VerificationPolicySpec out;
  readPolicyInto(r, spec, path, out);
  if (r.fault) {
    return *r.fault;
  }
  return out;
}

Result<VerificationPolicySpec> readVerificationPolicy(const json::object& policy) {
  Reader r;
  const auto* spec = r.optObject(policy, "spec", "");
  if (spec == nullptr) {
    return r.fault ? *r.fault : fieldError("spec", "missing");
  }
  return readVerificationPolicySpec(*spec, "spec");
}

Result<RolloutVerify> readRolloutVerify(const json::object& verify, const std::string& path) {
  Reader r;
  RolloutVerify out;
  if (const auto* ref = r.optObject(verify, "policyRef", path)) {
    auto refPath = path + ".policyRef";
    out.policyRef = PolicyRef{r.optString(*ref, "kind", refPath).value_or(""),
                              r.optString(*ref, "name", refPath).value_or("")};
  }
  readPolicyInto(r, verify, path, out.inlinePolicy);
  if (r.fault) {
    return *r.fault;
  }
  return out;
}

}  // namespace mc::crds
