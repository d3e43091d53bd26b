#!/usr/bin/env bash
# Container images without Docker and without a registry, imported into the cluster's containerd.
#   hack/cluster/images.sh [pause] [coredns] [node-base] [kafka]       build (cached) and import
#   hack/cluster/images.sh monitoring                                 prometheus-operator, its config
#                                                                     reloader, prometheus and jaeger
#   hack/cluster/images.sh lab                                        the lab's four Dockerfiles, tagged
#                                                                     by content; prints name=ref lines
#   hack/cluster/images.sh import-all                                 every cached image not yet imported
#   hack/cluster/images.sh bud <ref> <Dockerfile> [<context dir>]     build a Dockerfile with buildah
#                                                                     on the local Node base
# Base images are assembled with umoci from files of this machine (rootfs folder -> one layer) and
# written as docker-archive files by skopeo; Dockerfiles are built by `buildah bud --isolation chroot
# --pull=never`. Every image is keyed by a hash of its inputs (the recipe included): an unchanged
# image is neither rebuilt nor re-imported. Imports go to the cluster's containerd when it runs
# (`ctr -n k8s.io images import`); otherwise the archives wait in the cache for the next run.
# Prints each image's archive path (lab: a `<name>=<image ref>` line per image).
source "$(dirname "$0")/../lib/common.sh"
source "$REPO_ROOT/hack/cluster/env.sh"

