using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace CrossAttention.Pressure.Tests;

/// <summary>The built service run as its own process on a free loopback port, with settings as environment variables.</summary>
public sealed partial class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly Lock _outputLock = new();

    public int Port { get; }
    public Uri BaseAddress => new($"http://127.0.0.1:{Port}");
    public int Id => _process.Id;

    private ServiceProcess(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    /// <summary>Starts the service and waits (bounded) until /health/ready answers 200.</summary>
    public static async Task<ServiceProcess> StartAsync(IDictionary<string, string> environment)
    {
        int port = FreePort();
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(ApiAssemblyPath());
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add($"http://127.0.0.1:{port}");
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        // Each request's start is logged, so a test can see that the server has a request in hand.
        start.Environment["Logging__LogLevel__Microsoft.AspNetCore.Hosting.Diagnostics"] = "Information";
        foreach (var (key, value) in environment) start.Environment[key] = value;
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start dotnet");
        var service = new ServiceProcess(process, port);
        process.OutputDataReceived += (_, e) => service.Append(e.Data);
        process.ErrorDataReceived += (_, e) => service.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var client = new HttpClient { BaseAddress = service.BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (true)
        {
            if (process.HasExited) throw new InvalidOperationException($"the service exited at start-up:\n{service.Output}");
            try
            {
                if ((await client.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK) return service;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"the service was not ready within 90 s:\n{service.Output}");
            await Task.Delay(100);
        }
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_outputLock) _output.AppendLine(line);
    }

    public string Output
    {
        get { lock (_outputLock) return _output.ToString(); }
    }

    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    /// <summary>Peak resident set size so far (VmHWM), in bytes.</summary>
    public long PeakResidentBytes => ReadStatusKiB("VmHWM:") * 1024;

    /// <summary>Resident set size now (VmRSS), in bytes.</summary>
    public long ResidentBytes => ReadStatusKiB("VmRSS:") * 1024;

    private long ReadStatusKiB(string field)
    {
        foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
            if (line.StartsWith(field, StringComparison.Ordinal))
                return long.Parse(line[field.Length..].Trim().Split(' ')[0]);
        throw new InvalidOperationException($"no {field} in /proc/{_process.Id}/status");
    }

    /// <summary>Sends SIGTERM, as the kubelet does when a pod is stopped.</summary>
    public void Terminate()
    {
        if (Kill(_process.Id, 15) != 0) throw new InvalidOperationException($"kill -TERM {_process.Id} failed");
    }

    public Task WaitForExitAsync(TimeSpan timeout) => _process.WaitForExitAsync(new CancellationTokenSource(timeout).Token);

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>src/CrossAttention.Api/bin/Release/net10.0/CrossAttention.Api.dll of this repository (built in Release by this project's BuildServiceInRelease target).</summary>
    private static string ApiAssemblyPath()
    {
        var here = new DirectoryInfo(AppContext.BaseDirectory); // tests/CrossAttention.Pressure.Tests/bin/<Configuration>/net10.0/
        string framework = here.Name, configuration = "Release";
        for (var dir = here; dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "src", "CrossAttention.Api", "bin", configuration, framework, "CrossAttention.Api.dll");
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException($"CrossAttention.Api.dll ({configuration}/{framework}) not found above {here.FullName}; build the solution first.");
    }
}
