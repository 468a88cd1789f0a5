using ConnectionGrid.Storage;

namespace ConnectionGrid.Tests.Unit;

/// <summary>The hash buckets the due-window read asks the index for: every hash of the range, and no more than needed.</summary>
public sealed class ReminderDueWindowTests
{
    // Orleans' ring ranges are (begin, end] on unsigned hashes, wrapping past 2^32 - 1; begin == end is the whole ring.
    private static bool InRange(uint hash, uint begin, uint end) =>
        begin < end ? hash > begin && hash <= end : hash > begin || hash <= end;

    // The index bucket of a hash as the SQL computes it on the stored signed value: GrainHash >> 22.
    private static int Bucket(uint hash) => (int)hash >> 22;

    [Theory]
    [InlineData(0u, 0u, 1024)]
    [InlineData(0x12345678u, 0x12345678u, 1024)]
    [InlineData(0x40000000u, 0x403FFFFFu, 1)]
    [InlineData(0x40000000u, 0x40400000u, 2)]
    [InlineData(0x7FFFFFFFu, 0x80000000u, 2)] // crosses int's sign: the two ends of the signed order
    [InlineData(0xFFFFFFFFu, 0x00000001u, 2)] // wraps at 2^32
    public void A_range_asks_for_the_buckets_its_hashes_fall_in(uint begin, uint end, int buckets)
    {
        var asked = ReminderDueWindow.Buckets(begin, end);
        Assert.Equal(buckets, asked.Length);
        Assert.Equal(asked.Length, asked.Distinct().Count());
        Assert.All(asked, b => Assert.InRange(b, -512, 511));
    }

    [Fact]
    public void Every_hash_of_a_range_is_in_a_bucket_asked_for_and_every_bucket_asked_holds_one_of_its_hashes()
    {
        var random = new Random(22);
        for (var i = 0; i < 2_000; i++)
        {
            var begin = (uint)random.NextInt64(0, 1L << 32);
            // Small, large and wrapping ranges.
            var end = i % 3 == 0 ? begin + (uint)random.Next(1, 1 << 24) : (uint)random.NextInt64(0, 1L << 32);
            var asked = ReminderDueWindow.Buckets(begin, end).ToHashSet();
            for (var j = 0; j < 50; j++)
            {
                var hash = (uint)random.NextInt64(0, 1L << 32);
                if (InRange(hash, begin, end))
                {
                    Assert.Contains(Bucket(hash), asked);
                }
            }
            // The first and last hash of the range, and the hash just past it.
            Assert.Contains(Bucket(begin + 1), asked);
            Assert.Contains(Bucket(end), asked);
            // No bucket wholly outside the range: each asked bucket's lowest or highest hash, or begin's/end's, is in it.
            foreach (var bucket in asked)
            {
                var low = (uint)(bucket << 22);
                var high = low + (1u << 22) - 1;
                Assert.True(InRange(low, begin, end) || InRange(high, begin, end) || Bucket(begin + 1) == bucket || Bucket(end) == bucket,
                    $"bucket {bucket} holds no hash of ({begin}, {end}]");
            }
        }
    }

    [Fact]
    public void The_horizon_covers_a_refresh_period_and_the_loading_window_beyond_now()
    {
        var horizon = ReminderDueWindow.Horizon(TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(1));
        Assert.Equal(TimeSpan.FromMinutes(16), horizon);
    }
}
