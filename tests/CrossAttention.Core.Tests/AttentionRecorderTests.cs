using CrossAttention.Core.Alignment;

namespace CrossAttention.Core.Tests;

public class AttentionRecorderTests
{
    [Fact]
    public void StepsAreKeptInTheOrderTheyWereAppendedPerHead()
    {
        var recorder = new AttentionRecorder(layers: 2, heads: 2, sourceLength: 3, maxSteps: 8);
        // A step of two query rows: [heads, n, m]
        float[] first =
        [
            1, 2, 3, /* head 0, row 0 */ 4, 5, 6, /* head 0, row 1 */
            7, 8, 9, /* head 1, row 0 */ 10, 11, 12, /* head 1, row 1 */
        ];
        float[] second = [13, 14, 15, 16, 17, 18];
        Assert.True(recorder.TryReserve(1, 2));
        Assert.True(recorder.TryReserve(1, 1));
        recorder.Append(1, first, 2);
        recorder.Append(1, second, 1);

        Assert.Equal(3, recorder.RecordedSteps(1));
        Assert.Equal(0, recorder.RecordedSteps(0));
        var heads = recorder.Read(1, [1, 0], out int steps);
        Assert.Equal(3, steps);
        Assert.Equal([7f, 8, 9, 10, 11, 12, 16, 17, 18], heads[0]);
        Assert.Equal([1f, 2, 3, 4, 5, 6, 13, 14, 15], heads[1]);
    }

    [Fact]
    public void AStepPastTheCapIsRefusedBeforeItComputesAndACancelledOneFreesItsRoom()
    {
        var recorder = new AttentionRecorder(1, 1, 2, maxSteps: 3);
        Assert.True(recorder.TryReserve(0, 2));
        Assert.False(recorder.TryReserve(0, 2));
        recorder.CancelReservation(0, 2);
        Assert.True(recorder.TryReserve(0, 3));
        Assert.False(recorder.TryReserve(0, 1));
        recorder.Append(0, new float[6], 3);
        Assert.False(recorder.TryReserve(0, 1));
        Assert.Equal(3, recorder.RecordedSteps(0));
    }

    [Fact]
    public void AppendingWithoutAReservationThrows()
    {
        var recorder = new AttentionRecorder(1, 1, 2, 3);
        Assert.Throws<InvalidOperationException>(() => recorder.Append(0, new float[2], 1));
    }

    [Fact]
    public void TheWholeCapacityIsChargedAndMemoryIsAllocatedOnlyAsRowsArrive()
    {
        var recorder = new AttentionRecorder(layers: 2, heads: 4, sourceLength: 1000, maxSteps: 10);
        Assert.Equal(4L * 2 * 10 * 4 * 1000, recorder.Bytes);
        Assert.Equal(0, recorder.AllocatedBytes);
        Assert.True(recorder.TryReserve(0, 1));
        recorder.Append(0, new float[4 * 1000], 1);
        Assert.InRange(recorder.AllocatedBytes, 4L * 4 * 1000, recorder.Bytes / 2);
        for (int i = 1; i < 10; i++)
        {
            Assert.True(recorder.TryReserve(0, 1));
            recorder.Append(0, new float[4 * 1000], 1);
        }
        Assert.Equal(recorder.Bytes / 2, recorder.AllocatedBytes); // layer 0 full, layer 1 untouched
    }

    [Fact]
    public void ConcurrentStepsAreAllRecordedWhole()
    {
        var recorder = new AttentionRecorder(1, 2, 5, maxSteps: 400);
        Parallel.For(0, 400, i =>
        {
            Assert.True(recorder.TryReserve(0, 1));
            var attention = new float[10];
            attention.AsSpan().Fill(i);
            recorder.Append(0, attention, 1);
        });
        var heads = recorder.Read(0, [0, 1], out int steps);
        Assert.Equal(400, steps);
        for (int i = 0; i < steps; i++)
        {
            // Each row holds one step's values only, and both heads agree on which step is at row i.
            float v = heads[0][i * 5];
            Assert.All(heads[0].AsSpan(i * 5, 5).ToArray(), x => Assert.Equal(v, x));
            Assert.All(heads[1].AsSpan(i * 5, 5).ToArray(), x => Assert.Equal(v, x));
        }
        Assert.Equal(Enumerable.Range(0, 400).Select(i => (float)i), Enumerable.Range(0, 400).Select(i => heads[0][i * 5]).Order());
    }
}
