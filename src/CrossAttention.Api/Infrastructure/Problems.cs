using Microsoft.AspNetCore.Http.HttpResults;

namespace CrossAttention.Api.Infrastructure;

/// <summary>RFC 7807 problem results with the fields every error of this service carries.</summary>
internal static class Problems
{
    public static ProblemHttpResult Create(int status, string title, string detail, IDictionary<string, object?>? extensions = null) =>
        TypedResults.Problem(detail: detail, statusCode: status, title: title, extensions: extensions);

    /// <summary>400 naming one field, for handlers whose results are typed ValidationProblem.</summary>
    public static ValidationProblem Invalid(string field, string message) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = [message] });

    /// <summary>The same 400 as a plain problem result, for the body readers (whose errors share one result type).</summary>
    public static ProblemHttpResult Validation(string field, string message) => TypedResults.Problem(
        detail: $"{field}: {message}", statusCode: StatusCodes.Status400BadRequest, title: "One or more validation errors occurred.",
        extensions: new Dictionary<string, object?> { ["errors"] = new Dictionary<string, string[]> { [field] = [message] } });

    public static NotFoundProblem NotFound(string title, string detail) => new(title, detail);
}
