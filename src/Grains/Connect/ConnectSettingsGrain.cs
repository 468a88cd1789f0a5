using ConnectionGrid.Storage;

namespace ConnectionGrid.Connect;

/// <summary>A tenant's Connect page settings (key: the tenant id); removed with the tenant.</summary>
public sealed class ConnectSettingsGrain(
    [PersistentState("connect-settings", GridStorage.Name)] IPersistentState<ConnectSettingsState> state) : Grain, IConnectSettingsGrain
{
    public Task<ConnectSettings> Get() => Task.FromResult(state.State.Settings ?? new ConnectSettings());

    public async Task Set(ConnectSettings settings)
    {
        state.State.Settings = settings;
        await state.WriteStateAsync();
    }

    public async Task Clear()
    {
        if (state.RecordExists)
        {
            await state.ClearStateAsync();
        }
        state.State = new ConnectSettingsState();
        DeactivateOnIdle();
    }
}

[GenerateSerializer, Alias("cg.connect-settings-state")]
public sealed class ConnectSettingsState
{
    [Id(0)] public ConnectSettings? Settings { get; set; }
}
