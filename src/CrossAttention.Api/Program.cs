using CrossAttention.Api.Extensions;
using CrossAttention.Api.Features.Attention;
using CrossAttention.Api.Features.DecodeSteps;
using CrossAttention.Api.Features.Health;
using CrossAttention.Api.Features.Models;
using CrossAttention.Api.Features.Sessions;

var builder = WebApplication.CreateBuilder(args);
builder.AddDefaultSettingsFile();
builder.Services.AddCrossAttention();

var app = builder.Build();
app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseRateLimiter();
app.UseCrossAttentionSwagger();

app.MapModels();
app.MapSessions();
app.MapDecodeSteps();
app.MapAttention();
app.MapHealth();

app.Run();

/// <summary>Entry point; public so integration tests can host the app.</summary>
public partial class Program;
