using Orleans.Storage;

namespace ConnectionGrid.Encryption;

/// <summary>
/// Seals what the inner serializer produces (see <see cref="StateCipher"/>) before it reaches the database, so grains
/// never see ciphertext and the database never sees a token.
/// </summary>
public sealed class EncryptingGrainStorageSerializer(IGrainStorageSerializer inner, StateCipher cipher) : IGrainStorageSerializer
{
    public BinaryData Serialize<T>(T? input) => new(cipher.Seal(inner.Serialize(input).ToMemory().Span));

    public T? Deserialize<T>(BinaryData input) => inner.Deserialize<T>(new BinaryData(cipher.Open(input.ToMemory().Span)));
}
