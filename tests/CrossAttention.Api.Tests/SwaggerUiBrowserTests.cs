using System.Text.RegularExpressions;
using CrossAttention.Api.Tests.Support;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace CrossAttention.Api.Tests;

/// <summary>
/// In a real browser, Swagger UI's "Try it out" then "Execute" succeeds for each operation with the examples the
/// document carries, unedited.
/// </summary>
public partial class SwaggerUiBrowserTests(BrowserFixture fixture) : IClassFixture<BrowserFixture>
{
    private const float TimeoutMs = 30_000;

    [Theory]
    [InlineData("post", "/encode", 201)]
    [InlineData("post", "/decode-step", 200)]
    [InlineData("post", "/sessions/{id}/decode-step", 200)]
    [InlineData("post", "/attention", 200)]
    [InlineData("get", "/sessions/{id}", 200)]
    [InlineData("get", "/models", 200)]
    [InlineData("get", "/models/{name}", 200)]
    public async Task TryItOutThenExecuteSucceeds(string method, string path, int expectedStatus)
    {
        var page = await fixture.Context.NewPageAsync();
        try
        {
            await TryItOutThenExecuteAsync(page, method, path, expectedStatus);
        }
        finally
        {
            await page.CloseAsync();
        }
    }

    private static async Task TryItOutThenExecuteAsync(IPage page, string method, string path, int expectedStatus)
    {
        page.SetDefaultTimeout(TimeoutMs);
        await page.GotoAsync("/swagger/index.html");

        var operation = page.Locator($".opblock.opblock-{method}")
            .Filter(new LocatorFilterOptions { Has = page.Locator($".opblock-summary-path[data-path=\"{path}\"]") });
        await Expect(operation).ToHaveCountAsync(1, new LocatorAssertionsToHaveCountOptions { Timeout = TimeoutMs });

        await operation.Locator(".opblock-summary").First.ClickAsync();
        await operation.Locator("button.try-out__btn").ClickAsync();
        await operation.Locator("button.execute").ClickAsync();

        var status = operation.Locator(".live-responses-table .response .response-col_status");
        await Expect(status).ToHaveTextAsync(StatusCode(), new LocatorAssertionsToHaveTextOptions { Timeout = TimeoutMs });
        string shown = StatusCode().Match(await status.InnerTextAsync()).Value.Trim();

        Assert.True(shown == expectedStatus.ToString(), $"{method.ToUpperInvariant()} {path}: Swagger UI shows {shown}, expected " +
            $"{expectedStatus}.\nRequest sent (curl): {await TextOrNone(operation.Locator(".curl-command"))}\n" +
            $"Response body: {await TextOrNone(operation.Locator(".live-responses-table .response .response-col_description pre"))}");
    }

    private static async Task<string> TextOrNone(ILocator locator) =>
        await locator.CountAsync() > 0 ? await locator.First.InnerTextAsync() : "(none shown)";

    [GeneratedRegex(@"^\s*\d{3}")]
    private static partial Regex StatusCode();
}
