using Microsoft.AspNetCore.Hosting.StaticWebAssets;

namespace CrossAttention.Api.Features.Explorer;

/// <summary>The attention explorer: a static page (wwwroot, no build step) that drives the API from the browser.</summary>
public static class ExplorerPage
{
    public static WebApplication MapExplorerPage(this WebApplication app)
    {
        // A publish puts wwwroot (and its precompressed copies) next to the app. A build leaves the files in the project
        // and the compressed copies in obj, listed in a manifest beside the binaries that ASP.NET reads only in
        // Development; read it in any environment (the tests run as Production). Without the manifest it does nothing.
        if (!app.Environment.IsDevelopment())
            StaticWebAssetsLoader.UseStaticWebAssets(app.Environment, app.Configuration);
        // The page asks for the API key itself, so it and its files are served to anyone (like /health and Swagger).
        app.MapStaticAssets().AllowAnonymous();
        // The page is also the site's root.
        app.MapGet("/", () => TypedResults.Redirect("/index.html")).ExcludeFromDescription().AllowAnonymous();
        return app;
    }
}
