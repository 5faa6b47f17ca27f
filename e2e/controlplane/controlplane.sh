#!/usr/bin/env bash
# A real local Kubernetes control plane on 127.0.0.1, no containers: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler and kwok (which plays the kubelet for fake nodes).
#
#   controlplane.sh up [--dir DIR] [--owner-pid PID] [--apiserver-port N] [--nodes N]
#                      [--apiserver-arg ARG]...
#   controlplane.sh down DIR
#   controlplane.sh stop|start DIR COMPONENT   (e.g. kube-apiserver: for fault tests)
#
# `up` starts every component in one new process group, on free ports, with certificates made
# here, waits until /readyz is ok, the nodes are Ready and the default ServiceAccount exists,
# and prints how to use it. DIR then holds `kubeconfig` (admin), `env` (shell exports), `logs/`.
# With --owner-pid, the control plane is torn down when that process ends, however it ends.
# `down` stops the whole process group and removes DIR.
set -euo pipefail

self=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
repo=$(cd "$(dirname "$self")/../.." && pwd)
startup_deadline=${MC_CONTROLPLANE_DEADLINE:-120}

die() { echo "controlplane: $*" >&2; exit 1; }

usage() {
  sed -n '2,17p' "$self" | sed 's/^# \{0,1\}//'
  exit 2
}

# Prints the folders of the pinned test tools, failing if one was never built.
tool_bins() {
  "$repo/e2e/tools/build.sh" --check kubernetes etcd kwok
}

# A TCP port no socket uses now (listening or connected), not yet handed out by this script,
# and below the kernel's ephemeral range, so outgoing connections cannot take it meanwhile.
taken_ports=" "
free_port() {
  local port used=" " local_address low _high
  read -r low _high < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || low=32768
  # /proc/net/tcp* list local addresses as HEXIP:HEXPORT.
  while read -r _ local_address _; do
    [[ "$local_address" == *:* ]] && used+="$((16#${local_address##*:})) "
  done < <(tail -q -n +2 /proc/net/tcp /proc/net/tcp6 2>/dev/null)
  for _ in $(seq 1 200); do
    port=$((10000 + RANDOM % (low - 10000)))
    if [[ "$used" != *" $port "* && "$taken_ports" != *" $port "* ]]; then
      taken_ports+="$port "
      echo "$port"
      return
    fi
  done
  die "no free port found"
}

# ---------------------------------------------------------------------------------------------
# PKI: a CA, the apiserver's serving certificate, one client certificate per user.

make_pki() {
  local pki=$1
  mkdir -p "$pki"
  (
    cd "$pki"
    openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null
    openssl req -x509 -new -key ca.key -sha256 -days 7 -subj "/CN=mc-local-ca" -out ca.crt \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      2>/dev/null
    issue apiserver "/CN=kube-apiserver" serverAuth \
      "subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
    issue admin "/O=system:masters/CN=admin" clientAuth
    issue controller-manager "/CN=system:kube-controller-manager" clientAuth
    issue scheduler "/CN=system:kube-scheduler" clientAuth
    issue kwok "/O=system:masters/CN=kwok" clientAuth
    # Service-account token keys.
    openssl ecparam -name prime256v1 -genkey -noout -out sa.key 2>/dev/null
    openssl ec -in sa.key -pubout -out sa.pub 2>/dev/null
  )
}

issue() {
  local name=$1 subject=$2 usage=$3 san=${4:-}
  openssl ecparam -name prime256v1 -genkey -noout -out "$name.key" 2>/dev/null
  openssl req -new -key "$name.key" -subj "$subject" -out "$name.csr" 2>/dev/null
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$usage"
    [ -n "$san" ] && echo "$san"
  } > "$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 7 -sha256 \
    -extfile "$name.ext" -out "$name.crt" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}

write_kubeconfig() {
  local file=$1 user=$2 server=$3 pki=$4
  cat > "$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: mc-local
  cluster:
    server: $server
    certificate-authority: $pki/ca.crt
users:
- name: $user
  user:
    client-certificate: $pki/$user.crt
    client-key: $pki/$user.key
contexts:
- name: mc-local
  context:
    cluster: mc-local
    user: $user
current-context: mc-local
EOF
}

# ---------------------------------------------------------------------------------------------
# Starting and watching components.

declare -A pids=()

