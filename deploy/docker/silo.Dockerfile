# The silo: build with the SDK, run on the chiselled ASP.NET Core runtime (no shell, no package manager, non-root).
# Build from the repository root: docker build -f deploy/docker/silo.Dockerfile -t connection-grid/silo .
FROM mcr.microsoft.com/dotnet/sdk:10.0-noble AS build
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY src/ src/
RUN dotnet publish src/Silo -c Release -o /app

FROM mcr.microsoft.com/dotnet/aspnet:10.0-noble-chiseled AS runtime
WORKDIR /app
COPY --from=build /app .
# The only place the silo writes: the SQLite database (single node) or nothing (PostgreSQL). Mount a volume here; the
# root file system can then be read-only.
ENV Grid__DataDirectory=/data
VOLUME /data
# HTTP (ASPNETCORE_HTTP_PORTS=8080 in the base image): the API when co-hosted, /health/live, /health/ready, /metrics.
# 11111: silo to silo. 30000: Orleans gateway, for separate gateways.
EXPOSE 8080 11111 30000
# The chiselled image's non-root user (uid 1654).
USER $APP_UID
ENTRYPOINT ["dotnet", "ConnectionGrid.Silo.dll"]
