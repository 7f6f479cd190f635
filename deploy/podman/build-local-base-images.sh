#!/usr/bin/env bash
# LOCAL TESTING AID ONLY. Builds stand-ins for the two base images the Dockerfile names,
#   mcr.microsoft.com/dotnet/sdk:10.0     (Debian bookworm + this machine's whole /usr/share/dotnet)
#   mcr.microsoft.com/dotnet/aspnet:10.0  (Debian bookworm + only the .NET and ASP.NET Core runtimes,
#                                          an `app` user of uid 1654 and APP_UID=1654, like the real image)
# on a machine where the registry cannot be reached, so `podman build` of the project's Dockerfile can be checked.
# Nothing is pulled from a container registry: the root file system comes from Debian packages (debootstrap) and
# .NET from the local install. Never push these images; real builds use Microsoft's images.
#
# Needs: root, podman, runc, debootstrap (apt-get install -y podman runc debootstrap), a Debian mirror: by default
# the one this machine's apt already uses (its sources under APT_SOURCES_DIR=/etc/apt), or DEBIAN_MIRROR=<url>.
# Usage: deploy/podman/build-local-base-images.sh        then, in the same shell for later podman commands:
#        export CONTAINERS_CONF=${WORK_DIR:-/tmp/cross-attention-base-images}/containers.conf
#        deploy/podman/build-local-base-images.sh --print-mirror    prints the mirror it would use, and stops
set -euo pipefail