start_component() {
  local name=$1
  shift
  # The command is kept so `start` can run the component again after a `stop`.
  printf '%q ' "$(command -v "$1")" "${@:2}" > "$dir/cmd.$name"
  "$@" </dev/null >"$dir/logs/$name.log" 2>&1 &
  pids[$name]=$!
  echo "${pids[$name]}" > "$dir/pid.$name"
}

# Fails with the component's name and the end of its log. Exit 3 (try again) when a port this
# script chose was taken meanwhile by someone else: another control plane starting beside it.
component_failed() {
  local name=$1 why=$2
  if [ -z "$fixed_ports" ] && grep -q "address already in use" "$dir/logs/$name.log" 2>/dev/null; then
    echo "controlplane: $name lost its port to another process; retrying with new ports" >&2
    exit 3
  fi
  {
    echo "controlplane: $name $why; last lines of $dir/logs/$name.log:"
    tail -n 15 "$dir/logs/$name.log" 2>/dev/null | sed 's/^/  | /'
  } >&2
  exit 1
}

check_alive() {
  local name
  for name in "${!pids[@]}"; do
    if ! kill -0 "${pids[$name]}" 2>/dev/null; then
      component_failed "$name" "exited during start-up"
    fi
  done
}

# wait_for NAME DESCRIPTION COMMAND...: polls COMMAND until it succeeds, a component dies, or
# the start-up deadline passes.
wait_for() {
  local name=$1 what=$2
  shift 2
  until "$@" >/dev/null 2>&1; do
    check_alive
    if [ "$(date +%s)" -ge "$deadline" ]; then
      component_failed "$name" "not $what within ${startup_deadline} s"
    fi
    sleep 0.2
  done
}

# Tears the control plane down if `up` dies before it is ready (killed mid-start), and once it
# is ready, when the owner process ends. It lives in the components' process group but ignores
# TERM, and runs `down` in a session of its own so that `down` does not stop itself.
start_watcher() {
  local dir=$1 up_pid=$2 owner=$3
  (
    trap '' TERM
    tail --pid="$up_pid" -f /dev/null
    if [ -f "$dir/ready" ]; then
      [ -n "$owner" ] || exit 0
      tail --pid="$owner" -f /dev/null
    fi
    [ -f "$dir/keep" ] || exec setsid "$self" down "$dir"
  ) </dev/null >/dev/null 2>&1 &
}

