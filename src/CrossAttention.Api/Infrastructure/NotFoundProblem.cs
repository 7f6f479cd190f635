using System.Net.Mime;
using System.Reflection;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;

namespace CrossAttention.Api.Infrastructure;

/// <summary>
/// 404 as application/problem+json (TypedResults.NotFound(problem) would send plain JSON), declared as such to the
/// OpenAPI document like the built-in typed results.
/// </summary>
public sealed class NotFoundProblem(string title, string detail) : IResult, IStatusCodeHttpResult, IValueHttpResult, IValueHttpResult<ProblemDetails>,
    IEndpointMetadataProvider
{
    public ProblemDetails Value { get; } = new()
    {
        Status = StatusCodes.Status404NotFound,
        Title = title,
        Detail = detail,
        Type = "https://tools.ietf.org/html/rfc9110#section-15.5.5",
    };

    object? IValueHttpResult.Value => Value;
    public int? StatusCode => StatusCodes.Status404NotFound;

    public Task ExecuteAsync(HttpContext httpContext) => TypedResults.Problem(Value).ExecuteAsync(httpContext);

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status404NotFound, typeof(ProblemDetails), [MediaTypeNames.Application.ProblemJson]));
}
