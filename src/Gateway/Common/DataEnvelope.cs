namespace ConnectionGrid.Gateway.Common;

/// <summary>Nango's envelope for a single resource or a list: <c>{"data": …}</c>.</summary>
public sealed record DataEnvelope<T>(T Data);