# Runs in a new session (see cmd_up): every process started here shares its process group.
cmd_start() {
  dir=$1 owner=$2 api_port=$3 nodes=$4
  shift 4
  local apiserver_args=("$@")
  fixed_ports=$api_port
  deadline=$(($(date +%s) + startup_deadline))
  local bins path
  bins=$(tool_bins) || exit 1
  path=$(echo "$bins" | paste -sd:)
  export PATH="$path:$PATH"
  echo "$$" > "$dir/pgid"
  start_watcher "$dir" "$PPID" "$owner"

  # On any failure: stop what was started, then let `up` report.
  trap 'kill -TERM -- -$$ 2>/dev/null; sleep 1; for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done' EXIT
  trap '' TERM

  local pki=$dir/pki
  make_pki "$pki"

  local etcd_port etcd_peer_port kcm_port sched_port
  etcd_port=$(free_port)
  etcd_peer_port=$(free_port)
  [ -n "$api_port" ] || api_port=$(free_port)
  kcm_port=$(free_port)
  sched_port=$(free_port)
  local server="https://127.0.0.1:$api_port"

  start_component etcd etcd --name=mc-local --data-dir="$dir/etcd" \
    --listen-client-urls="http://127.0.0.1:$etcd_port" \
    --advertise-client-urls="http://127.0.0.1:$etcd_port" \
    --listen-peer-urls="http://127.0.0.1:$etcd_peer_port" \
    --initial-advertise-peer-urls="http://127.0.0.1:$etcd_peer_port" \
    --initial-cluster="mc-local=http://127.0.0.1:$etcd_peer_port" \
    --unsafe-no-fsync=true --quota-backend-bytes=8589934592 --log-level=warn
  wait_for etcd "healthy" curl -sf --max-time 2 "http://127.0.0.1:$etcd_port/health"

  start_component kube-apiserver kube-apiserver \
    --etcd-servers="http://127.0.0.1:$etcd_port" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$api_port" \
    --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
    --client-ca-file="$pki/ca.crt" \
    --service-account-issuer="$server" --service-account-key-file="$pki/sa.pub" \
    --service-account-signing-key-file="$pki/sa.key" \
    --service-cluster-ip-range=10.0.0.0/24 --authorization-mode=RBAC,Node \
    --allow-privileged=true --enable-priority-and-fairness=false \
    --audit-log-path="$dir/logs/audit.log" --audit-policy-file="$(dirname "$self")/audit-policy.yaml" \
    "${apiserver_args[@]}"
  write_kubeconfig "$dir/kubeconfig" admin "$server" "$pki"
  local curl_admin=(curl -sf --max-time 2 --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key")
  wait_for kube-apiserver "ready" "${curl_admin[@]}" "$server/readyz"

  write_kubeconfig "$dir/controller-manager.kubeconfig" controller-manager "$server" "$pki"
  write_kubeconfig "$dir/scheduler.kubeconfig" scheduler "$server" "$pki"
  write_kubeconfig "$dir/kwok.kubeconfig" kwok "$server" "$pki"

  # A long node-monitor grace period: kwok heartbeats its fake node only about once a minute (later
  # still on a loaded machine), and a node marked NotReady gets its pods marked unready for good,
  # since kwok does not re-ready them.
  start_component kube-controller-manager kube-controller-manager \
    --kubeconfig="$dir/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$dir/controller-manager.kubeconfig" \
    --authorization-kubeconfig="$dir/controller-manager.kubeconfig" \
    --leader-elect=false --controllers='*' --use-service-account-credentials=true \
    --node-monitor-grace-period=1h \
    --bind-address=127.0.0.1 --secure-port="$kcm_port" \
    --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
    --cluster-signing-cert-file="$pki/ca.crt" --cluster-signing-key-file="$pki/ca.key"
  start_component kube-scheduler kube-scheduler \
    --kubeconfig="$dir/scheduler.kubeconfig" \
    --authentication-kubeconfig="$dir/scheduler.kubeconfig" \
    --authorization-kubeconfig="$dir/scheduler.kubeconfig" \
    --leader-elect=false --bind-address=127.0.0.1 --secure-port="$sched_port"
  : > "$dir/kwok.yaml"
  start_component kwok kwok --kubeconfig="$dir/kwok.kubeconfig" --config="$dir/kwok.yaml" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --cidr=10.0.0.1/24 --node-ip=10.0.0.1

  local k=(kubectl --kubeconfig "$dir/kubeconfig" --request-timeout=5s)
  local i
  for ((i = 0; i < nodes; i++)); do
    sed "s/NAME/kwok-node-$i/g" "$(dirname "$self")/node.yaml" > "$dir/node-$i.yaml"
    wait_for kube-apiserver "accepting nodes" "${k[@]}" apply -f "$dir/node-$i.yaml"
  done
  for ((i = 0; i < nodes; i++)); do
    wait_for kwok "marking node kwok-node-$i Ready" \
      "${k[@]}" wait --for=condition=Ready "node/kwok-node-$i" --timeout=2s
  done
  wait_for kube-controller-manager "creating the default ServiceAccount" \
    "${k[@]}" get serviceaccount default -n default

  cat > "$dir/env" <<EOF
export KUBECONFIG=$dir/kubeconfig
export MC_APISERVER=$server
export MC_ETCD_ENDPOINT=http://127.0.0.1:$etcd_port
export MC_CONTROLPLANE_DIR=$dir
EOF
  touch "$dir/ready"
  trap - EXIT
}

cmd_up() {
  local dir="" owner="" api_port="" nodes=1 apiserver_args=()
  while [ $# -gt 0 ]; do
    case $1 in
      --apiserver-arg) apiserver_args+=("$2"); shift 2 ;;
      --apiserver-arg=*) apiserver_args+=("${1#--apiserver-arg=}"); shift ;;
      --dir) dir=$2; shift 2 ;;
      --owner-pid) owner=$2; shift 2 ;;
      --apiserver-port) api_port=$2; shift 2 ;;
      --nodes) nodes=$2; shift 2 ;;
      *) usage ;;
    esac
  done
  command -v kubectl >/dev/null || die "kubectl is not installed (run scripts/setup.sh)"
  command -v curl >/dev/null || die "curl is not installed (run scripts/setup.sh)"
  [ -n "$dir" ] || dir=$(mktemp -d "${TMPDIR:-/tmp}/mc-controlplane.XXXXXX")
  mkdir -p "$dir/logs"
  dir=$(cd "$dir" && pwd)
  local start
  start=$(date +%s%3N)
  # setsid gives the components a process group of their own, which `down` stops as one.
  local rc=0
  for _ in 1 2 3; do
    rc=0
    setsid -w "$self" __start "$dir" "$owner" "$api_port" "$nodes" "${apiserver_args[@]}" || rc=$?
    [ "$rc" -eq 3 ] || break
    # The failed start stopped what it began (its EXIT trap); start afresh in the same dir.
    find "$dir" -mindepth 1 -delete 2>/dev/null || true
    mkdir -p "$dir/logs"
  done
  if [ "$rc" -ne 0 ]; then
    if [ -n "${MC_KEEP_FAILED:-}" ]; then
      touch "$dir/keep"
      echo "controlplane: kept $dir for inspection" >&2
    else
      rm -rf "$dir"
    fi
    exit 1
  fi
  local took
  took=$(awk -v ms=$(($(date +%s%3N) - start)) 'BEGIN { printf "%.1f", ms / 1000 }')
  cat <<EOF
