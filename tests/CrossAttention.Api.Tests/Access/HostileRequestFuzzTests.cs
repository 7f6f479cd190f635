using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using CrossAttention.Api.Sessions;
using CrossAttention.Api.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace CrossAttention.Api.Tests.Access;

/// <summary>A small demo model (d = 8) and a small body limit: the fuzz is about the shape of requests, not their size.</summary>
public sealed class FuzzApiFactory : KeyedApiFactory
{
    public const string Bystander = "bystander";
    public const string BystanderKey = "tk_by_Wq5rN8tZ2xK7mC4vJ1";
    public const string Throttled = "throttled";
    public const string ThrottledKey = "tk_th_Pd3fG9hL6sA2eY8uB5";
    public const int MaxRequestBytes = 64 * 1024;

    public FuzzApiFactory()
    {
        Settings["CrossAttention:Demo:DModel"] = "8";
        Settings["CrossAttention:Demo:Heads"] = "2";
        Settings["CrossAttention:Demo:Layers"] = "2";
        Settings["CrossAttention:Limits:MaxRequestBytes"] = MaxRequestBytes.ToString(CultureInfo.InvariantCulture);
        Settings["CrossAttention:Limits:MaxSourceLength"] = "64";
        Settings["CrossAttention:Limits:MaxQueries"] = "16";
        AddKey(Settings, 2, Bystander, BystanderKey);
        AddKey(Settings, 3, Throttled, ThrottledKey);
        Settings["CrossAttention:Auth:ApiKeys:3:TokensPerSecond"] = "1";
        Settings["CrossAttention:Auth:ApiKeys:3:BurstTokens"] = "40";
    }
}

/// <summary>
/// More than 10,000 seeded malformed and hostile requests across every endpoint, with keys configured: each is answered
/// 4xx problem+json (401, 404 and 429 included), never 5xx; a bystander's session answers bit for bit as before; no
/// session is created by any of them; the process stays healthy.
/// </summary>
public sealed class HostileRequestFuzzTests(FuzzApiFactory factory, Xunit.Abstractions.ITestOutputHelper output) : IClassFixture<FuzzApiFactory>
{
    private const int D = 8;
    private const int Requests = 10_400;
    private const int Seed = 20261202;

    private enum Caller { Fuzzer, Throttled, MissingKey, BadKey }

    private sealed record Probe(string Kind, HttpMethod Method, string Url, Func<HttpContent?> Content, string? Accept = null);

