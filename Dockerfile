# syntax=docker/dockerfile:1
# CrossAttention.Api: build with the .NET SDK, run on the ASP.NET Core runtime image as the non-root `app` user.
#
#   docker build -t cross-attention-api .
#   docker run --rm -p 8080:8080 -v "$PWD/models:/models:ro" cross-attention-api
#
# NUGET_SOURCE (default empty = nuget.org as usual) lets an offline build restore from a local feed mounted into the
# build, e.g. `podman build --format docker --network none -v ~/.nuget/packages:/nuget:ro --build-arg NUGET_SOURCE=/nuget .`
# (see deploy/README.md). It does not change the normal build.

ARG SDK_IMAGE=mcr.microsoft.com/dotnet/sdk:10.0
ARG RUNTIME_IMAGE=mcr.microsoft.com/dotnet/aspnet:10.0

FROM ${SDK_IMAGE} AS build
ARG NUGET_SOURCE=
ENV DOTNET_CLI_TELEMETRY_OPTOUT=1 \
    DOTNET_NOLOGO=1 \
    DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
WORKDIR /src

# Project files first, so the restore layer is reused while only sources change.
COPY global.json Directory.Build.props Directory.Packages.props appsettings.json ./
COPY src/CrossAttention.Core/CrossAttention.Core.csproj src/CrossAttention.Core/
COPY src/CrossAttention.Api/CrossAttention.Api.csproj src/CrossAttention.Api/
RUN dotnet restore src/CrossAttention.Api/CrossAttention.Api.csproj \
        ${NUGET_SOURCE:+--source "$NUGET_SOURCE"}

COPY src/CrossAttention.Core/ src/CrossAttention.Core/
COPY src/CrossAttention.Api/ src/CrossAttention.Api/
RUN dotnet publish src/CrossAttention.Api/CrossAttention.Api.csproj -c Release --no-restore \
        -o /app /p:UseAppHost=false \
 && mkdir -p /models-empty

FROM ${RUNTIME_IMAGE} AS runtime
# The aspnet image defines the `app` user and APP_UID=1654; kept explicit for images that only set the user.
ARG APP_UID=1654
ENV ASPNETCORE_HTTP_PORTS=8080 \
    ASPNETCORE_ENVIRONMENT=Production \
    DOTNET_CLI_TELEMETRY_OPTOUT=1 \
    CrossAttention__ModelsDirectory=/models
WORKDIR /app
COPY --from=build /app ./
# Each subfolder of /models is a model; mount a volume (read-only is enough) over it. Empty: only the demo model.
COPY --from=build --chown=${APP_UID}:${APP_UID} /models-empty /models
USER ${APP_UID}
EXPOSE 8080

# No curl or wget in the aspnet image: bash's /dev/tcp sends a raw HTTP request and the status line must say 200.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /health/live HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]

ENTRYPOINT ["dotnet", "CrossAttention.Api.dll"]
