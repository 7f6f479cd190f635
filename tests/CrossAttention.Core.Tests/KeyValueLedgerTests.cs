using CrossAttention.Core.Caching;
using CrossAttention.Core.Kernels;
using CrossAttention.Core.Models;

namespace CrossAttention.Core.Tests;

/// <summary>One budget for reserved, live, leased and pooled K/V bytes; admission and eviction decided by it.</summary>
public class KeyValueLedgerTests
{
    private static readonly CrossAttentionModel Model = DemoModel.Create(layers: 2);

    private sealed class Holder(long lastUsedTicks) : IKeyValueHolder
    {
        public KeyValueHolding? Holding { get; set; }
        public long LastUsedTicks { get; set; } = lastUsedTicks;
        public bool InUse { get; set; }
        public int Evictions { get; private set; }

        public void Evict()
        {
            Evictions++;
            Holding!.End();
            if (!InUse) Holding.Release();
        }
    }

    private static KeyValueHolding Store(KeyValueLedger ledger, long bytes, Holder holder, bool evict = false)
    {
        Assert.Equal(KeyValueReservationResult.Reserved, ledger.TryReserve(bytes, evict, out var reservation));
        using (reservation)
            holder.Holding = ledger.Hold(reservation!, bytes, holder);
        return holder.Holding;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(16)]
    [InlineData(300)]
    [InlineData(1500)]
    public void EncodedBytesIsExactlyWhatTheEncodeHolds(int m)
    {
        var source = new float[m * Model.SourceDim];
        var mask = new byte[m];
        mask.AsSpan().Fill(1);
        using var unmasked = Model.Encode(source, m, default, ComputeOptions.Default);
        using var masked = Model.Encode(source, m, mask, ComputeOptions.Default, new KeyValueBufferPool(1L << 30));
        Assert.Equal(unmasked.Bytes, Model.EncodedBytes(m));
        Assert.Equal(masked.Bytes, Model.EncodedBytes(m));
    }

    [Fact]
    public void ReservationsCountUntilHeldOrGivenBack()
    {
        var ledger = new KeyValueLedger(budgetBytes: 1000, poolShareBytes: 0);
        Assert.Equal(KeyValueReservationResult.Reserved, ledger.TryReserve(600, false, out var first));
        Assert.Equal(KeyValueReservationResult.Full, ledger.TryReserve(500, false, out var refused));
        Assert.Null(refused);
        Assert.Equal(KeyValueReservationResult.LargerThanBudget, ledger.TryReserve(1001, true, out _));
        Assert.Equal(600, ledger.Snapshot.ReservedBytes);

        first!.Dispose();
        first.Dispose(); // twice gives back once
        Assert.Equal(0, ledger.Snapshot.TotalBytes);

        var holding = Store(ledger, 1000, new Holder(0));
        Assert.Equal(new KeyValueLedgerSnapshot(0, 1000, 0, 0, 1, 1000), ledger.Snapshot);
        holding.End();
        Assert.Equal(1000, ledger.Snapshot.LeasedBytes);
        Assert.Equal(KeyValueReservationResult.Full, ledger.TryReserve(1, true, out _)); // leased bytes are still held
        holding.Release();
        holding.Release();
        Assert.Equal(0, ledger.Snapshot.TotalBytes);
    }

    [Fact]
    public void IdleBuffersArePartOfTheBudgetAndAreTrimmedBeforeRefusing()
    {
        var layout = new KeyValueLayout(4, 300, 16);
        long cacheBytes = KeyValueCache.BytesFor(layout);
        var ledger = new KeyValueLedger(budgetBytes: 2 * cacheBytes, poolShareBytes: 2 * cacheBytes);
        var kv = new float[300 * 64];

        Assert.Equal(KeyValueReservationResult.Reserved, ledger.TryReserve(cacheBytes, false, out var reservation));
        var cache = KeyValueCache.Create(kv, kv, 300, 4, 16, default, ledger.Pool);
        Assert.Equal(cacheBytes, cache.Bytes);
        reservation!.Dispose();
        cache.Dispose();
        long pooled = ledger.Snapshot.PooledBytes;
        Assert.True(pooled > 0);

        // The whole budget is asked for: the idle buffers go rather than the encode being refused.
        Assert.Equal(KeyValueReservationResult.Reserved, ledger.TryReserve(2 * cacheBytes, false, out var whole));
        Assert.Equal(0, ledger.Snapshot.PooledBytes);
        Assert.Equal(2 * cacheBytes, ledger.Snapshot.TotalBytes);

        // With the budget taken, a buffer handed back is not kept: nothing is held beyond the budget.
        KeyValueCache.Create(kv, kv, 300, 4, 16, default, ledger.Pool).Dispose();
        Assert.Equal(0, ledger.Snapshot.PooledBytes);
        whole!.Dispose();
    }

    [Fact]
    public void EvictionTakesTheLeastRecentlyUsedThatNoStepIsReading()
    {
        var ledger = new KeyValueLedger(budgetBytes: 300, poolShareBytes: 0);
        var oldestButReading = new Holder(lastUsedTicks: 1) { InUse = true };
        var older = new Holder(lastUsedTicks: 2);
        var newer = new Holder(lastUsedTicks: 3);
        Store(ledger, 100, oldestButReading);
        Store(ledger, 100, older);
        Store(ledger, 100, newer);

        Assert.Equal(KeyValueReservationResult.Full, ledger.TryReserve(100, evictLeastRecentlyUsed: false, out _));
        var fourth = new Holder(4);
        Store(ledger, 100, fourth, evict: true);
        Assert.Equal((0, 1, 0), (oldestButReading.Evictions, older.Evictions, newer.Evictions));
        Store(ledger, 100, new Holder(5) { InUse = true }, evict: true);
        Assert.Equal(1, newer.Evictions);

        // Every session left is being read: evicting one would free nothing now, so the encode is refused.
        fourth.InUse = true;
        Assert.Equal(KeyValueReservationResult.Full, ledger.TryReserve(100, evictLeastRecentlyUsed: true, out _));
        Assert.Equal((0, 0), (oldestButReading.Evictions, fourth.Evictions));
        Assert.Equal(300, ledger.Snapshot.LiveBytes);
    }

    [Fact]
    public void AnEvictedSessionThatAStepReadsStaysCountedAsLeased()
    {
        var ledger = new KeyValueLedger(budgetBytes: 200, poolShareBytes: 0);
        var reading = new Holder(lastUsedTicks: 1);
        Store(ledger, 100, reading);
        Store(ledger, 100, new Holder(2));
        reading.InUse = true; // a step starts after it was picked: it ends, but its bytes cannot be freed yet
        reading.Holding!.End();
        Assert.Equal(KeyValueReservationResult.Full, ledger.TryReserve(100, false, out _));
        Assert.Equal(new KeyValueLedgerSnapshot(0, 100, 100, 0, 1, 200), ledger.Snapshot);
        reading.Holding.Release(); // the step is done
        Store(ledger, 100, new Holder(3));
        Assert.Equal(new KeyValueLedgerSnapshot(0, 200, 0, 0, 2, 200), ledger.Snapshot);
    }
}
