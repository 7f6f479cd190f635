using System.Net;
using CrossAttention.Api.Catalog;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace CrossAttention.Api.Tests.Support;

/// <summary>
/// The app on a real loopback socket (Kestrel, free port) and a headless Debian Chromium driven by Playwright,
/// shared by the tests of one class. Chromium is the system package, never a Playwright download.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private readonly BrowserApiFactory _factory = new();
    private IPlaywright? _playwright;
    private IBrowser? _browser;
    private IBrowserContext? _context;

    /// <summary>Where the app listens, e.g. http://127.0.0.1:41234/.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>
    /// One browser profile for the class: each test opens its own page, and Swagger UI's scripts, once loaded and
    /// compiled, are reused from the profile's caches instead of being fetched and compiled again for every test.
    /// </summary>
    public IBrowserContext Context => _context ?? throw new InvalidOperationException("The browser was not started.");

    public async Task InitializeAsync()
    {
        // Fail (not skip) so a CI without the browser is noticed.
        if (!File.Exists(ChromiumPath))
            throw new InvalidOperationException(
                $"Chromium was not found at {ChromiumPath}; the Swagger UI browser tests need it. " +
                "Install it with `apt-get update && apt-get install -y chromium` (the CI script does this).");

        _factory.StartServer();
        BaseAddress = _factory.ClientOptions.BaseAddress;
        // Swagger's examples name the served model, so the document must not be generated before the models load.
        await _factory.Services.GetRequiredService<ModelCatalog>().WhenReady;

        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"],
        });
        _context = await _browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = BaseAddress.ToString() });
    }

    public async Task DisposeAsync()
    {
        if (_context is not null) await _context.DisposeAsync();
        if (_browser is not null) await _browser.DisposeAsync();
        _playwright?.Dispose();
        await _factory.DisposeAsync();
    }
}

/// <summary>The test app served by Kestrel on 127.0.0.1 with a port chosen by the OS, so a browser can reach it.</summary>
public sealed class BrowserApiFactory : ApiFactory
{
    public BrowserApiFactory() => UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
}
