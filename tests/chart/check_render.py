#!/usr/bin/env python3
"""Checks of manifests rendered by `helm template charts/mc`, for tests/chart/chart_test.sh.

Usage: check_render.py CHECK MANIFESTS [ARG...]
  default NS            default values, release namespace NS
  namespaces NS WATCH.. watchNamespaces=WATCH..., release namespace NS
  no-leader NS          leaderElection.enabled=false
  crds SRC              every CRD of SRC/*.yaml rendered once, as written there, annotated
                        helm.sh/resource-policy: keep
  no-crds               crds.install=false: no CRD
  secrets NS NAME..     analysis/verification.secretNames=NAME...: get on those Secrets only
  verify-flags NS       --verify-images=true and no --insecure-registry by default
  no-verify NS          verification.enabled=false: no policy rules, no Secrets, the flag off
  names                 every object name fits in 63 characters
  select NS OUT         writes the RBAC objects and the ServiceAccount to OUT for kubectl apply

Prints one line per failed expectation and exits 1 if there was any; exits 0 silently otherwise.
Needs PyYAML (Debian: python3-yaml).
"""

import copy
import glob
import os
import re
import sys

import yaml

# What MC's reconcilers need (docs/chart.md says why): (apiGroup, resource) -> verbs.
WORKLOAD_RULES = {
    ("mc.maestro.dev", "rollouts"): {"get", "list", "watch"},
    ("mc.maestro.dev", "rollouts/status"): {"get", "update", "patch"},
    ("mc.maestro.dev", "rollouts/finalizers"): {"update"},
    ("apps", "replicasets"): {"get", "list", "watch", "create", "update", "patch", "delete"},
    ("", "services"): {"get", "list", "watch", "update", "patch"},
    ("networking.k8s.io", "ingresses"): {
        "get", "list", "watch", "create", "update", "patch", "delete"},
    ("gateway.networking.k8s.io", "httproutes"): {"get", "list", "watch", "update", "patch"},
    ("networking.istio.io", "virtualservices"): {"get", "list", "watch", "update", "patch"},
    ("mc.maestro.dev", "analysistemplates"): {"get", "list", "watch"},
    ("mc.maestro.dev", "analysisruns"): {"get", "list", "watch", "create", "patch", "delete"},
    ("mc.maestro.dev", "analysisruns/status"): {"patch"},
    ("mc.maestro.dev", "auditrecords"): {"get", "list", "create", "delete"},
    ("mc.maestro.dev", "auditchains"): {"get", "list", "watch", "create"},
    ("mc.maestro.dev", "auditchains/status"): {"update"},
    ("events.k8s.io", "events"): {"create", "patch"},
    ("mc.maestro.dev", "verificationpolicies"): {"get", "list", "watch"},
}
# Cluster-scoped, so in a ClusterRole even when watchNamespaces is set: read only.
CLUSTER_READ_RULES = {
    ("mc.maestro.dev", "clusteranalysistemplates"): {"get", "list", "watch"},
    ("mc.maestro.dev", "clusterverificationpolicies"): {"get", "list", "watch"},
}
# Added to the workload rules by analysis.secretNames and verification.secretNames: get, by those
# names only.
SECRET_RULE = ("", "secrets")
LEASE_RULES = {("coordination.k8s.io", "leases"): {"get", "create", "update"}}

RBAC_KINDS = ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
# The request and audit-record policies (templates/request-policy.yaml) go with the RBAC.
ADMISSION_KINDS = ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")
CLUSTER_SCOPED = ("ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "Namespace",
                  "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")
RELEASE = "mc"

failures = []


def fail(message):
    failures.append(message)


