# The separate HTTP gateway (an Orleans client of a cluster on PostgreSQL): SDK build, chiselled runtime, non-root.
# Build from the repository root: docker build -f deploy/docker/gateway.Dockerfile -t connection-grid/gateway .
FROM mcr.microsoft.com/dotnet/sdk:10.0-noble AS build
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY src/ src/
RUN dotnet publish src/Gateway -c Release -o /app

FROM mcr.microsoft.com/dotnet/aspnet:10.0-noble-chiseled AS runtime
WORKDIR /app
COPY --from=build /app .
# The gateway writes nothing: the root file system can be read-only.
# HTTP (ASPNETCORE_HTTP_PORTS=8080 in the base image): the API, /health/live, /health/ready, /metrics.
EXPOSE 8080
USER $APP_UID
ENTRYPOINT ["dotnet", "ConnectionGrid.Gateway.dll"]
