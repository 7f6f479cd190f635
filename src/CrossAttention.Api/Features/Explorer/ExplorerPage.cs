namespace CrossAttention.Api.Features.Explorer;

/// <summary>The attention explorer: a static page (wwwroot, no build step) that drives the API from the browser.</summary>
public static class ExplorerPage
{
    public static WebApplication MapExplorerPage(this WebApplication app)
    {
        // The page asks for the API key itself, so it and its files are served to anyone (like /health and Swagger).
        app.MapStaticAssets().AllowAnonymous();
        // The page is also the site's root.
        app.MapGet("/", () => TypedResults.Redirect("/index.html")).ExcludeFromDescription().AllowAnonymous();
        return app;
    }
}