for tool in umoci skopeo; do command -v "$tool" >/dev/null || die "$tool not found: run hack/prereqs.sh cluster"; done
NODE_VERSION=$(node -p process.versions.node)
NODE_BASE_IMAGE="${NODE_BASE_IMAGE:-localhost/bplab/node-base:$NODE_VERSION}"
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$REPO_ROOT/hack/kafka/pom.xml")
KAFKA_IMAGE="${KAFKA_IMAGE:-localhost/bplab/kafka:$KAFKA_VERSION}"
# buildah's own storage, in the cache rather than /var/lib/containers.
BUILDAH_ROOT="$IMAGES_DIR/buildah/storage" BUILDAH_RUNROOT="$CLUSTER_RUN/buildah"
BUILDAH=(buildah --root "$BUILDAH_ROOT" --runroot "$BUILDAH_RUNROOT" --storage-driver overlay)
STORAGE="containers-storage:[overlay@$BUILDAH_ROOT+$BUILDAH_RUNROOT]"
mkdir -p "$IMAGES_DIR"
WORK=$(mktemp -d "$IMAGES_DIR/.work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

sha() { sha256sum | cut -c1-16; }
# tree_hash <dir|file>...: names, modes, link targets and contents.
tree_hash() {
  local p
  for p in "$@"; do
    (cd "$(dirname "$p")" && find "$(basename "$p")" -printf '%p %y %m %l\n' | LC_ALL=C sort
     find "$(basename "$p")" -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
  done | sha
}

# put <rootfs> <file>: the file at its canonical place (/lib/x/y -> /usr/lib/x/y), and the
# target of a symlink too. cp --parents cannot write through the image's /lib -> usr/lib link.
put() {
  local root=$1 src=$2 dir
  dir=$(readlink -f "$(dirname "$src")")
  [[ -e "$root$dir/$(basename "$src")" || -L "$root$dir/$(basename "$src")" ]] && return 0
  mkdir -p "$root$dir" && cp -a "$src" "$root$dir/"
  if [[ -L "$src" ]]; then put "$root" "$(readlink -f "$src")"; fi
  return 0
}
# copy_with_libs <rootfs> <file>...: each file, plus every library ldd lists for it.
copy_with_libs() {
  local root=$1 f lib l; shift
  # Debian's /bin, /lib, /lib64 are symlinks into /usr: the same layout in the image, so the
  # paths ldd prints (and #! lines) resolve.
  for l in /bin /sbin /lib /lib64; do
    [[ -L "$l" && ! -e "$root$l" && ! -L "$root$l" ]] || continue
    mkdir -p "$root/usr/$(basename "$(readlink "$l")")"; ln -s "$(readlink "$l")" "$root$l"
  done
  for f in "$@"; do
    put "$root" "$f"
    for lib in $(ldd "$(readlink -f "$f")" 2>/dev/null | grep -oE '/[^ ]+'); do put "$root" "$lib"; done
  done
  return 0
}
etc_files() { # etc_files <rootfs> <user name> <uid>
  mkdir -p "$1/etc" "$1/tmp"; chmod 1777 "$1/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\n%s:x:%s:%s::/home/%s:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' "$2" "$3" "$3" "$2" >"$1/etc/passwd"
  printf 'root:x:0:\n%s:x:%s:\nnogroup:x:65534:\n' "$2" "$3" >"$1/etc/group"
  printf 'hosts: files dns\n' >"$1/etc/nsswitch.conf"
  mkdir -p "$1/home/$2" && chown "$3:$3" "$1/home/$2"
}
ca_bundle() { mkdir -p "$1/etc/ssl/certs" && cp /etc/ssl/certs/ca-certificates.crt "$1/etc/ssl/certs/"; }

# --- Recipes: each fills $1 (the rootfs) and sets CONFIG (umoci config flags) -------------------
recipe_pause() {
  cp "$CLUSTER_BIN/pause" "$1/pause"
  CONFIG=(--config.entrypoint /pause --config.user 65535:65535)
}
recipe_coredns() {
  cp "$COREDNS_BIN" "$1/coredns"; ca_bundle "$1"; etc_files "$1" coredns 65532
  CONFIG=(--config.entrypoint /coredns --config.exposedports 53/udp --config.exposedports 53/tcp --config.exposedports 9153/tcp)
}
# Static Go binaries from hack/cluster/build.sh, each alone at /bin/<name> (where their upstream
# images put them) with the CA bundle, as nobody (65534), the user those images run as.
go_binary_image() { # go_binary_image <rootfs> <binary> <name in the image> <port>...
  local root=$1 bin=$2 name=$3 port; shift 3
  mkdir -p "$root/usr/bin" && ln -s usr/bin "$root/bin" && cp "$bin" "$root/usr/bin/$name"
  ca_bundle "$root"; etc_files "$root" "$name" 65534
  CONFIG=(--config.entrypoint "/bin/$name" --config.user 65534:65534)
  for port in "$@"; do CONFIG+=(--config.exposedports "$port/tcp"); done
}
recipe_prometheus_operator() { go_binary_image "$1" "$PROMETHEUS_OPERATOR_BIN" prometheus-operator 8080; }
recipe_prometheus_config_reloader() { go_binary_image "$1" "$CONFIG_RELOADER_BIN" prometheus-config-reloader 8080; }
# The operator runs Prometheus with --storage.tsdb.path=/prometheus and mounts a volume there.
recipe_prometheus() {
  go_binary_image "$1" "$PROMETHEUS_BIN" prometheus 9090
  mkdir -p "$1/prometheus" && chown 65534:65534 "$1/prometheus"
  CONFIG+=(--config.workingdir /prometheus)
}
recipe_jaeger() { go_binary_image "$1" "$JAEGER_BIN" jaeger 4317 4318 16686 13133; }
recipe_node_base() {
  # The machine's node (a static-ish binary: ldd lists only glibc and libstdc++), npm and npx,
  # /bin/sh for RUN steps and npm scripts, /usr/bin/env for npm's shebang, uid 1000 like the
  # official image's "node" user.
  copy_with_libs "$1" "$(command -v node)" /bin/sh /usr/bin/dash /usr/bin/env
  cp -a /usr/lib/node_modules "$1/usr/lib/"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$1/usr/bin/npx"
  [[ -e /usr/lib/node_modules/corepack ]] && ln -s ../lib/node_modules/corepack/dist/corepack.js "$1/usr/bin/corepack"
  ca_bundle "$1"; etc_files "$1" node 1000
  CONFIG=(--config.cmd node --config.env "NODE_VERSION=$NODE_VERSION"
    --config.env "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
}
# The JRE for Kafka: jlink from the host JDK. The modules jdeps finds in Kafka's jars (java.base,
# compiler, desktop, logging, management, naming, rmi, scripting, security.jgss/sasl, sql,
# jdk.unsupported) and what Kafka may load at run time: JMX remote, TLS (jdk.crypto.ec), JAAS
# (jdk.security.auth/jgss), DNS, JFR, zipfs. Checked with a broker, perf clients and a consumer
# group in a pod. About 50 MB of the image's 120.
KAFKA_JRE_MODULES="java.base,java.compiler,java.desktop,java.instrument,java.logging,java.management,java.management.rmi,java.naming,java.net.http,java.rmi,java.scripting,java.security.jgss,java.security.sasl,java.sql,java.xml,jdk.crypto.ec,jdk.jfr,jdk.management,jdk.management.agent,jdk.naming.dns,jdk.net,jdk.security.auth,jdk.security.jgss,jdk.unsupported,jdk.zipfs"
recipe_kafka() {
  local lib
  command -v jlink >/dev/null || die "jlink not found: install a JDK (run hack/prereqs.sh cluster)"
  lib=$(bash "$REPO_ROOT/hack/kafka/fetch.sh")
  log "  jlink: a JRE with $(tr ',' '\n' <<<"$KAFKA_JRE_MODULES" | wc -l) modules"
  jlink --add-modules "$KAFKA_JRE_MODULES" --compress=2 --no-header-files --no-man-pages --strip-debug --output "$1/opt/java"
  copy_with_libs "$1" /bin/sh /usr/bin/dash /usr/bin/cat /usr/bin/mkdir
  local so dep; for so in "$1"/opt/java/bin/java "$1"/opt/java/lib/*.so "$1"/opt/java/lib/server/*.so; do
    for dep in $(ldd "$so" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
      [[ "$dep" == "$1"/* ]] || put "$1" "$dep"      # the JRE's own libraries are in place
    done
  done
  mkdir -p "$1/opt/kafka/libs" "$1/opt/kafka/config" "$1/opt/kafka/bin" "$1/var/lib/kafka"
  cp "$lib"/*.jar "$1/opt/kafka/libs/"
  cp "$REPO_ROOT/hack/cluster/kafka/log4j2.yaml" "$REPO_ROOT/hack/kafka/tools-log4j2.yaml" \
    "$REPO_ROOT/hack/kafka/single-node.properties" "$REPO_ROOT/hack/kafka/tools.txt" "$1/opt/kafka/config/"
  cp "$REPO_ROOT/hack/cluster/kafka/entrypoint.sh" "$REPO_ROOT/hack/cluster/kafka/kafka-tool.sh" "$1/opt/kafka/bin/"
  chmod 755 "$1/opt/kafka/bin/"*.sh
  local t; for t in $(awk '!/^#/ { print $1 }' "$REPO_ROOT/hack/kafka/tools.txt"); do ln -s kafka-tool.sh "$1/opt/kafka/bin/$t"; done
  ca_bundle "$1"; etc_files "$1" kafka 1000
  chown 1000:1000 "$1/var/lib/kafka"
  CONFIG=(--config.entrypoint /opt/kafka/bin/entrypoint.sh --config.user 1000:1000 --config.workingdir /opt/kafka
    --config.env "PATH=/opt/kafka/bin:/opt/java/bin:/usr/bin:/bin" --config.env "JAVA_HOME=/opt/java"
    --config.env "KAFKA_VERSION=$KAFKA_VERSION" --config.volume /var/lib/kafka
    --config.exposedports 9092/tcp --config.exposedports 9093/tcp)
}
# Inputs: what each recipe reads, hashed cheaply before anything is assembled.
inputs_pause() { sha256sum "$CLUSTER_BIN/pause"; }
inputs_coredns() { sha256sum "$COREDNS_BIN" /etc/ssl/certs/ca-certificates.crt; }
inputs_prometheus_operator() { sha256sum "$PROMETHEUS_OPERATOR_BIN" /etc/ssl/certs/ca-certificates.crt; }
inputs_prometheus_config_reloader() { sha256sum "$CONFIG_RELOADER_BIN" /etc/ssl/certs/ca-certificates.crt; }
inputs_prometheus() { sha256sum "$PROMETHEUS_BIN" /etc/ssl/certs/ca-certificates.crt; }
inputs_jaeger() { sha256sum "$JAEGER_BIN" /etc/ssl/certs/ca-certificates.crt; }
inputs_node_base() {
  sha256sum "$(command -v node)" /etc/ssl/certs/ca-certificates.crt /bin/sh /usr/bin/env
  ldd "$(command -v node)" | grep -oE '/[^ ]+' | xargs -r readlink -f | xargs -r sha256sum
  tree_hash /usr/lib/node_modules
}
inputs_kafka() {
  local lib; lib=$(bash "$REPO_ROOT/hack/kafka/fetch.sh")
  ls "$lib"; java -version 2>&1; sha256sum /bin/sh
  (cd "$REPO_ROOT" && sha256sum hack/cluster/kafka/* hack/kafka/tools-log4j2.yaml hack/kafka/single-node.properties hack/kafka/tools.txt)
}

# --- Importing ---------------------------------------------------------------------------------
containerd_up() { [[ -S "$CONTAINERD_SOCK" ]] && ctr --address "$CONTAINERD_SOCK" version >/dev/null 2>&1; }
# import <ref> <archive> <key>: into containerd's k8s.io namespace, unless that key is already there.
import() {
  local ref=$1 tar=$2 key=$3 mark="$CONTAINERD_ROOT/bplab-imported/${1//[\/:]/_}"
  if ! containerd_up; then log "  the cluster is down: cluster-up imports $ref (from $tar) if containerd lacks it"; return; fi
  if [[ "$(cat "$mark" 2>/dev/null)" == "$key" ]] && [[ -n "$(ctr --address "$CONTAINERD_SOCK" -n k8s.io images ls -q "name==$ref")" ]]; then
    return
  fi
  local t0=$SECONDS
  ctr --address "$CONTAINERD_SOCK" -n k8s.io images import --snapshotter overlayfs "$tar" >"$WORK/import.log" 2>&1 \
    || die "importing $ref failed: $(cat "$WORK/import.log")"
  mkdir -p "$(dirname "$mark")" && echo "$key" >"$mark"
  log "  imported $ref into the cluster's containerd in $((SECONDS - t0)) s"
}

# archived <tar> <ref>: the finished archive (from <tar>.tmp) with its image name beside it; older
# archives of the same image go.
archived() {
  local tar=$1 ref=$2 dir key
  dir=$(dirname "$tar") key=$(basename "$tar" .tar)
  mv "$tar.tmp" "$tar" && echo "$ref" >"$dir/$key.ref"
  find "$dir" \( -name '*.tar' -o -name '*.ref' \) ! -name "$key.tar" ! -name "$key.ref" -delete
}
# import_all: every archive in the cache that containerd lacks (built while the cluster was down).
import_all() {
  local ref_file
  for ref_file in "$IMAGES_DIR"/*/*.ref; do
    [[ -f "$ref_file" && -f "${ref_file%.ref}.tar" ]] || continue
    import "$(cat "$ref_file")" "${ref_file%.ref}.tar" "$(basename "$ref_file" .ref)"
  done
}

# rootfs_image <name> <ref>: the recipe's rootfs as a one-layer image (umoci), archived by skopeo.
rootfs_image() {
  local name=$1 ref=$2 fn="${1//-/_}" key tar t0=$SECONDS
  key=$({ declare -f "recipe_$fn" "inputs_$fn" put copy_with_libs etc_files ca_bundle go_binary_image; echo "$ref"; "inputs_$fn"; } | sha)
  tar="$IMAGES_DIR/$name/$key.tar"
  if [[ ! -f "$tar" ]]; then
    log "building $ref (inputs changed or first build)"
    local root="$WORK/$name/rootfs" oci="$WORK/$name/oci" bundle="$WORK/$name/bundle"
    mkdir -p "$root"; CONFIG=()
    "recipe_$fn" "$root"
    umoci init --layout "$oci" && umoci new --image "$oci:img"
    umoci unpack --image "$oci:img" "$bundle" >/dev/null
    cp -a "$root/." "$bundle/rootfs/"
    umoci repack --image "$oci:img" --history.created_by "hack/cluster/images.sh $name" "$bundle"
    umoci config --image "$oci:img" --author backpressure-lab "${CONFIG[@]}"
    mkdir -p "$IMAGES_DIR/$name"
    skopeo copy --quiet "oci:$oci:img" "docker-archive:$tar.tmp:$ref" && archived "$tar" "$ref"
    log "  $ref: $(du -m "$tar" | cut -f1) MB archive, $(du -sm "$root" | cut -f1) MB unpacked, built in $((SECONDS - t0)) s"
  fi
  import "$ref" "$tar" "$key"
  echo "$tar"
}

# --- Dockerfiles with buildah --------------------------------------------------------------------
# copied_paths <Dockerfile>: what its COPY lines take from the build context (not --from a stage).
copied_paths() { awk 'toupper($1) == "COPY" && $2 !~ /^--from/ { for (i = 2; i < NF; i++) if ($i !~ /^--/) print $i }' "$1"; }
# context_hash <context> <Dockerfile>: the Dockerfile and the context files it copies (git's view:
# tracked and untracked, not ignored, like .dockerignore's node_modules and dist), so an edit
# elsewhere in the repository does not rebuild the image.
context_hash() {
  local ctx=$1 df=$2 paths
  mapfile -t paths < <(copied_paths "$df")
  { sha256sum <"$df"
    if git -C "$ctx" rev-parse --show-toplevel >/dev/null 2>&1; then
      (cd "$ctx" && git ls-files -z -co --exclude-standard -- "${paths[@]}" | LC_ALL=C sort -z | xargs -0 -r sha256sum 2>/dev/null)
    else tree_hash "${paths[@]/#/$ctx/}"; fi; } | sha
}
# bud <ref> <Dockerfile> [<context>]: builds a Dockerfile that takes ARG NODE_IMAGE against the
# local Node base, exports it as a docker-archive and imports it. NODE_EXTRA_CA_CERTS (a TLS-
# inspecting proxy's CA, set on this machine) is mounted into RUN steps and passed as a build arg:
# stages that declare `ARG NODE_EXTRA_CA_CERTS` give it to npm.
bud() {
  local ref=$1 df=$2 ctx=${3:-$REPO_ROOT} base_tar base_key key tar t0=$SECONDS
  command -v buildah >/dev/null || die "buildah not found: run hack/prereqs.sh cluster"
  grep -qE '^\s*ARG\s+NODE_IMAGE' "$df" || die "$df has no ARG NODE_IMAGE: its FROM lines cannot take the local base"
  base_tar=$(rootfs_image node-base "$NODE_BASE_IMAGE"); base_key=$(basename "$base_tar" .tar)
  key=$({ declare -f bud; echo "$ref $base_key ${NODE_EXTRA_CA_CERTS:+ca} $(buildah --version)"; context_hash "$ctx" "$df"; } | sha)
  local name=${ref##*/}; name=${name%%:*}
  tar="$IMAGES_DIR/$name/$key.tar"
  if [[ ! -f "$tar" ]]; then
    # The base in buildah's storage, refreshed when its archive changed.
    local mark="$BUILDAH_ROOT/.bplab-${NODE_BASE_IMAGE//[\/:]/_}"
    if [[ "$(cat "$mark" 2>/dev/null)" != "$base_key" ]] || ! "${BUILDAH[@]}" inspect --type image "$NODE_BASE_IMAGE" >/dev/null 2>&1; then
      log "loading $NODE_BASE_IMAGE into buildah's storage"
      skopeo copy --quiet "docker-archive:$base_tar" "$STORAGE$NODE_BASE_IMAGE"
      echo "$base_key" >"$mark"
    fi
    log "building $ref from $df with buildah (log: $IMAGES_DIR/$name/build.log)"
    local ca=()
    if [[ -n "${NODE_EXTRA_CA_CERTS:-}" && -f "$NODE_EXTRA_CA_CERTS" ]]; then
      ca=(--volume "$NODE_EXTRA_CA_CERTS:/etc/extra-ca.pem:ro" --build-arg NODE_EXTRA_CA_CERTS=/etc/extra-ca.pem)
    fi
    mkdir -p "$IMAGES_DIR/$name"
    # --layers: a rebuild reuses the npm ci steps while package.json and the lock file are unchanged.
    "${BUILDAH[@]}" bud --isolation chroot --pull=never --layers --format docker \
      --build-arg "NODE_IMAGE=$NODE_BASE_IMAGE" "${ca[@]}" -f "$df" -t "$ref" "$ctx" >"$IMAGES_DIR/$name/build.log" 2>&1 \
      || die "buildah could not build $ref: see $IMAGES_DIR/$name/build.log"
    "${BUILDAH[@]}" push --quiet "$ref" "docker-archive:$tar.tmp:$ref" >/dev/null && archived "$tar" "$ref"
    log "  $ref: $(du -m "$tar" | cut -f1) MB archive, built in $((SECONDS - t0)) s"
  fi
  import "$ref" "$tar" "$key"
  echo "$tar"
}

# lab: the lab's own images, from their Dockerfiles (repository root as the context), tagged
# localhost/bplab/<name>:<content tag>: a hash of what the build reads (the Dockerfile, the files
# git sees in the context, the Node base), so a changed image gets a new tag and a Deployment with
# imagePullPolicy IfNotPresent or Never rolls out when its tag is set (IMAGE_TAG forces one tag).
# Prints one `<name>=<image ref>` line per image built, for hack/deploy/up.sh. A Dockerfile
# without ARG NODE_IMAGE is reported and skipped.
lab() {
  local name df built=0 base_key tag
  base_key=$(basename "$(rootfs_image node-base "$NODE_BASE_IMAGE")" .tar)
  for name in producer consumer lag-monitor operator; do
    df="$REPO_ROOT/services/$name/Dockerfile"; [[ $name == operator ]] && df="$REPO_ROOT/operator/Dockerfile"
    [[ -f "$df" ]] || { log "skipping $name: no $df"; continue; }
    if ! grep -qE '^\s*ARG\s+NODE_IMAGE' "$df"; then
      log "skipping $name: ${df#"$REPO_ROOT"/} has no ARG NODE_IMAGE yet (its FROM lines must read \${NODE_IMAGE})"; continue
    fi
    tag=${IMAGE_TAG:-$({ echo "$base_key"; context_hash "$REPO_ROOT" "$df"; } | sha)}
    bud "localhost/bplab/$name:$tag" "$df" "$REPO_ROOT" >/dev/null; built=$((built + 1))
    echo "$name=localhost/bplab/$name:$tag"
  done
  (( built )) || log "no lab image built"
}

(( $# )) || set -- pause coredns node-base kafka
case "$1" in
  bud) shift; (( $# >= 2 )) || die "usage: images.sh bud <ref> <Dockerfile> [<context>]"; bud "$@" ;;
  lab) lab ;;
  import-all) containerd_up || die "the cluster's containerd is not running"; import_all ;;
  *)
    for image in "$@"; do
      case "$image" in
        pause)     rootfs_image pause "$PAUSE_IMAGE" ;;
        coredns)   rootfs_image coredns "$COREDNS_IMAGE" ;;
        node-base) rootfs_image node-base "$NODE_BASE_IMAGE" ;;
        kafka)     rootfs_image kafka "$KAFKA_IMAGE" ;;
        monitoring)
          rootfs_image prometheus-operator "$PROMETHEUS_OPERATOR_IMAGE"
          rootfs_image prometheus-config-reloader "$CONFIG_RELOADER_IMAGE"
          rootfs_image prometheus "$PROMETHEUS_IMAGE"
          rootfs_image jaeger "$JAEGER_IMAGE" ;;
        *) die "unknown image '$image' (pause, coredns, node-base, kafka, monitoring; or: lab; or: bud <ref> <Dockerfile> [<context>])" ;;
      esac
    done ;;
esac
