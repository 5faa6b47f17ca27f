#include "mc/crds/verification.h"

#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>

#include "reader.h"

namespace mc::crds {
namespace {

std::string indexed(const std::string& path, std::string_view list, size_t i) {
  return path + "." + std::string(list) + "[" + std::to_string(i) + "]";
}

void readPolicyInto(Reader& r, const json::object& in, const std::string& path,
                    VerificationPolicySpec& out) {
  out.images = r.stringList(in, "images", path);
  if (const auto* keys = r.optArray(in, "keys", path)) {
    for (size_t i = 0; i < keys->size(); ++i) {
      auto keyPath = indexed(path, "keys", i);
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
      out.keys.push_back(std::move(k));
    }
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
    json::array keys;
    for (const auto& key : spec.keys) {
      json::object k;
      put(k, "publicKey", key.publicKey);
      if (key.secretName) {
        json::object ref{{"name", *key.secretName}};
        put(ref, "namespace", key.secretNamespace);
        put(ref, "key", key.secretKey);
        k["secretRef"] = std::move(ref);
      }
      keys.push_back(std::move(k));
    }
    out["keys"] = std::move(keys);
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