    [Fact]
    public async Task NoHostileRequestGetsA5xxOrTouchesAnotherSession()
    {
        var bystander = Client(FuzzApiFactory.BystanderKey);
        var fuzzer = factory.ClientFor(KeyedApiFactory.TeamA);
        string bystanderId = await EncodeAsync(bystander, 5);
        string fuzzerId = await EncodeAsync(fuzzer, 4);
        var before = await BystanderOutputsAsync(bystander, bystanderId);

        var context = new FuzzContext(bystanderId, fuzzerId);
        var clients = new Dictionary<Caller, HttpClient>
        {
            [Caller.Fuzzer] = fuzzer,
            [Caller.Throttled] = Client(FuzzApiFactory.ThrottledKey),
            [Caller.MissingKey] = factory.CreateClient(),
            [Caller.BadKey] = factory.CreateClient(),
        };
        var statuses = new System.Collections.Concurrent.ConcurrentDictionary<int, int>();
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        const int workers = 4;
        await Task.WhenAll(Enumerable.Range(0, workers).Select(worker => Task.Run(async () =>
        {
            for (int i = worker; i < Requests; i += workers)
            {
                var random = new Random(Seed + i);
                var probe = context.Next(random);
                var caller = random.Next(10) switch { < 6 => Caller.Fuzzer, 6 => Caller.Throttled, 7 or 8 => Caller.BadKey, _ => Caller.MissingKey };
                using var request = new HttpRequestMessage(probe.Method, probe.Url) { Content = probe.Content() };
                if (probe.Accept is not null) request.Headers.TryAddWithoutValidation("Accept", probe.Accept);
                if (caller == Caller.BadKey) AddBadKey(request, random);
                using var response = await clients[caller].SendAsync(request);
                int status = (int)response.StatusCode;
                statuses.AddOrUpdate(status, 1, (_, n) => n + 1);
                string? type = response.Content.Headers.ContentType?.MediaType;
                if (status is < 400 or >= 500 || type != "application/problem+json"
                    || (caller is Caller.MissingKey or Caller.BadKey && status != 401))
                {
                    failures.Enqueue($"#{i} {probe.Kind} as {caller}: {probe.Method} {Truncate(probe.Url)} → {status} {type} " +
                        Truncate(await response.Content.ReadAsStringAsync()));
                }
            }
        })));

        output.WriteLine("statuses: " + string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key} × {s.Value}")));
        Assert.True(failures.IsEmpty, $"{failures.Count} of {Requests} requests were not answered 4xx problem+json:\n" +
            string.Join("\n", failures.Take(20)));
        // The fuzz reached every kind of refusal it is meant to provoke.
        foreach (int expected in new[] { 400, 401, 404, 413, 415, 429 })
            Assert.True(statuses.GetValueOrDefault(expected) > 0, $"no {expected} among {string.Join(", ", statuses.OrderBy(s => s.Key))}");

        Assert.Equal(before, await BystanderOutputsAsync(bystander, bystanderId));
        Assert.Equal(HttpStatusCode.OK, (await fuzzer.GetAsync($"/sessions/{fuzzerId}")).StatusCode); // its own, stepped on malformedly, lives
        Assert.Equal(2, factory.Services.GetRequiredService<ISessionStore>().Usage.Count); // nobody created a session
        Assert.Equal(HttpStatusCode.OK, (await factory.CreateClient().GetAsync("/health/live")).StatusCode);
        Assert.Contains("Healthy", await factory.CreateClient().GetStringAsync("/health/ready"));
    }

