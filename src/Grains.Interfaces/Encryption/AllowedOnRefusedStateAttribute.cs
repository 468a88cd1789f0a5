namespace ConnectionGrid.Encryption;

/// <summary>
/// Marks a grain method that still runs when the grain's stored state failed its integrity check and was refused
/// (every other call is answered with <see cref="StorageIntegrityException"/>): one that deletes that state without
/// reading it, so the operator's remedy, deleting the resource and creating it again, works.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class AllowedOnRefusedStateAttribute : Attribute;
