using CrossAttention.Api.Features.Attention;
using CrossAttention.Api.Features.Explorer;
using CrossAttention.Api.Features.Health;
using CrossAttention.Api.Features.Models;
using CrossAttention.Api.Features.Sessions;
using CrossAttention.Api.Infrastructure;
using CrossAttention.Api.Swagger;

var builder = WebApplication.CreateBuilder(args);
builder.AddDefaultSettingsFile();
builder.Services.AddCrossAttention();

var app = builder.Build();
app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseCrossAttentionSwagger();

app.MapModels();
app.MapSessions();
app.MapAttention();
app.MapHealth();
app.MapExplorerPage();

app.Run();

/// <summary>Entry point; public so integration tests can host the app.</summary>
public partial class Program;