Local control plane ready in ${took} s ($(kubectl --kubeconfig "$dir/kubeconfig" get nodes --no-headers | wc -l) kwok node(s)).
  export KUBECONFIG=$dir/kubeconfig     # or: source $dir/env
  kubectl get nodes
Logs are in $dir/logs. Stop it with:
  $self down $dir
EOF
}

cmd_down() {
  local dir=${1:-}
  [ -n "$dir" ] || usage
  local groups=() pgid i
  [ -f "$dir/pgid" ] && groups+=("$(cat "$dir/pgid")")
  [ -f "$dir/pgids" ] && mapfile -t -O "${#groups[@]}" groups < "$dir/pgids"
  if [ ${#groups[@]} -gt 0 ]; then
    # A throwaway control plane needs no graceful shutdown: TERM, 2 s, then KILL.
    for pgid in "${groups[@]}"; do kill -TERM -- "-$pgid" 2>/dev/null || true; done
    for i in $(seq 1 10); do
      alive=false
      for pgid in "${groups[@]}"; do kill -0 -- "-$pgid" 2>/dev/null && alive=true; done
      $alive || break
      sleep 0.2
    done
    for pgid in "${groups[@]}"; do kill -KILL -- "-$pgid" 2>/dev/null || true; done
  fi
  rm -rf "$dir"
}

# Whether a process runs: a zombie (exited, not yet reaped by whoever adopted it) does not.
running() {
  local state
  state=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != "Z" ] && [ "$state" != "X" ]
}

# Stops one component (TERM, then KILL) and waits until it is gone.
cmd_stop() {
  local dir=$1 name=$2 pid i
  pid=$(cat "$dir/pid.$name" 2>/dev/null) || die "no component $name in $dir"
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do
    running "$pid" || return 0
    sleep 0.2
  done
  kill -KILL "$pid" 2>/dev/null || true
  for i in $(seq 1 25); do
    running "$pid" || return 0
    sleep 0.2
  done
}

# Starts a stopped component again, with its original command, in a process group of its own
# that `down` (and so the owner watch) stops too: a process can only join a group of its own
# session, and the caller is not in the control plane's. If the old process's port is not free
# yet, it tries again for a few seconds.
cmd_start_component() {
  local dir=$1 name=$2 pid i
  [ -f "$dir/cmd.$name" ] || die "no component $name in $dir"
  for i in $(seq 1 20); do
    setsid bash -c "exec $(cat "$dir/cmd.$name")" </dev/null >>"$dir/logs/$name.log" 2>&1 &
    pid=$!
    echo "$pid" > "$dir/pid.$name"
    echo "$pid" >> "$dir/pgids"
    sleep 1
    running "$pid" && return 0
    tail -n 3 "$dir/logs/$name.log" | grep -q "address already in use" || break
  done
  echo "controlplane: $name did not start again; last lines of $dir/logs/$name.log:" >&2
  tail -n 15 "$dir/logs/$name.log" | sed 's/^/  | /' >&2
  exit 1
}

case ${1:-} in
  up) shift; cmd_up "$@" ;;
  stop) shift; [ $# -eq 2 ] || usage; cmd_stop "$@" ;;
  start) shift; [ $# -eq 2 ] || usage; cmd_start_component "$@" ;;
  down) shift; cmd_down "$@" ;;
  __start) shift; cmd_start "$@" ;;
  *) usage ;;
esac