# The first Debian archive this machine's apt sources name for $DEBIAN_SUITE (deb822 *.sources or one-line *.list),
# else their first archive that is not a security one; so the script names no host and works wherever apt works.
apt_mirror() {
    local dir=${APT_SOURCES_DIR:-/etc/apt} suite=$1
    local files=()
    for f in "$dir"/sources.list "$dir"/*.list "$dir"/*.sources "$dir"/sources.list.d/*.list "$dir"/sources.list.d/*.sources; do
        [ -f "$f" ] && files+=("$f")
    done
    [ "${#files[@]}" -gt 0 ] || return 1
    awk -v suite="$suite" '
        function offer(uri, suites,    n, i, s) {
            n = split(suites, s, " ")
            for (i = 1; i <= n; i++) if (s[i] == suite && exact == "") exact = uri
            if (fallback == "" && uri !~ /security/) fallback = uri
        }
        function stanza() { if (types ~ /(^| )deb( |$)/) offer(uris, suites); types = ""; uris = ""; suites = "" }
        FNR == 1 { stanza() }
        FILENAME ~ /\.sources$/ {
            if ($0 ~ /^[ \t]*$/) { stanza(); next }
            if ($1 == "Types:") { $1 = ""; types = $0 }
            if ($1 == "URIs:") uris = $2
            if ($1 == "Suites:") { $1 = ""; suites = $0 }
            next
        }
        $1 == "deb" {
            i = 2
            if ($i ~ /^\[/) while ($i !~ /\]$/) i++
            if ($i ~ /^\[/ || $i ~ /\]$/) i++
            offer($i, $(i + 1))
        }
        END { stanza(); if (exact != "") print exact; else if (fallback != "") print fallback; else exit 1 }
    ' "${files[@]}"
}

WORK_DIR=${WORK_DIR:-/tmp/cross-attention-base-images}
DOTNET_HOME=${DOTNET_HOME:-$(dirname "$(readlink -f "$(command -v dotnet)")")}
DEBIAN_SUITE=${DEBIAN_SUITE:-bookworm}
if [ -z "${DEBIAN_MIRROR:-}" ]; then
    DEBIAN_MIRROR=$(apt_mirror "$DEBIAN_SUITE") || { echo "no Debian mirror in the apt sources; set DEBIAN_MIRROR" >&2; exit 1; }
fi
if [ "${1:-}" = "--print-mirror" ]; then echo "$DEBIAN_MIRROR"; exit 0; fi
DEBIAN_IMAGE=localhost/cross-attention-debian:${DEBIAN_SUITE}
ASPNET_IMAGE=mcr.microsoft.com/dotnet/aspnet:10.0
SDK_IMAGE=mcr.microsoft.com/dotnet/sdk:10.0
APP_UID=1654

mkdir -p "$WORK_DIR"
# runc instead of crun, and explicit ulimits: the defaults fail inside this kind of nested container.
cat > "$WORK_DIR/containers.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=1024:1024"]

[engine]
runtime = "runc"
CONF
export CONTAINERS_CONF="$WORK_DIR/containers.conf"

# Built once and reused: rebuilding copies the whole SDK again (REBUILD=1 forces it, e.g. after an SDK update).
if [ "${REBUILD:-0}" != 1 ] && podman image exists "$ASPNET_IMAGE" && podman image exists "$SDK_IMAGE"; then
    echo "base images present ($ASPNET_IMAGE, $SDK_IMAGE); reusing them (REBUILD=1 rebuilds)"
    echo "Now: export CONTAINERS_CONF=$CONTAINERS_CONF"
    exit 0
fi

# 1. Minimal Debian with what .NET needs at run time (ICU for globalization, CA certificates, OpenSSL, time zones).
if ! podman image exists "$DEBIAN_IMAGE"; then
    rootfs="$WORK_DIR/rootfs"
    rm -rf "$rootfs"
    debootstrap --variant=minbase --include=libicu72,libssl3,ca-certificates,tzdata \
        "$DEBIAN_SUITE" "$rootfs" "$DEBIAN_MIRROR"
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
    tar -C "$rootfs" --numeric-owner -c . | podman import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["bash"]' - "$DEBIAN_IMAGE"
    rm -rf "$rootfs"
fi

# 2. aspnet: host (dotnet muxer + hostfxr) and the two shared frameworks only; no SDK.
ctx="$WORK_DIR/aspnet-context"
rm -rf "$ctx" && mkdir -p "$ctx/dotnet/shared"
cp -a "$DOTNET_HOME/dotnet" "$DOTNET_HOME/host" "$ctx/dotnet/"
cp -a "$DOTNET_HOME/shared/Microsoft.NETCore.App" "$DOTNET_HOME/shared/Microsoft.AspNetCore.App" "$ctx/dotnet/shared/"
cat > "$ctx/Containerfile" <<CONTAINERFILE
FROM $DEBIAN_IMAGE
ENV APP_UID=$APP_UID \\
    ASPNETCORE_HTTP_PORTS=8080 \\
    DOTNET_RUNNING_IN_CONTAINER=true \\
    DOTNET_ROOT=/usr/share/dotnet
COPY dotnet /usr/share/dotnet
RUN ln -s /usr/share/dotnet/dotnet /usr/bin/dotnet \\
 && groupadd --gid $APP_UID app \\
 && useradd --uid $APP_UID --gid app --no-create-home --home-dir /home/app --shell /bin/false app \\
 && mkdir -p /home/app && chown app:app /home/app
CONTAINERFILE
podman build --network none --pull=never -t "$ASPNET_IMAGE" "$ctx"
rm -rf "$ctx"

# 3. sdk: the aspnet stand-in plus this machine's whole dotnet install (SDK, packs, templates).
ctx="$WORK_DIR/sdk-context"
rm -rf "$ctx" && mkdir -p "$ctx"
cp -a "$DOTNET_HOME" "$ctx/dotnet"
cat > "$ctx/Containerfile" <<CONTAINERFILE
FROM $ASPNET_IMAGE
ENV DOTNET_GENERATE_ASPNET_CERTIFICATE=false \\
    DOTNET_USE_POLLING_FILE_WATCHER=true \\
    NUGET_XMLDOC_MODE=skip
COPY dotnet /usr/share/dotnet
CONTAINERFILE
podman build --network none --pull=never -t "$SDK_IMAGE" "$ctx"
rm -rf "$ctx"

podman images --format '{{.Repository}}:{{.Tag}}  {{.Size}}' | grep -E 'dotnet|cross-attention-debian'
echo "Now: export CONTAINERS_CONF=$CONTAINERS_CONF"
