using CrossAttention.Api.Infrastructure;
using CrossAttention.Api.Options;

namespace CrossAttention.Api.Tests.Pressure;

public class InFlightReservationTests
{
    private static InFlightBudget Budget(long limit) =>
        new(Microsoft.Extensions.Options.Options.Create(new CrossAttentionOptions { Limits = { MaxInFlightBytes = limit } }));

    [Fact]
    public void DisposingGivesBackEverythingReserved()
    {
        var budget = Budget(1000);
        var reservation = new InFlightReservation(budget);
        reservation.Reserve(300, "a body");
        reservation.Reserve(200, "a response");
        reservation.Release(100);
        Assert.Equal(400, budget.ReservedBytes);
        reservation.Dispose();
        Assert.Equal(0, budget.ReservedBytes);
    }

    [Fact]
    public void AReservationTakenAfterItsRequestEndedIsGivenStraightBack()
    {
        // A step that completes after its client went away reserves its response after the request's dispose.
        var budget = Budget(1000);
        var reservation = new InFlightReservation(budget);
        reservation.Reserve(300, "a body");
        reservation.Dispose();
        reservation.Reserve(500, "a late response");
        Assert.Equal(0, budget.ReservedBytes);
        Assert.Equal(0, reservation.Bytes);
    }

    [Fact]
    public void AReservationOverTheBudgetIsRefusedAndHoldsNothing()
    {
        var budget = Budget(1000);
        using var reservation = new InFlightReservation(budget);
        reservation.Reserve(900, "a body");
        Assert.Throws<ServerBusyException>(() => reservation.Reserve(200, "a response"));
        Assert.Equal(900, budget.ReservedBytes);
    }

    [Fact]
    public void ReleasingMoreThanIsHeldGivesBackOnlyWhatIsHeld()
    {
        var budget = Budget(1000);
        var reservation = new InFlightReservation(budget);
        reservation.Reserve(300, "a body");
        reservation.Release(500);
        Assert.Equal(0, budget.ReservedBytes);
        reservation.Dispose();
        reservation.Release(100);
        Assert.Equal(0, budget.ReservedBytes);
    }
}
