namespace ConnectionGrid.Gateway.Errors;

/// <summary>The one error shape of the API, Nango's: <c>{"error":{"code","message"}}</c>.</summary>
public sealed record ErrorBody(ErrorDetail Error);

public sealed record ErrorDetail(string Code, string Message);
