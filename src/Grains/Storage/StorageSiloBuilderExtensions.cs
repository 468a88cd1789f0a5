using ConnectionGrid.Configuration;
using ConnectionGrid.Encryption;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Configuration.Overrides;
using Orleans.Reminders;
using Orleans.Runtime.Hosting;
using Orleans.Serialization.Serializers;
using Orleans.Storage;

namespace ConnectionGrid.Storage;

public static class StorageSiloBuilderExtensions
{
    /// <summary>
    /// The grid database (<c>Grid:DataDirectory</c>, <c>Grid:Storage</c>): its schema, every grain state on it (sealed by
    /// <c>AddGridEncryption</c>'s cipher, queued by the write gate), and the grid's own queries of it.
    /// </summary>
    public static ISiloBuilder AddGridStorage(this ISiloBuilder silo)
    {
        var services = silo.Services;
        services.AddGridDatabase();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, GridMigrationsParticipant>();

        services.AddSingleton<StorageWriteGate>();
        silo.AddAdoNetGrainStorage(GridStorage.AdoNetProviderName, (OptionsBuilder<AdoNetGrainStorageOptions> options) =>
            options.Configure<GridStorage>((o, storage) =>
            {
                o.Invariant = storage.Invariant;
                storage.ConfigureProvider(cs => o.ConnectionString = cs, ds => o.DataSource = ds);
                // The provider only ever stores bytes sealed by EncryptingGrainStorage below.
                o.GrainStorageSerializer = new SealedStateSerializer();
                // Deleting a connection deletes its row: nothing of it stays readable.
                o.DeleteStateOnClear = true;
            }));
        // Orleans' versioned binary format ([Id]/[Alias] survive renames; the default is $type JSON), sealed with
        // AES-256-GCM for its row (state name and grain id, which the provider's serializer never sees), then queued.
        services.AddGrainStorage(GridStorage.Name, (sp, _) => new GatedGrainStorage(
            new EncryptingGrainStorage(
                sp.GetRequiredKeyedService<IGrainStorage>(GridStorage.AdoNetProviderName),
                sp.GetRequiredService<StateCipher>(),
                sp.GetRequiredService<OrleansGrainStorageSerializer>(),
                sp.GetRequiredService<IActivatorProvider>(),
                sp.GetRequiredService<RefusedStates>(),
                // The service id the provider itself writes into each row.
                sp.GetProviderClusterOptions(GridStorage.AdoNetProviderName).Value.ServiceId,
                sp.GetRequiredService<ILogger<EncryptingGrainStorage>>()),
            sp.GetRequiredService<StorageWriteGate>()));
        services.TryAddSingleton<OrleansGrainStorageSerializer>();

        services.TryAddSingleton<SqlGridIndex>();
        services.TryAddSingleton<IGridIndex>(sp => sp.GetRequiredService<SqlGridIndex>());
        services.AddSingleton<TenantResidue>();
        return silo;
    }

    /// <summary>
    /// The grid database alone (<c>Grid:DataDirectory</c>, <c>Grid:Storage</c>, validated at start): its
    /// <see cref="GridStorage"/> (on PostgreSQL the one <c>NpgsqlDataSource</c> of the process) and its migrations.
    /// What <c>Silo migrate</c> and a separate gateway need of it.
    /// </summary>
    public static IServiceCollection AddGridDatabase(this IServiceCollection services)
    {
        services.AddOptions<GridOptions>().BindConfiguration(GridOptions.Section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<GridOptions>, GridOptionsValidator>());
        services.AddOptions<StorageOptions>().BindConfiguration(StorageOptions.Section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<StorageOptions>, StorageOptionsValidator>());

        // Built from the validated options when first needed (it creates the SQLite file 0600).
        services.TryAddSingleton(sp => GridStorage.FromOptions(
            sp.GetRequiredService<IOptions<GridOptions>>().Value, sp.GetRequiredService<IOptions<StorageOptions>>().Value));
        services.TryAddSingleton<GridMigrations>();
        return services;
    }

    /// <summary>Orleans reminders on the grid database, their writes queued through the same gate as grain state.</summary>
    public static ISiloBuilder AddGridReminders(this ISiloBuilder silo)
    {
        var services = silo.Services;
        silo.UseAdoNetReminderService((OptionsBuilder<AdoNetReminderTableOptions> options) =>
            options.Configure<GridStorage>((o, storage) =>
            {
                o.Invariant = storage.Invariant;
                storage.ConfigureProvider(cs => o.ConnectionString = cs, ds => o.DataSource = ds);
            }));
        // The ADO.NET table is internal: wrap its registration.
        var reminderTable = services.Last(d => d.ServiceType == typeof(IReminderTable));
        var reminderTableType = reminderTable.ImplementationType
            ?? throw new InvalidOperationException("The ADO.NET reminder table is no longer registered by type; the write gate cannot wrap it.");
        services.Remove(reminderTable);
        services.AddOptions<ReminderReadOptions>().BindConfiguration(ReminderReadOptions.Section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ReminderReadOptions>, ReminderReadOptionsValidator>());
        services.AddSingleton<IReminderTable>(sp =>
        {
            var storage = sp.GetRequiredService<GridStorage>();
            var table = (IReminderTable)ActivatorUtilities.CreateInstance(sp, reminderTableType);
            if (storage.Provider == StorageProvider.PostgreSQL)
            {
                // Each reload reads only the rows due soon (SQLite stays single-node and reads its whole, smaller table).
                var reminders = sp.GetRequiredService<IOptions<ReminderOptions>>().Value;
                var margin = sp.GetRequiredService<IOptions<ReminderReadOptions>>().Value.DueWindowMargin;
                table = new DueWindowReminderTable(table, storage,
                    sp.GetRequiredKeyedService<TimeProvider>(ReminderTimeProviderNames.Reminders),
                    sp.GetRequiredService<IOptions<ClusterOptions>>().Value.ServiceId,
                    ReminderDueWindow.Horizon(reminders.RefreshReminderListPeriod, reminders.ReminderLoadingWindow, margin),
                    margin,
                    sp.GetRequiredService<ILogger<DueWindowReminderTable>>());
            }
            return new GatedReminderTable(table, sp.GetRequiredService<StorageWriteGate>());
        });
        return silo;
    }
}