def load(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def name_of(obj):
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{obj.get('kind')} {ns + '/' if ns else ''}{meta.get('name')}"


def of_kind(docs, kind):
    return [d for d in docs if d.get("kind") == kind]


def one(docs, kind):
    found = of_kind(docs, kind)
    if len(found) != 1:
        fail(f"want exactly one {kind}, got {len(found)}: {[name_of(d) for d in found]}")
        return None
    return found[0]


def flatten_rules(obj, secret_names=()):
    """The rules of a Role/ClusterRole as {(group, resource): verbs}; flags what a rule must not use.

    resourceNames are allowed on one rule only: get on the Secrets named by analysis.secretNames
    and verification.secretNames, and they must be exactly `secret_names`."""
    granted = {}
    for i, rule in enumerate(obj.get("rules") or []):
        where = f"{name_of(obj)} rule {i}"
        if rule.get("nonResourceURLs"):
            fail(f"{where}: unexpected nonResourceURLs {rule['nonResourceURLs']}")
        names = rule.get("resourceNames")
        is_secret_rule = (rule.get("apiGroups"), rule.get("resources")) == ([""], ["secrets"])
        if is_secret_rule:
            if rule.get("verbs") != ["get"]:
                fail(f"{where}: Secrets only with get, not {rule.get('verbs')}")
            if sorted(names or []) != sorted(secret_names) or not names:
                fail(f"{where}: Secrets only by the names of the secretNames values "
                     f"{list(secret_names)}, got resourceNames {names}")
        elif names:
            fail(f"{where}: unexpected resourceNames {names}")
        for group in rule.get("apiGroups") or []:
            for resource in rule.get("resources") or []:
                verbs = granted.setdefault((group, resource), set())
                verbs.update(rule.get("verbs") or [])
    return granted


def format_rules(rules):
    return "; ".join(f"{g or 'core'}/{r}: {','.join(sorted(v))}" for (g, r), v in sorted(rules.items()))


def expect_rules(obj, want, secret_names=()):
    got = flatten_rules(obj, secret_names)
    if got != want:
        missing = {k: v - got.get(k, set()) for k, v in want.items() if v - got.get(k, set())}
        extra = {k: v - want.get(k, set()) for k, v in got.items() if v - want.get(k, set())}
        fail(f"{name_of(obj)}: rules differ from the least-privilege list; "
             f"missing [{format_rules(missing)}], extra [{format_rules(extra)}]")


def expect_no_wildcards(docs):
    for obj in docs:
        if obj.get("kind") not in ("ClusterRole", "Role"):
            continue
        if obj.get("aggregationRule"):
            fail(f"{name_of(obj)}: has an aggregationRule")
        for i, rule in enumerate(obj.get("rules") or []):
            for key, values in rule.items():
                if any("*" in str(v) for v in (values if isinstance(values, list) else [values])):
                    fail(f"{name_of(obj)} rule {i}: wildcard in {key}: {values}")


def expect_binding(binding, role_kind, role_name, sa, sa_ns):
    if binding is None:
        return
    ref = binding.get("roleRef") or {}
    if (ref.get("kind"), ref.get("name")) != (role_kind, role_name):
        fail(f"{name_of(binding)}: roleRef is {ref.get('kind')} {ref.get('name')}, "
             f"want {role_kind} {role_name}")
    subjects = binding.get("subjects") or []
    want = [{"kind": "ServiceAccount", "name": sa, "namespace": sa_ns}]
    if subjects != want:
        fail(f"{name_of(binding)}: subjects are {subjects}, want {want}")


def expect_namespaces(docs):
    """Namespaced objects carry their namespace, so `kubectl apply -f` puts them where meant."""
    for obj in docs:
        if obj.get("kind") in CLUSTER_SCOPED:
            continue
        if not (obj.get("metadata") or {}).get("namespace"):
            fail(f"{name_of(obj)}: no metadata.namespace")


def service_account(docs, ns):
    sa = one(docs, "ServiceAccount")
    if sa is None:
        return RELEASE
    if sa["metadata"].get("namespace") != ns:
        fail(f"{name_of(sa)}: want namespace {ns}")
    return sa["metadata"]["name"]


def operator_container(docs, ns, sa):
    deployment = one(docs, "Deployment")
    if deployment is None:
        return None
    if deployment["metadata"].get("namespace") != ns:
        fail(f"{name_of(deployment)}: want namespace {ns}")
    pod = deployment["spec"]["template"]["spec"]
    if pod.get("serviceAccountName") != sa:
        fail(f"{name_of(deployment)}: serviceAccountName {pod.get('serviceAccountName')}, want {sa}")
    if pod.get("automountServiceAccountToken") is not True:
        fail(f"{name_of(deployment)}: automountServiceAccountToken is not true")
    containers = pod.get("containers") or []
    if len(containers) != 1:
        fail(f"{name_of(deployment)}: want one container, got {len(containers)}")
        return None
    return containers[0]


def args_of(container):
    return list(container.get("args") or []) if container else []


def expect_args(container, present=(), absent_prefixes=()):
    args = args_of(container)
    for arg in present:
        if arg not in args:
            fail(f"Deployment args lack {arg}: {args}")
    for prefix in absent_prefixes:
        hits = [a for a in args if a == prefix or a.startswith(prefix + "=")]
        if hits:
            fail(f"Deployment args must not have {prefix}: {hits}")


def expect_probes(container, health_port=8081):
    if container is None:
        return
    ports = {p.get("name"): p.get("containerPort") for p in container.get("ports") or []}
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = (container.get(probe) or {}).get("httpGet")
        if not get:
            fail(f"container {container.get('name')}: no {probe} with httpGet")
            continue
        port = get.get("port")
        port = ports.get(port, port)
        if (get.get("path"), port) != (path, health_port):
            fail(f"{probe}: GET {get.get('path')} on port {port}, want GET {path} on {health_port}")


def expect_security(container):
    if container is None:
        return
    sc = container.get("securityContext") or {}
    want = {"runAsNonRoot": True, "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False}
    for key, value in want.items():
        if sc.get(key) is not value:
            fail(f"container securityContext.{key} is {sc.get(key)}, want {value}")
    if (sc.get("capabilities") or {}).get("drop") != ["ALL"]:
        fail(f"container securityContext.capabilities.drop is not [ALL]: {sc.get('capabilities')}")
    if (sc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        fail("container securityContext.seccompProfile.type is not RuntimeDefault")


def expect_metrics_service(docs, ns, port=8080):
    service = one(docs, "Service")
    if service is None:
        return
    ports = service["spec"].get("ports") or []
    if [(p.get("name"), p.get("port")) for p in ports] != [("metrics", port)]:
        fail(f"{name_of(service)}: ports {ports}, want one named metrics on {port}")


def lease_role(docs, ns, sa):
    roles = [r for r in of_kind(docs, "Role")
             if ("coordination.k8s.io", "leases") in flatten_rules(r)]
    if len(roles) != 1:
        fail(f"want one Role with the Lease rule, got {[name_of(r) for r in roles]}")
        return None
    role = roles[0]
    if role["metadata"].get("namespace") != ns:
        fail(f"{name_of(role)}: the Lease Role must be in the release namespace {ns}")
    expect_rules(role, LEASE_RULES)
    name = role["metadata"]["name"]
    bindings = [b for b in of_kind(docs, "RoleBinding")
                if (b.get("roleRef") or {}).get("name") == name
                and b["metadata"].get("namespace") == ns]
    if len(bindings) != 1:
        fail(f"want one RoleBinding of {name_of(role)}, got {len(bindings)}")
    else:
        expect_binding(bindings[0], "Role", name, sa, ns)
    return role


def check_default(docs, ns):
    sa = service_account(docs, ns)
    cluster_role = one(docs, "ClusterRole")
    if cluster_role is not None:
        expect_rules(cluster_role, WORKLOAD_RULES | CLUSTER_READ_RULES)
        expect_binding(one(docs, "ClusterRoleBinding"), "ClusterRole",
                       cluster_role["metadata"]["name"], sa, ns)
    expect_no_wildcards(docs)
    lease = lease_role(docs, ns, sa)
    others = [name_of(r) for r in of_kind(docs, "Role") if r is not lease]
    if others:
        fail(f"with watchNamespaces empty, want no Role besides the Lease one: {others}")
    container = operator_container(docs, ns, sa)
    expect_args(container,
                present=["--metrics-bind-address=:8080", "--health-probe-bind-address=:8081",
                         "--log-format=json", "--leader-elect", "--audit-retention=true",
                         "--audit-max-age=2160h", "--audit-keep=1000",
                         f"--leader-election-namespace={ns}"],
                absent_prefixes=["--namespace"])
    expect_probes(container)
    expect_security(container)
    expect_metrics_service(docs, ns)
    expect_namespaces(docs)


def check_namespaces(docs, ns, watched):
    sa = service_account(docs, ns)
    # Only the ClusterRole for the cluster-scoped kinds, which a Role cannot grant.
    cluster_role = one(docs, "ClusterRole")
    if cluster_role is not None:
        expect_rules(cluster_role, CLUSTER_READ_RULES)
        expect_binding(one(docs, "ClusterRoleBinding"), "ClusterRole",
                       cluster_role["metadata"]["name"], sa, ns)
    expect_no_wildcards(docs)
    lease = lease_role(docs, ns, sa)
    workload = [r for r in of_kind(docs, "Role") if r is not lease]
    got_ns = sorted(r["metadata"].get("namespace") for r in workload)
    if got_ns != sorted(watched):
        fail(f"want one workload Role in each of {sorted(watched)}, got in {got_ns}")
    for role in workload:
        expect_rules(role, WORKLOAD_RULES)
        role_ns, role_name = role["metadata"].get("namespace"), role["metadata"]["name"]
        bindings = [b for b in of_kind(docs, "RoleBinding")
                    if b["metadata"].get("namespace") == role_ns
                    and (b.get("roleRef") or {}).get("name") == role_name]
        if len(bindings) != 1:
            fail(f"want one RoleBinding of {name_of(role)}, got {len(bindings)}")
        else:
            expect_binding(bindings[0], "Role", role_name, sa, ns)
    container = operator_container(docs, ns, sa)
    flags = [a for a in args_of(container) if a.startswith("--namespace=")]
    want = [f"--namespace={w}" for w in watched]
    if flags != want:
        fail(f"Deployment --namespace flags are {flags}, want {want}")
    expect_args(container, present=["--leader-elect"])
    expect_namespaces(docs)


def check_no_leader(docs, ns):
    sa = service_account(docs, ns)
    container = operator_container(docs, ns, sa)
    expect_args(container, absent_prefixes=["--leader-elect", "--leader-election-namespace"])
    leases = [name_of(r) for r in of_kind(docs, "Role")
              if ("coordination.k8s.io", "leases") in flatten_rules(r)]
    if leases:
        fail(f"leader election off: want no Lease Role, got {leases}")
    if of_kind(docs, "RoleBinding"):
        fail(f"leader election off: want no RoleBinding, got "
             f"{[name_of(b) for b in of_kind(docs, 'RoleBinding')]}")
    cluster_role = one(docs, "ClusterRole")
    if cluster_role is not None:
        expect_rules(cluster_role, WORKLOAD_RULES | CLUSTER_READ_RULES)


def check_crds(docs, src):
    """Each CRD of the single source SRC/*.yaml is rendered once, as written there but for the
    chart's labels and the keep annotation (so helm uninstall leaves the CRDs and users' objects)."""
    sources = {}
    for path in sorted(glob.glob(os.path.join(src, "*.yaml"))):
        crd = load(path)[0]
        sources[crd["metadata"]["name"]] = (os.path.basename(path), crd)
    rendered = of_kind(docs, "CustomResourceDefinition")
    names = [d["metadata"]["name"] for d in rendered]
    if sorted(names) != sorted(sources):
        fail(f"want the CRDs of {src} ({sorted(sources)}) rendered once each, got {sorted(names)}")
    for crd in rendered:
        name = crd["metadata"]["name"]
        annotations = crd["metadata"].get("annotations") or {}
        if annotations.get("helm.sh/resource-policy") != "keep":
            fail(f"CRD {name}: no annotation helm.sh/resource-policy: keep ({annotations})")
        labels = crd["metadata"].get("labels") or {}
        if labels.get("app.kubernetes.io/managed-by") != "Helm":
            fail(f"CRD {name}: no label app.kubernetes.io/managed-by: Helm ({labels})")
        if name not in sources:
            continue
        file, source = sources[name]
        bare = copy.deepcopy(crd)
        meta = bare["metadata"]
        annotations = meta.get("annotations") or {}
        annotations.pop("helm.sh/resource-policy", None)
        for key in [k for k in meta.get("labels") or {} if k not in (source["metadata"].get("labels") or {})]:
            meta["labels"].pop(key)
        for key in ("annotations", "labels"):
            if key in meta and not meta[key] and key not in source["metadata"]:
                meta.pop(key)
        if bare != source:
            fail(f"CRD {name} as rendered differs from crds/{file} (beyond labels and annotation)")


def check_no_crds(docs):
    crds = [name_of(d) for d in of_kind(docs, "CustomResourceDefinition")]
    if crds:
        fail(f"crds.install=false: want no CRD, got {crds}")


def check_policies(docs, ns, watched):
    """Both policies and their bindings; each exempts MC's ServiceAccount and only it."""
    sa = f"system:serviceaccount:{ns}:{RELEASE}"
    policies = {p["metadata"]["name"]: p for p in of_kind(docs, "ValidatingAdmissionPolicy")}
    bindings = {b["spec"]["policyName"]: b for b in of_kind(docs, "ValidatingAdmissionPolicyBinding")}
    want = {f"{RELEASE}-requests", f"{RELEASE}-audit-records"}
    if set(policies) != want or set(bindings) != want:
        fail(f"want policies and bindings {sorted(want)}, got {sorted(policies)} / {sorted(bindings)}")
        return
    for name, policy in policies.items():
        conditions = [c["expression"] for c in policy["spec"].get("matchConditions", [])]
        if conditions != [f"request.userInfo.username != '{sa}'"]:
            fail(f"{name}: must exempt exactly {sa}, has {conditions}")
        if policy["spec"].get("failurePolicy") != "Fail":
            fail(f"{name}: failurePolicy must be Fail")
        binding = bindings[name]["spec"]
        if binding.get("validationActions") != ["Deny"]:
            fail(f"{name}: its binding must Deny")
        selector = binding.get("matchResources", {}).get("namespaceSelector")
        if watched:
            values = selector["matchExpressions"][0]["values"] if selector else []
            if sorted(values) != sorted(watched):
                fail(f"{name}: bound to {values}, want {watched}")
        elif selector:
            fail(f"{name}: with watchNamespaces empty the binding must match every namespace")
    fields = policies[f"{RELEASE}-requests"]["spec"]["variables"][0]["expression"]
    for field in ("abort", "promoteFull", "promoteStep", "requestedBy", "requestReason"):
        if f"'{field}'" not in fields:
            fail(f"the request policy does not let requests set {field}")


def check_no_retention(docs):
    """audit.retention.enabled=false: no delete on AuditRecords, and the flag says so."""
    rules = flatten_rules(one(docs, "ClusterRole"))
    if rules.get(("mc.maestro.dev", "auditrecords")) != {"get", "list", "create"}:
        fail(f"without retention MC may not delete AuditRecords: {rules.get(('mc.maestro.dev', 'auditrecords'))}")
    container = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    if "--audit-retention=false" not in container.get("args", []):
        fail(f"want --audit-retention=false, got {container.get('args')}")


def check_no_policies(docs):
    found = [name_of(d) for d in docs if d.get("kind") in ADMISSION_KINDS]
    if found:
        fail(f"audit.admissionPolicies=false: want no admission policy, got {found}")


def check_secrets(docs, ns, secret_names):
    cluster_role = one(docs, "ClusterRole")
    if cluster_role is not None:
        want = WORKLOAD_RULES | CLUSTER_READ_RULES | {SECRET_RULE: {"get"}}
        expect_rules(cluster_role, want, secret_names)


def check_verify_flags(docs, ns):
    container = operator_container(docs, ns, service_account(docs, ns))
    expect_args(container, present=["--verify-images=true"], absent_prefixes=["--insecure-registry"])


def check_no_verify(docs, ns):
    container = operator_container(docs, ns, service_account(docs, ns))
    expect_args(container, present=["--verify-images=false"])
    cluster_role = one(docs, "ClusterRole")
    if cluster_role is not None:
        policies = {("mc.maestro.dev", "verificationpolicies"),
                    ("mc.maestro.dev", "clusterverificationpolicies")}
        want = {k: v for k, v in (WORKLOAD_RULES | CLUSTER_READ_RULES).items() if k not in policies}
        expect_rules(cluster_role, want)


def check_names(docs):
    label = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    for obj in docs:
        name = (obj.get("metadata") or {}).get("name", "")
        if len(name) > 63 or not label.match(name):
            fail(f"{obj.get('kind')} name {name!r} ({len(name)} characters) is not a valid name "
                 f"of at most 63 characters")
        labels = (obj.get("metadata") or {}).get("labels") or {}
        for key, value in labels.items():
            if len(str(value)) > 63:
                fail(f"{name_of(obj)}: label {key} value is {len(str(value))} characters")


def select_rbac(path, ns, out):
    """Copies the RBAC and ServiceAccount documents as helm rendered them (comments kept)."""
    with open(path, encoding="utf-8") as f:
        texts = re.split(r"^---\s*$", f.read(), flags=re.M)
    kept = []
    for text in texts:
        obj = yaml.safe_load(text)
        if obj and obj.get("kind") in RBAC_KINDS + ("ServiceAccount",) + ADMISSION_KINDS:
            kept.append(text.strip("\n"))
    docs = [yaml.safe_load(t) for t in kept]
    if not of_kind(docs, "ServiceAccount") or not of_kind(docs, "ClusterRole"):
        fail("the render has no ServiceAccount or no ClusterRole")
        return
    header = (f"# MC's RBAC and ServiceAccount as charts/mc renders them (release {RELEASE}, "
              f"namespace {ns}),\n# written by tests/chart/chart_test.sh --print-rbac. "
              f"The Namespace comes first so that kubectl apply -f works on a fresh cluster.\n"
              f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n")
    with open(out, "w", encoding="utf-8") as f:
        f.write(header + "".join(f"---\n{t}\n" for t in kept))


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    check, path, rest = argv[1], argv[2], argv[3:]
    if check == "select":
        select_rbac(path, rest[0], rest[1])
    else:
        docs = load(path)
        if check == "default":
            check_default(docs, rest[0])
        elif check == "namespaces":
            check_namespaces(docs, rest[0], rest[1:])
        elif check == "no-leader":
            check_no_leader(docs, rest[0])
        elif check == "crds":
            check_crds(docs, rest[0])
        elif check == "no-crds":
            check_no_crds(docs)
        elif check == "policies":
            check_policies(docs, rest[0], rest[1:])
        elif check == "no-policies":
            check_no_policies(docs)
        elif check == "no-retention":
            check_no_retention(docs)
        elif check == "secrets":
            check_secrets(docs, rest[0], rest[1:])
        elif check == "verify-flags":
            check_verify_flags(docs, rest[0])
        elif check == "no-verify":
            check_no_verify(docs, rest[0])
        elif check == "names":
            check_names(docs)
        else:
            sys.exit(f"unknown check {check}\n{__doc__}")
    for message in failures:
        print(f"  {message}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
