using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace CrossAttention.Api.Tests.Support;

/// <summary>The real app in memory, with settings and a hand-moved clock chosen per test class.</summary>
public class ApiFactory : WebApplicationFactory<Program>
{
    public ManualTimeProvider Time { get; } = new(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero));

    /// <summary>Configuration keys (e.g. "CrossAttention:Cache:SizeLimitBytes") laid over appsettings.json.</summary>
    public Dictionary<string, string?> Settings { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Production");
        builder.ConfigureAppConfiguration(config => config.AddInMemoryCollection(Settings));
        builder.ConfigureTestServices(services =>
        {
            services.RemoveAll<TimeProvider>();
            services.AddSingleton<TimeProvider>(Time);
        });
    }
}

/// <summary>
/// A clock that moves only when told, so expiry is tested without waiting. Its timers fire on <see cref="Advance"/>
/// (on the caller's thread, once per advance however many periods it spans), never on their own.
/// </summary>
public sealed class ManualTimeProvider(DateTimeOffset start) : TimeProvider
{
    private readonly List<ManualTimer> _timers = [];
    private long _ticks = start.UtcTicks;

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

    public void Advance(TimeSpan by)
    {
        long now = Interlocked.Add(ref _ticks, by.Ticks);
        ManualTimer[] timers;
        lock (_timers) timers = [.. _timers];
        foreach (var timer in timers) timer.FireIfDue(now);
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ManualTimer(this, callback, state);
        timer.Change(dueTime, period);
        lock (_timers) _timers.Add(timer);
        return timer;
    }

    private sealed class ManualTimer(ManualTimeProvider clock, TimerCallback callback, object? state) : ITimer
    {
        private long _dueTicks = long.MaxValue, _periodTicks;

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            long now = clock.GetUtcNow().UtcTicks;
            Interlocked.Exchange(ref _periodTicks, period == Timeout.InfiniteTimeSpan ? 0 : period.Ticks);
            Interlocked.Exchange(ref _dueTicks, dueTime == Timeout.InfiniteTimeSpan ? long.MaxValue : now + dueTime.Ticks);
            return true;
        }

        public void FireIfDue(long now)
        {
            long due = Interlocked.Read(ref _dueTicks);
            if (due > now) return;
            long period = Interlocked.Read(ref _periodTicks);
            if (Interlocked.CompareExchange(ref _dueTicks, period > 0 ? now + period : long.MaxValue, due) != due) return;
            callback(state);
        }

        public void Dispose()
        {
            Interlocked.Exchange(ref _dueTicks, long.MaxValue);
            lock (clock._timers) clock._timers.Remove(this);
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
