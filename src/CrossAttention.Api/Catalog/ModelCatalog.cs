using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using CrossAttention.Api.Infrastructure;
using CrossAttention.Api.Options;
using CrossAttention.Core.Models;
using Microsoft.Extensions.Options;

namespace CrossAttention.Api.Catalog;

/// <summary>
/// Every model the service serves, by name: the demo model at once, then each subfolder of ModelsDirectory as it loads.
/// </summary>
public sealed class ModelCatalog
{
    private readonly ConcurrentDictionary<string, CrossAttentionModel> _models = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _failures = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ModelCatalog(IOptions<CrossAttentionOptions> options)
    {
        var demo = options.Value.Demo;
        if (demo.Enabled)
            TryAdd(DemoModel.Create(demo.Layers, demo.DModel, demo.Heads, weightsType: options.Value.WeightsTypeFor(DemoModel.Name)));
        if (options.Value.Tutorial.Enabled && TryAdd(TutorialModel.Create(options.Value.WeightsTypeFor(TutorialModel.Name))))
            _examples[TutorialModel.Name] = TutorialModel.Example;
    }

    private readonly ConcurrentDictionary<string, ModelExample> _examples = new(StringComparer.Ordinal);

    /// <summary>Names of the built-in models: a model folder may not take one.</summary>
    internal static readonly string[] BuiltInNames = [DemoModel.Name, TutorialModel.Name];

    /// <summary>A labelled source and target to try the model with, for the models that have one.</summary>
    public bool TryGetExample(string name, out ModelExample example) => _examples.TryGetValue(name, out example!);

    /// <summary>True once every configured model folder has been tried.</summary>
    public bool IsReady => _ready.Task.IsCompleted;

    /// <summary>Completes once every configured model folder has been tried.</summary>
    public Task WhenReady => _ready.Task;

    /// <summary>Folders that failed to load, with the reason.</summary>
    public IReadOnlyDictionary<string, string> Failures => _failures;

    public IEnumerable<CrossAttentionModel> All => _models.Values.OrderBy(m => m.Name, StringComparer.Ordinal);

    public bool TryGet(string name, out CrossAttentionModel model) => _models.TryGetValue(name, out model!);

    /// <summary>Finds a served model, or the 404 to answer (saying so when model folders are still loading).</summary>
    public bool TryFind(string name, out CrossAttentionModel model, [NotNullWhen(false)] out NotFoundProblem? missing)
    {
        missing = TryGet(name, out model) ? null : Problems.NotFound("Model not found",
            IsReady
                ? $"No model named '{name}'. GET /models lists the models served."
                : $"No model named '{name}' yet; models are still loading (GET /health/ready).");
        return missing is null;
    }

    /// <summary>Adds a model; false when the name is taken (a folder named like the demo model, say).</summary>
    internal bool TryAdd(CrossAttentionModel model) => _models.TryAdd(model.Name, model);

    internal void AddFailure(string folder, string reason) => _failures[folder] = reason;

    internal void MarkReady() => _ready.TrySetResult();
}
