namespace ConnectionGrid.Configuration;

/// <summary>
/// Start-up cannot go on with this configuration (beyond what the options validators check alone: say, a key ring that
/// cannot open the stored data the grid reads at start-up). The message names the setting; a host prints it as it is.
/// </summary>
public sealed class GridConfigurationException : Exception
{
    public GridConfigurationException()
    {
    }

    public GridConfigurationException(string message) : base(message)
    {
    }

    public GridConfigurationException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
