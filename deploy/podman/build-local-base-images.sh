#!/usr/bin/env bash
# LOCAL TESTING AID ONLY. Builds stand-ins for the two base images the Dockerfile names,
#   mcr.microsoft.com/dotnet/sdk:10.0     (Debian bookworm + this machine's whole /usr/share/dotnet)
#   mcr.microsoft.com/dotnet/aspnet:10.0  (Debian bookworm + only the .NET and ASP.NET Core runtimes,
#                                          an `app` user of uid 1654 and APP_UID=1654, like the real image)
# on a machine where the registry cannot be reached, so `podman build` of the project's Dockerfile can be checked.
# Nothing is pulled from a container registry: the root file system comes from Debian packages (debootstrap) and
# .NET from the local install. Never push these images; real builds use Microsoft's images.
#
# Needs: root, podman, runc, debootstrap (apt-get install -y podman runc debootstrap), a Debian mirror.
# Usage: deploy/podman/build-local-base-images.sh        then, in the same shell for later podman commands:
#        export CONTAINERS_CONF=${WORK_DIR:-/tmp/cross-attention-base-images}/containers.conf
set -euo pipefail

WORK_DIR=${WORK_DIR:-/tmp/cross-attention-base-images}
DOTNET_HOME=${DOTNET_HOME:-$(dirname "$(readlink -f "$(command -v dotnet)")")}
DEBIAN_SUITE=${DEBIAN_SUITE:-bookworm}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
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
