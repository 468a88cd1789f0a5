namespace ConnectionGrid.Encryption;

/// <summary>Counts the stored rows per encryption key inside a silo, where the database and the key ring are.</summary>
public sealed class StorageEncryptionGrain(StorageReencryption reencryption) : Grain, IStorageEncryptionGrain
{
    public Task<EncryptionReport> Status() => reencryption.StatusAsync();
}
