using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using CrossAttention.Api.Tests.Support;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace CrossAttention.Api.Tests;

/// <summary>
/// The explorer page at / in a real browser: it runs the tutorial example through the API and draws exactly the
/// API's matrices, labelled, with the weight on hover and the alignment path; a screenshot goes into the test results.
/// </summary>
public sealed class ExplorerPageBrowserTests(BrowserFixture fixture) : IClassFixture<BrowserFixture>
{
    private const float TimeoutMs = 30_000;

    [Fact]
    public async Task TheTutorialExampleIsDrawnExactlyAsTheApiComputesIt()
    {
        var page = await fixture.Context.NewPageAsync();
        try
        {
            page.SetDefaultTimeout(TimeoutMs);
            await page.SetViewportSizeAsync(1280, 860);
            await OpenAsync(page);

            await page.ClickAsync("#load-example");
            await Expect(page.Locator("#status")).ToContainTextAsync("Tutorial example loaded");
            await page.ClickAsync("#run");
            await Expect(page.Locator("body[data-ready=true]")).ToHaveCountAsync(1);
            await Expect(page.Locator("#status")).Not.ToHaveClassAsync("error");

            string sessionId = (await page.Locator("body").GetAttributeAsync("data-session-id"))!;
            using var http = new HttpClient { BaseAddress = fixture.BaseAddress };
            var alignment = await Alignment(http, sessionId, "");
            var expected = new Dictionary<string, float[][]>
            {
                ["head-0"] = Json.Matrix((await Alignment(http, sessionId, "&heads=0"))["matrix"]),
                ["head-1"] = Json.Matrix((await Alignment(http, sessionId, "&heads=1"))["matrix"]),
                ["average"] = Json.Matrix(alignment["matrix"]),
            };
            foreach (var (map, matrix) in expected)
            {
                var box = page.Locator($".map[data-map='{map}']");
                Assert.Equal(["I", "am", "student"], await box.Locator(".col-label").AllInnerTextsAsync());
                Assert.Equal(["मैं", "छात्र", "हूँ"], await box.Locator(".row-label").AllInnerTextsAsync());
                var cells = await Cells(box);
                Assert.Equal(9, cells.Length);
                foreach (var (row, column, value, _) in cells)
                    Assert.True(matrix[row][column] == value, $"{map}[{row},{column}]: page {value}, API {matrix[row][column]}");
            }

            var path = alignment["path"]!.AsArray().Select(p => (p![0]!.GetValue<int>(), p[1]!.GetValue<int>())).ToHashSet();
            var averageCells = await Cells(page.Locator(".map[data-map='average']"));
            Assert.Equal(path, averageCells.Where(c => c.OnPath).Select(c => (c.Row, c.Column)).ToHashSet());

            // छात्र → student, on the averaged map.
            float weight = expected["average"][1][2];
            Assert.True(weight >= 0.7f);
            await page.Locator(".map[data-map='average'] .cell[data-row='1'][data-col='2']").HoverAsync();
            await Expect(page.Locator("#tooltip")).ToBeVisibleAsync();
            await Expect(page.Locator("#tooltip")).ToHaveTextAsync($"छात्र → student: {weight.ToString("F4", CultureInfo.InvariantCulture)}");

            string file = Path.Combine(AppContext.BaseDirectory, "TestResults", "explorer.png");
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = file, FullPage = true });
            Assert.True(new FileInfo(file).Length > 10_000, $"screenshot {file} is suspiciously small");
        }
        finally
        {
            await page.CloseAsync();
        }
    }

    [Fact]
    public async Task AnApiKeyTypedIntoThePageIsSentAsABearerToken()
    {
        var page = await fixture.Context.NewPageAsync();
        try
        {
            page.SetDefaultTimeout(TimeoutMs);
            await OpenAsync(page);
            var request = page.WaitForRequestAsync(r => r.Url.EndsWith("/models", StringComparison.Ordinal));
            await page.FillAsync("#api-key", "secret-key-1");
            await page.Locator("#api-key").DispatchEventAsync("change");
            var sent = await request;
            Assert.Equal("Bearer secret-key-1", await sent.HeaderValueAsync("authorization"));
        }
        finally
        {
            await page.CloseAsync();
        }
    }

    [Fact]
    public async Task PastedVectorsOfTheWrongSizeShowTheApisProblem()
    {
        var page = await fixture.Context.NewPageAsync();
        try
        {
            page.SetDefaultTimeout(TimeoutMs);
            await OpenAsync(page);
            await page.Locator("#input-details summary").ClickAsync();
            await page.FillAsync("#input", """
                {"source":{"tokens":["a","b"],"vectors":[[1,2],[3,4]]},"target":{"tokens":["x"],"vectors":[[1,0,0,0]]}}
                """);
            await page.ClickAsync("#run");
            await Expect(page.Locator("#status.error")).ToContainTextAsync("400");
            await Expect(page.Locator("#status")).ToContainTextAsync("source");
        }
        finally
        {
            await page.CloseAsync();
        }
    }

    /// <summary>Opens the page and waits for the model list; script errors fail the test, with what the page said.</summary>
    private static async Task OpenAsync(IPage page)
    {
        var errors = new List<string>();
        page.PageError += (_, error) => errors.Add(error);
        page.Console += (_, message) => { if (message.Type == "error") errors.Add(message.Text); };
        await page.GotoAsync("/");
        try
        {
            await Expect(page.Locator("#model option[value=tutorial]")).ToHaveCountAsync(1,
                new LocatorAssertionsToHaveCountOptions { Timeout = TimeoutMs });
        }
        catch (PlaywrightException e)
        {
            string content = await page.ContentAsync();
            throw new InvalidOperationException($"The page did not list the models. Page: '{content[..Math.Min(content.Length, 600)]}'; " +
                $"script errors: {string.Join(" | ", errors)}; URL {page.Url}", e);
        }
        Assert.Empty(errors);
    }

    private static async Task<JsonObject> Alignment(HttpClient http, string sessionId, string heads) =>
        (await http.GetFromJsonAsync<JsonObject>($"/sessions/{sessionId}/alignment?layer=0{heads}"))!;

    private static async Task<(int Row, int Column, float Value, bool OnPath)[]> Cells(ILocator map)
    {
        var raw = await map.Locator(".cell").EvaluateAllAsync<string[][]>(
            "cells => cells.map(c => [c.dataset.row, c.dataset.col, c.dataset.value, String(c.classList.contains('on-path'))])");
        return [.. raw.Select(c => (int.Parse(c[0], CultureInfo.InvariantCulture), int.Parse(c[1], CultureInfo.InvariantCulture),
            float.Parse(c[2], CultureInfo.InvariantCulture), c[3] == "true"))];
    }
}
