using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Transformation.Mail;

public static class Extensions
{
    /// <summary>Runs a <see cref="MailOutboxSender"/> for the outbox in the database <paramref name="open"/> connects to.</summary>
    public static IServiceCollection AddMailOutboxSender(this IServiceCollection services, string section,
        Func<IServiceProvider, MailOptions> options, Func<IServiceProvider, Func<CancellationToken, ValueTask<NpgsqlConnection>>> open) =>
        services.AddHostedService(provider =>
            new MailOutboxSender(open(provider), options(provider), section, provider.GetRequiredService<ILogger<MailOutboxSender>>()));
}
