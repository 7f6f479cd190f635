using System.Text.Json;
using CrossAttention.Api.Infrastructure;

namespace CrossAttention.Api.Contracts;

/// <summary>
/// What the request converters check while they read, so a body that will be refused stops being parsed at the token
/// that decides it (not after a 16.7M-entry array has been built), and what they allocate is reserved first. Set
/// around one synchronous <see cref="JsonSerializer.Deserialize{TValue}(ReadOnlySpan{byte}, JsonSerializerOptions?)"/>
/// call; the converters are shared, so it travels with the thread.
/// </summary>
internal sealed class JsonReadLimits(int maxRows, string rowsKey, int maxRowWidth, int maxMaskLength, InFlightReservation? reservation)
{
    [ThreadStatic] private static JsonReadLimits? t_current;

    /// <summary>The limits of the body being read on this thread; none (unbounded) outside a request.</summary>
    public static JsonReadLimits? Current => t_current;

    public int MaxRows => maxRows;

    /// <summary>The configuration key of <see cref="MaxRows"/>, for the message.</summary>
    public string RowsKey => rowsKey;
    public int MaxRowWidth => maxRowWidth;
    public int MaxMaskLength => maxMaskLength;

    /// <summary>The request's share of the in-flight budget, which what the converters allocate is reserved against.</summary>
    public InFlightReservation? Reservation => reservation;

    public T? Deserialize<T>(ReadOnlySpan<byte> utf8, JsonSerializerOptions options)
    {
        var previous = t_current;
        t_current = this;
        try
        {
            return JsonSerializer.Deserialize<T>(utf8, options);
        }
        finally
        {
            t_current = previous;
        }
    }
}

/// <summary>A limit a body broke while it was parsed: 400 naming the field (the serializer adds the JSON path).</summary>
internal sealed class BodyLimitException(string message) : JsonException(message);
