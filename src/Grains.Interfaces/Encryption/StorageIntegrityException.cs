namespace ConnectionGrid.Encryption;

/// <summary>
/// Stored grain state that must not be served: sealed for another row (copied or moved in the database), altered, not
/// sealed by the grid at all, or in the legacy unbound envelope while <c>Grid:Encryption:RequireBoundRows</c> is set.
/// Unlike a missing or wrong key (a <see cref="System.Security.Cryptography.CryptographicException"/>), restoring a
/// key does not help: the row itself is wrong. The message names the row and never holds a secret.
/// </summary>
[GenerateSerializer, Alias("cg.storage-integrity-exception")]
public sealed class StorageIntegrityException : Exception
{
    public StorageIntegrityException()
    {
    }

    public StorageIntegrityException(string message) : base(message)
    {
    }
}
