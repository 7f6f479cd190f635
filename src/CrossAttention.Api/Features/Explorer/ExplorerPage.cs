namespace CrossAttention.Api.Features.Explorer;

/// <summary>The attention explorer: a static page (wwwroot, no build step) that drives the API from the browser.</summary>
public static class ExplorerPage
{
    public static IEndpointRouteBuilder MapExplorerPage(this WebApplication app)
    {
        app.MapStaticAssets();
        // MapStaticAssets serves /index.html; the page is also the site's root.
        app.MapGet("/", () => TypedResults.Redirect("/index.html")).ExcludeFromDescription();
        return app;
    }
}
