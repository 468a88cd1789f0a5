using Microsoft.Extensions.Logging;
using Orleans.Serialization.Serializers;
using Orleans.Storage;

namespace ConnectionGrid.Encryption;

/// <summary>
/// Seals each grain state for its row before the ADO.NET provider stores it, and opens it against that row when it is
/// read (see <see cref="StateCipher"/>), so grains never see ciphertext, the database never sees a token, and a value
/// moved to another row does not open there. It sits on the storage call, not in the provider's serializer, because
/// only the call knows the state name and grain id; the provider stores the sealed bytes as they are
/// (<see cref="SealedStateSerializer"/>).
/// </summary>
public sealed partial class EncryptingGrainStorage(
    IGrainStorage inner,
    StateCipher cipher,
    IGrainStorageSerializer serializer,
    IActivatorProvider activators,
    RefusedStates refused,
    string serviceId,
    ILogger<EncryptingGrainStorage> logger) : IGrainStorage
{
    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var stored = new GrainState<SealedState>(new SealedState());
        await inner.ReadStateAsync(stateName, grainId, stored);
        grainState.ETag = stored.ETag;
        grainState.RecordExists = stored.RecordExists;
        try
        {
            grainState.State = stored.State?.Payload is { } payload ? Open<T>(stateName, grainId, payload) : activators.GetActivator<T>().Create();
            refused.Accept(grainId);
        }
        catch (StorageIntegrityException e)
        {
            // The grain activates on an empty stand-in that serves nothing (RefusedStateCallFilter), keeping the row's
            // ETag so it can still delete the row. One line per activation, not per call: a client repeating a request
            // cannot fill the log.
            refused.Refuse(grainId, e.Message);
            LogRefused(logger, e.Message);
            LogRefusedDetail(logger, e);
            grainState.State = activators.GetActivator<T>().Create();
        }
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var row = RowIdentity.Of(serviceId, stateName, grainId);
        var payload = cipher.Seal(serializer.Serialize(grainState.State).ToMemory().Span, row);
        var stored = new GrainState<SealedState>(new SealedState(payload), grainState.ETag) { RecordExists = grainState.RecordExists };
        await inner.WriteStateAsync(stateName, grainId, stored);
        grainState.ETag = stored.ETag;
        grainState.RecordExists = stored.RecordExists;
        refused.Accept(grainId);
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        // Clearing deletes the row without opening it: a row that fails its integrity check can still be removed.
        var stored = new GrainState<SealedState>(new SealedState(), grainState.ETag) { RecordExists = grainState.RecordExists };
        await inner.ClearStateAsync(stateName, grainId, stored);
        grainState.State = activators.GetActivator<T>().Create();
        grainState.ETag = stored.ETag;
        grainState.RecordExists = stored.RecordExists;
        refused.Accept(grainId);
    }

    private T? Open<T>(string stateName, GrainId grainId, byte[] payload) =>
        serializer.Deserialize<T>(new BinaryData(cipher.Open(payload, RowIdentity.Of(serviceId, stateName, grainId))));

    // Reported here as well as to the caller: reminders and start-up read state with no HTTP request to log it.
    [LoggerMessage(LogLevel.Error, "Grain state refused: {Reason} It is not served (callers get storage_integrity_error) until the resource is deleted.")]
    private static partial void LogRefused(ILogger logger, string reason);

    [LoggerMessage(LogLevel.Debug, "Grain state refused")]
    private static partial void LogRefusedDetail(ILogger logger, Exception exception);
}

/// <summary>A grain state as the ADO.NET provider stores it: bytes sealed by <see cref="EncryptingGrainStorage"/>.</summary>
public sealed class SealedState
{
    public SealedState()
    {
    }

    public SealedState(byte[] payload) => Payload = payload;

    public byte[]? Payload { get; set; }
}

/// <summary>
/// The ADO.NET provider's serializer: hands <see cref="SealedState"/> bytes through as they are, and refuses any other
/// type, so a state that bypassed <see cref="EncryptingGrainStorage"/> fails instead of reaching the database unsealed.
/// </summary>
public sealed class SealedStateSerializer : IGrainStorageSerializer
{
    public BinaryData Serialize<T>(T? input) => input is SealedState { Payload: { } payload }
        ? new BinaryData(payload)
        : throw new InvalidOperationException($"A {typeof(T).Name} reached the database provider unsealed; grain state is stored only through EncryptingGrainStorage.");

    public T? Deserialize<T>(BinaryData input) => typeof(T) == typeof(SealedState)
        ? (T)(object)new SealedState(input.ToArray())
        : throw new InvalidOperationException($"The database provider was asked for a {typeof(T).Name}; grain state is read only through EncryptingGrainStorage.");
}
