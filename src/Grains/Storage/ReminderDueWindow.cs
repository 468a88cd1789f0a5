using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Storage;

/// <summary>
/// What the due-window reminder read returns (<see cref="DueWindowReminderTable"/>): the rows of a hash range whose
/// next tick falls before <c>now + Horizon</c>. Orleans 10.x keeps in memory only reminders whose next tick is within
/// its <c>ReminderLoadingWindow</c> of the moment it reconciles, and stops a loaded one whose row a read leaves out; so
/// any horizon of at least the loading window (plus the read's own duration) keeps its behaviour exactly. The horizon
/// adds the refresh period on top, so a reminder would still be loaded one reload before it is due by a reminder
/// service that did not filter by itself.
/// </summary>
public static class ReminderDueWindow
{
    /// <summary>Hash buckets of the due index: the top 10 bits of the signed hash, <c>GrainHash &gt;&gt; 22</c>.</summary>
    public const int BucketShift = 22;

    public const int MinBucket = int.MinValue >> BucketShift;

    public const int MaxBucket = int.MaxValue >> BucketShift;

    public static TimeSpan Horizon(TimeSpan refreshPeriod, TimeSpan loadingWindow, TimeSpan margin) => refreshPeriod + loadingWindow + margin;

    /// <summary>
    /// Whether Orleans' ADO.NET provider reads the range (begin, end] as one signed interval (else as its two ends,
    /// which is also the whole ring when begin equals end). The same rule as the provider's, so both reads agree.
    /// </summary>
    public static bool IsSignedInterval(uint begin, uint end) => (int)begin < (int)end;

    /// <summary>The index buckets that hold the hashes of the range (begin, end], in signed order, each once.</summary>
    public static int[] Buckets(uint begin, uint end)
    {
        var first = (int)begin >> BucketShift;
        var last = (int)end >> BucketShift;
        if (IsSignedInterval(begin, end))
        {
            return Enumerable.Range(first, last - first + 1).ToArray();
        }
        // Wrapping: from begin's bucket to the top, and from the bottom to end's; they may overlap.
        if (last >= first)
        {
            return Enumerable.Range(MinBucket, MaxBucket - MinBucket + 1).ToArray();
        }
        return Enumerable.Range(MinBucket, last - MinBucket + 1).Concat(Enumerable.Range(first, MaxBucket - first + 1)).ToArray();
    }
}

/// <summary>The <c>Grid:Reminders</c> section: how the reminder table is read on PostgreSQL.</summary>
public sealed class ReminderReadOptions
{
    public const string Section = "Grid:Reminders";

    /// <summary>
    /// Added to the due-window horizon (refresh period + loading window), and the clock skew allowed between silos
    /// when a periodic row's due time is moved forward: a silo whose clock is behind by less never finds it moved past
    /// a tick it still waits for.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan DueWindowMargin { get; set; } = TimeSpan.FromMinutes(1);
}

[OptionsValidator]
internal sealed partial class ReminderReadOptionsValidator : IValidateOptions<ReminderReadOptions>;