    private HttpClient Client(string key)
    {
        var client = factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    private static async Task<string> EncodeAsync(HttpClient client, int rows)
    {
        var created = await client.PostAsync("/encode", Json.Body(new { model = "demo", source = Json.Rows(rows, D, rows) }));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        return (await created.ReadObjectAsync())["sessionId"]!.GetValue<string>();
    }

    /// <summary>Raw float32 outputs and attention of both layers for fixed queries, and the session's description.</summary>
    private static async Task<List<byte[]>> BystanderOutputsAsync(HttpClient client, string id)
    {
        var outputs = new List<byte[]>();
        for (int layer = 0; layer < 2; layer++)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, $"/sessions/{id}/decode-step")
            {
                Content = Json.Body(new { layer, queries = Json.Rows(3, D, 77 + layer), returnAttention = true }),
            };
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/octet-stream"));
            var response = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            outputs.Add(await response.Content.ReadAsByteArrayAsync());
        }
        var described = await (await client.GetAsync($"/sessions/{id}")).ReadObjectAsync();
        outputs.Add(Encoding.UTF8.GetBytes($"{described["sourceLength"]} {described["kvBytes"]} {described["createdAt"]}"));
        return outputs;
    }

    private static void AddBadKey(HttpRequestMessage request, Random random)
    {
        string someKey = KeyedApiFactory.Keys[KeyedApiFactory.TeamA];
        var (header, value) = random.Next(9) switch
        {
            0 => ("Authorization", "Bearer " + RandomText(random, random.Next(1, 40))),
            1 => ("X-Api-Key", RandomText(random, random.Next(1, 40))),
            2 => ("Authorization", "Bearer " + someKey[..^1]),
            3 => ("X-Api-Key", someKey + "0"),
            4 => ("Authorization", "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("team-a:" + someKey))),
            5 => ("Authorization", "Bearer " + KeyedApiFactory.Sha256(someKey)),
            6 => ("X-Api-Key", new string('k', random.Next(513, 5000))),
            7 => ("Authorization", "Bearer"),
            _ => ("Authorization", someKey.ToUpperInvariant()),
        };
        request.Headers.TryAddWithoutValidation(header, value);
    }

    private static string RandomText(Random random, int length)
    {
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.~+/=";
        return string.Create(length, random, (span, r) =>
        {
            for (int i = 0; i < span.Length; i++) span[i] = alphabet[r.Next(alphabet.Length)];
        });
    }

    private static string Truncate(string text) => text.Length <= 300 ? text : text[..300] + "…";

    /// <summary>Builds each hostile request from its own seeded generator; none of them is a valid request.</summary>
    private sealed class FuzzContext
    {
        private static readonly string[] NonFinite =
        [
            "NaN", "-NaN", "nan", "Infinity", "-Infinity", "inf", "\"NaN\"", "\"Infinity\"", "1e39", "-1e39", "3.5e38", "1e400",
            "-1e309", "0x10", ".5", "5.", "+1", "01", "1e", "--1", "1_0", "null", "true", "\"0.5\"", "[]", "{}",
        ];

        private static readonly string[] WrongValues = ["\"text\"", "5", "-1", "1.5", "true", "null", "{}", "[]", "[1,2]", "[[\"a\"]]",
            "[[true]]", "[[null]]", "2147483648", "-2147483649", "1e99", "\"\"", "[[1,2],[3]]"];

        private readonly Func<Random, Probe>[] _generators;

        public FuzzContext(string bystanderId, string fuzzerId)
        {
            BystanderId = bystanderId;
            FuzzerId = fuzzerId;
            _generators = [Truncated, Deep, WrongType, NonFiniteNumber, RaggedOrEmpty, HugeRows, WrongBinaryLength, UnknownSession,
                OtherKeysSession, WrongContentType, UnknownModel, IrregularPutId, BadQuery, TooLarge, WrongMethod];
        }

        private string BystanderId { get; }
        private string FuzzerId { get; }

        public Probe Next(Random random) => _generators[random.Next(_generators.Length)](random);

        // Valid bodies, as (kind, method, url, JSON) with placeholders the generators corrupt; every field is valid here.
        private (string Url, HttpMethod Method, string Json) ValidJson(Random random)
        {
            string source = Rows(random, random.Next(1, 5));
            string queries = Rows(random, random.Next(1, 3));
            return random.Next(5) switch
            {
                0 => ("/encode", HttpMethod.Post, $"{{\"model\":\"demo\",\"source\":{source},\"ttlSeconds\":60}}"),
                1 => ($"/sessions/{SessionIds.New()}", HttpMethod.Put, $"{{\"model\":\"demo\",\"source\":{source}}}"),
                2 => ($"/sessions/{FuzzerId}/decode-step", HttpMethod.Post, $"{{\"layer\":1,\"queries\":{queries},\"returnAttention\":true}}"),
                3 => ("/decode-step", HttpMethod.Post, $"{{\"sessionId\":\"{FuzzerId}\",\"layer\":0,\"queries\":{queries}}}"),
                _ => ("/attention", HttpMethod.Post, $"{{\"model\":\"demo\",\"layer\":0,\"source\":{source},\"queries\":{queries}}}"),
            };
        }

        private static string Rows(Random random, int rows, int columns = D) =>
            "[" + string.Join(",", Enumerable.Range(0, rows).Select(_ => Row(random, columns))) + "]";

        private static string Row(Random random, int columns) =>
            "[" + string.Join(",", Enumerable.Range(0, columns).Select(_ => ((float)(random.NextDouble() * 2 - 1)).ToString("R", CultureInfo.InvariantCulture))) + "]";

        private static Probe JsonProbe(string kind, (string Url, HttpMethod Method, string _) target, string json, string? accept = null) =>
            new(kind, target.Method, target.Url, () => Json.Raw(json), accept);

        private static string Accept(Random random) =>
            random.Next(4) switch { 0 => "application/octet-stream", 1 => "application/json", 2 => "*/*", _ => "text/html" };

        private Probe Truncated(Random random)
        {
            var target = ValidJson(random);
            return JsonProbe("truncated", target, target.Json[..random.Next(target.Json.Length)], Accept(random));
        }

        private Probe Deep(Random random)
        {
            var target = ValidJson(random);
            int depth = random.Next(65, 3000);
            string deep = new string('[', depth) + "0.5" + new string(']', depth);
            string json = random.Next(3) == 0 ? deep : ReplaceMatrix(target.Json, deep);
            return JsonProbe("deep", target, json);
        }

        private Probe WrongType(Random random)
        {
            var target = ValidJson(random);
            string value = WrongValues[random.Next(WrongValues.Length)];
            string json = random.Next(4) switch
            {
                0 => ReplaceMatrix(target.Json, value == "[1,2]" || value == "[]" ? "[[]]" : value),
                // Not "0": web JSON defaults read numbers from strings, so a quoted digit is a valid layer.
                1 when target.Json.Contains("\"layer\"") => ReplaceField(target.Json, "layer", value is "5" or "-1" or "2147483648" ? value : "\"zero\""),
                2 when target.Json.Contains("\"model\"") => ReplaceField(target.Json, "model", value is "\"text\"" ? "\"\"" : value),
                2 when target.Json.Contains("\"sessionId\"") => ReplaceField(target.Json, "sessionId", value is "\"text\"" or "\"\"" ? "\"\"" : value),
                // A repeated property counts as its last value, so this overrides a valid one.
                _ => target.Json[..^1] + (target.Json.Contains("\"queries\"")
                    ? ",\"returnAttention\":\"maybe\"}"
                    : ",\"sourceMask\":[1,2,0,1,1,1,1]}"),
            };
            if (json == target.Json) json = "{" + json; // the field was not there to corrupt: still never valid
            return JsonProbe("wrong type", target, json);
        }

        private Probe NonFiniteNumber(Random random)
        {
            var target = ValidJson(random);
            int at = NthNumberStart(target.Json, random);
            int end = at;
            while (end < target.Json.Length && (char.IsAsciiDigit(target.Json[end]) || target.Json[end] is '.' or '-' or 'E' or 'e' or '+')) end++;
            string json = target.Json[..at] + NonFinite[random.Next(NonFinite.Length)] + target.Json[end..];
            return JsonProbe("non-finite", target, json);
        }

        private Probe RaggedOrEmpty(Random random)
        {
            var target = ValidJson(random);
            string matrix = random.Next(5) switch
            {
                0 => "[]",
                1 => "[[]]",
                2 => "[" + Row(random, D) + "," + Row(random, D - 1 - random.Next(D - 1)) + "]",
                3 => Rows(random, random.Next(1, 4), D + 1 + random.Next(4)),
                _ => Rows(random, random.Next(1, 4), random.Next(1, D)),
            };
            if (target.Url.EndsWith("/attention", StringComparison.Ordinal) && random.Next(2) == 0)
                return JsonProbe("ragged", target, target.Json.Replace("\"queries\":", "\"queries\":" + matrix + ",\"x\":", StringComparison.Ordinal));
            return JsonProbe("ragged", target, ReplaceMatrix(target.Json, matrix));
        }

        private Probe HugeRows(Random random)
        {
            string rows = new[] { "2147483647", "4294967296", "-1", "0", "abc", "1e9", "65", "99999", "1.5", "" }[random.Next(10)];
            string url = random.Next(2) == 0
                ? $"/encode?model=demo&rows={rows}"
                : random.Next(2) == 0 ? $"/sessions/{FuzzerId}/decode-step?layer=0&rows={rows}" : $"/sessions/{SessionIds.New()}?model=demo&rows={rows}";
            var method = url.StartsWith("/sessions/", StringComparison.Ordinal) && !url.Contains("decode-step") ? HttpMethod.Put : HttpMethod.Post;
            if (rows == "65" && url.Contains("decode-step")) rows = "17"; // over MaxQueries for steps
            url = url.Replace("rows=65", "rows=" + rows, StringComparison.Ordinal);
            var bytes = new byte[random.Next(0, 4) * D * sizeof(float)];
            return new Probe("huge rows", method, url, () => Raw(bytes));
        }

        private Probe WrongBinaryLength(Random random)
        {
            int rows = random.Next(1, 4);
            int[] deltas = [-4, -1, 1, 3, 4, 8 * sizeof(float), -rows * D * sizeof(float)];
            var bytes = new byte[rows * D * sizeof(float) + deltas[random.Next(deltas.Length)]];
            random.NextBytes(bytes);
            string url = random.Next(3) switch
            {
                0 => $"/encode?model=demo&rows={rows}",
                1 => $"/sessions/{SessionIds.New()}?model=demo&rows={rows}",
                _ => $"/sessions/{FuzzerId}/decode-step?layer={random.Next(2)}&rows={rows}",
            };
            var method = url.Contains("?model=") && url.StartsWith("/sessions/", StringComparison.Ordinal) ? HttpMethod.Put : HttpMethod.Post;
            return new Probe("binary length", method, url, () => Raw(bytes), Accept(random));
        }

        private Probe UnknownSession(Random random) => SessionProbe("unknown session", SessionIds.New(), random);

        private Probe OtherKeysSession(Random random) => SessionProbe("other key's session", BystanderId, random);

        /// <summary>Well-formed requests on a session the caller does not own (or nobody has): all 404, and never a delete.</summary>
        private static Probe SessionProbe(string kind, string id, Random random)
        {
            string queries = Rows(random, 1);
            return random.Next(5) switch
            {
                0 => new(kind, HttpMethod.Get, $"/sessions/{id}", () => null),
                1 => new(kind, HttpMethod.Delete, $"/sessions/{id}", () => null),
                2 => new(kind, HttpMethod.Post, $"/sessions/{id}/decode-step", () => Json.Raw($"{{\"layer\":0,\"queries\":{queries}}}"), Accept(random)),
                3 => new(kind, HttpMethod.Post, "/decode-step", () => Json.Raw($"{{\"sessionId\":\"{id}\",\"layer\":1,\"queries\":{queries}}}")),
                _ => new(kind, HttpMethod.Post, $"/sessions/{id}/decode-step?layer=0&rows=1", () => Raw(new byte[D * sizeof(float)])),
            };
        }

        private Probe WrongContentType(Random random)
        {
            var target = ValidJson(random);
            string? type = new[] { "text/plain", "application/xml", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded", null }[random.Next(5)];
            return new Probe("content type", target.Method, target.Url, () =>
            {
                var content = new ByteArrayContent(Encoding.UTF8.GetBytes(target.Json));
                if (type is not null) content.Headers.ContentType = MediaTypeHeaderValue.Parse(type);
                return content;
            });
        }

        private Probe UnknownModel(Random random)
        {
            string model = new[] { "no-such-model", "demo/../demo", "DEMO", "demo ", "%00", "\\u0000demo", "" }[random.Next(7)];
            return random.Next(3) switch
            {
                0 => new Probe("unknown model", HttpMethod.Get, $"/models/{Uri.EscapeDataString(model == "" ? "x" : model)}", () => null),
                1 => new Probe("unknown model", HttpMethod.Post, "/encode", () => Json.Raw($"{{\"model\":\"{model}\",\"source\":{Rows(random, 2)}}}")),
                _ => new Probe("unknown model", HttpMethod.Post, "/attention",
                    () => Json.Raw($"{{\"model\":\"{model}\",\"layer\":0,\"source\":{Rows(random, 2)},\"queries\":{Rows(random, 1)}}}")),
            };
        }

        private Probe IrregularPutId(Random random)
        {
            string id = new[] { "aaaaaaaaaaaaaaaa", "abababababababab", "0123456789abcdef", "short", "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                "has.dots.in.it.Xq7Lp2", new string('x', 200), "Zk3x_acegikmoq9W" }[random.Next(8)];
            string body = $"{{\"model\":\"demo\",\"source\":{Rows(random, 2)}}}";
            return new Probe("irregular id", HttpMethod.Put, $"/sessions/{Uri.EscapeDataString(id)}", () => Json.Raw(body));
        }

        private Probe BadQuery(Random random)
        {
            string query = new[] { "layer=abc&rows=1", "layer=-1&rows=1", "layer=2&rows=1", "layer=0&rows=1&returnAttention=maybe",
                "layer=99999999999&rows=1", "rows=1", "layer=0" }[random.Next(7)];
            return new Probe("bad query", HttpMethod.Post, $"/sessions/{FuzzerId}/decode-step?{query}", () => Raw(new byte[D * sizeof(float)]));
        }

        private Probe TooLarge(Random random)
        {
            var target = ValidJson(random);
            int size = FuzzApiFactory.MaxRequestBytes + 1 + random.Next(4096);
            string padding = new(' ', size);
            return new Probe("too large", target.Method, target.Url, () => Json.Raw(target.Json[..^1] + padding + "}"));
        }

        // Not GET on the POST-only paths: run from a build (not a publish), MapStaticAssets adds a catch-all for files that
        // takes GET and HEAD, so those answer 404 before authentication, keyed or not (still a problem+json, never a 5xx).
        private Probe WrongMethod(Random random) => random.Next(4) switch
        {
            0 => new("wrong method", HttpMethod.Patch, "/encode", () => null),
            1 => new("wrong method", HttpMethod.Patch, $"/sessions/{FuzzerId}", () => Json.Raw("{}")),
            2 => new("wrong method", HttpMethod.Put, "/attention", () => null),
            _ => new("wrong method", HttpMethod.Delete, "/models/demo", () => null),
        };

        private static ByteArrayContent Raw(byte[] bytes)
        {
            var content = new ByteArrayContent(bytes);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            return content;
        }

        /// <summary>Replaces the first matrix value (source or queries) of a body.</summary>
        private static string ReplaceMatrix(string json, string replacement)
        {
            int start = json.IndexOf("[[", StringComparison.Ordinal);
            int end = json.IndexOf("]]", start, StringComparison.Ordinal) + 2;
            return json[..start] + replacement + json[end..];
        }

        private static string ReplaceField(string json, string field, string value)
        {
            int start = json.IndexOf($"\"{field}\":", StringComparison.Ordinal) + field.Length + 3;
            int end = start;
            if (json[end] == '"') end = json.IndexOf('"', end + 1) + 1;
            else while (end < json.Length && json[end] is not (',' or '}')) end++;
            return json[..start] + value + json[end..];
        }

        private static int NthNumberStart(string json, Random random)
        {
            int matrix = json.IndexOf("[[", StringComparison.Ordinal) + 2;
            int count = 0;
            for (int i = matrix; i < json.Length && json[i] != '}'; i++)
                if ((char.IsAsciiDigit(json[i]) || json[i] == '-') && json[i - 1] is '[' or ',') count++;
            int pick = random.Next(Math.Max(1, count)), seen = 0;
            for (int i = matrix; i < json.Length; i++)
                if ((char.IsAsciiDigit(json[i]) || json[i] == '-') && json[i - 1] is '[' or ',' && seen++ == pick) return i;
            return matrix;
        }
    }
}
