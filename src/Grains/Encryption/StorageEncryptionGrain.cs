namespace ConnectionGrid.Encryption;

/// <summary>Runs the operator's encryption passes inside a silo, where the database and the key ring are.</summary>
public sealed class StorageEncryptionGrain(StorageReencryption reencryption) : Grain, IStorageEncryptionGrain
{
    public Task<EncryptionReport> Status() => reencryption.StatusAsync();

    public Task<EncryptionReport> Reencrypt() => reencryption.ReencryptAsync();
}
