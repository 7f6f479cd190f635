using CrossAttention.Api.Options;
using CrossAttention.Core.Kernels;
using CrossAttention.Core.Models;
using Microsoft.Extensions.Options;

namespace CrossAttention.Api.Catalog;

/// <summary>
/// Loads each subfolder of ModelsDirectory in the background, so liveness answers while large checkpoints load;
/// readiness waits for it. A folder that fails is logged and reported, and the others still load.
/// </summary>
public sealed partial class ModelLoadingService(ModelCatalog catalog, IOptions<CrossAttentionOptions> options,
    ILogger<ModelLoadingService> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.Run(() =>
    {
        try
        {
            string? directory = options.Value.ModelsDirectory;
            if (string.IsNullOrWhiteSpace(directory)) return;
            foreach (string folder in Directory.EnumerateDirectories(directory).Order(StringComparer.Ordinal))
            {
                stoppingToken.ThrowIfCancellationRequested();
                string name = Path.GetFileName(folder);
                try
                {
                    var model = ModelLoader.Load(folder, name, options.Value.WeightsTypeFor(name));
                    if (!catalog.TryAdd(model))
                    {
                        string reason = ModelCatalog.BuiltInNames.Contains(name)
                            ? $"a model named '{name}' is already served: '{name}' is a built-in model; rename the folder."
                            : $"a model named '{name}' is already served; rename the folder.";
                        catalog.AddFailure(name, reason);
                        LogDuplicate(name);
                        continue;
                    }
                    LogLoaded(name, model.Family, model.Layers.Count, model.Heads, model.HeadDim, model.WeightsType.Name(),
                        model.WeightBytes);
                }
                catch (ModelLoadException e)
                {
                    catalog.AddFailure(name, e.Message);
                    LogFailed(e, name);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            catalog.AddFailure(options.Value.ModelsDirectory!, e.Message);
            LogFailed(e, options.Value.ModelsDirectory!);
        }
        finally
        {
            catalog.MarkReady();
        }
    }, stoppingToken);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Loaded model {Name} ({Family}, {Layers} layers, {Heads} heads of {HeadDim}, {WeightsDtype} weights of {WeightBytes} bytes)")]
    private partial void LogLoaded(string name, string family, int layers, int heads, int headDim, string weightsDtype, long weightBytes);

    [LoggerMessage(Level = LogLevel.Error, Message = "Model folder {Name} was not loaded: a model of that name is already served")]
    private partial void LogDuplicate(string name);

    [LoggerMessage(Level = LogLevel.Error, Message = "Model folder {Name} was not loaded")]
    private partial void LogFailed(Exception exception, string name);
}
