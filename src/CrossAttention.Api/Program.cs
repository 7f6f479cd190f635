using CrossAttention.Api.Auth;
using CrossAttention.Api.Extensions;
using CrossAttention.Api.Features.Attention;
using CrossAttention.Api.Features.DecodeSteps;
using CrossAttention.Api.Features.Explorer;
using CrossAttention.Api.Features.Health;
using CrossAttention.Api.Features.Models;
using CrossAttention.Api.Features.Sessions;
using CrossAttention.Api.Observability;

var builder = WebApplication.CreateBuilder(args);
builder.AddDefaultSettingsFile();
builder.Services.AddCrossAttention();
builder.Services.AddCrossAttentionAccess();
builder.AddCrossAttentionObservability();

var app = builder.Build();
app.UseRequestPressureLimits();
app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseCrossAttentionMetrics();
app.UseCrossAttentionSwagger();
app.UseCrossAttentionAccess();

app.MapModels();
app.MapSessions();
app.MapDecodeSteps();
app.MapAttention();
app.MapHealth();
app.MapExplorerPage();

app.Run();

/// <summary>Entry point; public so integration tests can host the app.</summary>
public partial class Program;
