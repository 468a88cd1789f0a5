namespace ConnectionGrid.Gateway.Common;

/// <summary>Nango's answer to a change that returns nothing else: <c>{"success": true}</c>.</summary>
public sealed record SuccessJson(bool Success);
