using Microsoft.Extensions.Hosting;
using Transformation.EventBus;
using Transformation.EventBus.TestHost;

var builder = SampleHost.CreateBuilder(args);
await SampleHost.EnsureEffectTableAsync(builder.Configuration["EventBus:Database"]!);
using var host = builder.Build();
if (await host.TryRunEventBusCommandAsync(args, Console.Out))
{
    return;
}

await host.RunAsync();
